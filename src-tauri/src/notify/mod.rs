//! Desktop notifications for verified approvals: a task that follows the
//! queue, shows what the planner decides, and carries out what the person
//! chose on a notification through the same decision path as the window.

mod desktop;
pub mod notice;
mod planner;

use crate::decision;
use crate::state::AppState;
use crate::window;
use desktop::{Desktop, Event, Response};
use heso_approver::clock::has_passed;
use heso_approver::view::ItemView;
use heso_approver::watch::QueueState;
use heso_receipt::Decision;
use notice::{notice, APPROVE, CLICK, OPEN, REJECT};
use planner::{Pending, Planner, Slot, Step};
use std::sync::Arc;
use tauri::{AppHandle, Manager};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

const EXPIRY_CHECK: std::time::Duration = std::time::Duration::from_secs(20);

/// Tells the notifier that the queue changed. Lives as long as the app, so
/// what was notified survives a session restart (new settings, re-enrolment).
#[derive(Clone)]
pub struct Notifier {
    nudge: UnboundedSender<()>,
}

impl Notifier {
    pub fn queue_changed(&self) {
        let _ = self.nudge.send(());
    }
}

/// Starts the notifier task for the app's lifetime.
pub fn start(app: &AppHandle) -> Notifier {
    let (nudge, nudges) = unbounded_channel();
    tauri::async_runtime::spawn(run(app.clone(), nudges));
    Notifier { nudge }
}

async fn run(app: AppHandle, mut nudges: UnboundedReceiver<()>) {
    let (events_tx, mut events) = unbounded_channel();
    let desktop = tokio::task::spawn_blocking(move || Desktop::new(events_tx)).await;
    let Ok(mut desktop) = desktop else { return };
    let mut planner = Planner::default();
    // Approvals expire without the queue changing: look again now and then.
    let mut expiry_check = tokio::time::interval(EXPIRY_CHECK);
    loop {
        tokio::select! {
            _ = expiry_check.tick() => {
                follow_queue(&app, &mut planner, &mut desktop).await;
            }
            nudge = nudges.recv() => {
                if nudge.is_none() { return; }
                while nudges.try_recv().is_ok() {}
                follow_queue(&app, &mut planner, &mut desktop).await;
            }
            Some(event) = events.recv() => {
                answer(&app, &mut planner, &mut desktop, event).await;
            }
        }
    }
}

/// The current verified queue and notification settings, if enrolled.
async fn current(app: &AppHandle) -> Option<(QueueState, crate::settings::NotificationSettings)> {
    let state = app.state::<AppState>();
    let inner = state.inner.lock().await;
    let session = inner.session.as_ref()?;
    let queue = session.queue.borrow().clone();
    Some((queue, inner.settings.notifications.clone()))
}

async fn follow_queue(app: &AppHandle, planner: &mut Planner, desktop: &mut Desktop) {
    let Some((queue, settings)) = current(app).await else {
        return;
    };
    if queue.refreshes == 0 {
        return;
    }
    let pending: Vec<Pending> = queue
        .entries
        .iter()
        .map(|e| Pending {
            action_hash: &e.action_hash,
            view: e.view.as_deref(),
            expired: has_passed(&e.sla_deadline),
        })
        .collect();
    for step in planner.update(&pending, &settings) {
        match step {
            Step::Show(slot, notice) => {
                if let Err(e) = desktop.show(slot, &notice).await {
                    eprintln!("heso-approver-app: cannot show a notification: {e}");
                }
            }
            Step::Withdraw(slot) => desktop.withdraw(&slot).await,
        }
    }
}

/// The verified view of a pending approval, as the queue holds it now.
async fn verified_view(app: &AppHandle, hash: &str) -> Option<Arc<ItemView>> {
    let (queue, _) = current(app).await?;
    queue
        .entries
        .into_iter()
        .find(|e| e.action_hash == hash)
        .and_then(|e| e.view)
}

async fn answer(app: &AppHandle, planner: &mut Planner, desktop: &mut Desktop, event: Event) {
    if !desktop.forget(&event.slot, event.id) {
        return; // An answer from a notification since replaced or withdrawn.
    }
    planner.closed(&event.slot);
    let Response::Action(key) = event.response else {
        return;
    };
    let hash = match &event.slot {
        Slot::Item(hash) => hash.clone(),
        Slot::Waiting => {
            window::reveal(app, None);
            return;
        }
    };
    match key.as_str() {
        APPROVE => decide(app, desktop, &hash, Decision::Approved).await,
        REJECT => decide(app, desktop, &hash, Decision::Rejected).await,
        OPEN | CLICK => window::reveal(app, Some(&hash)),
        _ => {}
    }
}

/// Approve or reject from a notification: only an item still pending and
/// verified, and approve only where the settings allow it now.
async fn decide(app: &AppHandle, desktop: &Desktop, hash: &str, decision: Decision) {
    let verb = if decision == Decision::Approved {
        "Approved"
    } else {
        "Rejected"
    };
    let Some(view) = verified_view(app, hash).await else {
        desktop
            .tell("Nothing was signed", "This approval is no longer pending.")
            .await;
        return;
    };
    let Some((_, settings)) = current(app).await else {
        return;
    };
    if decision == Decision::Approved && !notice(&view, &settings).offers(APPROVE) {
        // Settings changed since the notification was shown.
        window::reveal(app, Some(hash));
        return;
    }
    let approver = {
        let state = app.state::<AppState>();
        let inner = state.inner.lock().await;
        match inner.session.as_ref() {
            Some(session) => session.approver.clone(),
            None => return,
        }
    };
    match decision::decide(&approver, hash, decision, "").await {
        Ok(result) if result.outcome != "refused" => {
            desktop
                .tell(
                    &format!("{verb}: {}", notice::one_line(&view.summary)),
                    &result.message,
                )
                .await
        }
        Ok(result) => desktop.tell("Not recorded", &result.message).await,
        Err(e) => desktop.tell("Nothing was signed", &e).await,
    }
}
