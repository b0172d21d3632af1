//! Desktop notifications for verified approvals: a task that follows the
//! queue, shows what the planner decides, and carries out what the person
//! chose on a notification through the same decision path as the window.

mod desktop;
pub mod notice;
mod planner;

use super::Agent;
use crate::decision::{self, Outcome};
use crate::settings::NotificationSettings;
use desktop::{tell, Desktop, Event, Markup, Response};
use heso_approver::view::ItemView;
use heso_approver::watch::QueueState;
use heso_receipt::Decision;
use notice::{notice, parse_key, subject, APPROVE, CLICK, OPEN, REJECT};
use planner::{Pending, Planner, Slot, Step};
use std::sync::Arc;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::{oneshot, watch};

/// Tells the notifier that the queue or the settings changed. Lives as long
/// as the agent, so what was notified survives a session restart (new
/// settings, re-enrolment).
#[derive(Clone)]
pub struct Notifier {
    nudge: UnboundedSender<Nudge>,
}

pub enum Nudge {
    Changed,
    /// Withdraw everything shown, then say so (the agent is stopping).
    WithdrawAll(oneshot::Sender<()>),
}

impl Notifier {
    pub fn changed(&self) {
        let _ = self.nudge.send(Nudge::Changed);
    }

    /// Withdraws every notification, waiting (a few seconds at most) until done.
    pub async fn withdraw_all(&self) {
        let (done, withdrawn) = oneshot::channel();
        if self.nudge.send(Nudge::WithdrawAll(done)).is_ok() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), withdrawn).await;
        }
    }
}

/// A notifier and the receiving end its task (`run`) takes.
pub fn channel() -> (Notifier, UnboundedReceiver<Nudge>) {
    let (nudge, nudges) = unbounded_channel();
    (Notifier { nudge }, nudges)
}

/// The notifier task, for the agent's lifetime.
pub async fn run(app: Arc<Agent>, mut nudges: UnboundedReceiver<Nudge>) {
    let (events_tx, mut events) = unbounded_channel();
    let desktop = tokio::task::spawn_blocking(move || Desktop::new(events_tx)).await;
    let Ok(mut desktop) = desktop else { return };
    let mut planner = Planner::default();
    loop {
        tokio::select! {
            nudge = nudges.recv() => match nudge {
                None => return,
                Some(Nudge::WithdrawAll(done)) => {
                    let steps = planner.withdraw_all();
                    carry_out(&mut desktop, &mut planner, steps).await;
                    let _ = done.send(());
                }
                Some(Nudge::Changed) => {
                    follow_queue(&app, &mut planner, &mut desktop).await;
                }
            },
            Some(event) = events.recv() => {
                answer(&app, &mut planner, &mut desktop, event).await;
            }
        }
    }
}

/// One look at the session: its verified queue (read in place, not copied:
/// it may hold 20,000 entries), the notification settings and the approver;
/// `None` when no device is enrolled.
struct Snapshot {
    queue: watch::Receiver<QueueState>,
    settings: NotificationSettings,
    approver: Arc<tokio::sync::Mutex<heso_approver::workflow::Approver>>,
}

async fn snapshot(app: &Agent) -> Option<Snapshot> {
    let inner = app.inner.lock().await;
    let session = inner.session.as_ref()?;
    Some(Snapshot {
        queue: session.queue.clone(),
        settings: inner.settings.notifications.clone(),
        approver: session.approver.clone(),
    })
}

async fn carry_out(desktop: &mut Desktop, planner: &mut Planner, steps: Vec<Step>) {
    for step in steps {
        match step {
            Step::Show(slot, notice) => {
                if let Err(e) = desktop.show(slot.clone(), &notice).await {
                    eprintln!("heso-approver-agent: cannot show a notification: {e}");
                    planner.show_failed(&slot);
                }
            }
            Step::Withdraw(slot) => desktop.withdraw(&slot).await,
        }
    }
}

async fn follow_queue(app: &Agent, planner: &mut Planner, desktop: &mut Desktop) {
    // Not enrolled, or notifications turned off: none stay up.
    let Some(now) = snapshot(app).await.filter(|now| now.settings.enabled) else {
        let steps = planner.withdraw_all();
        return carry_out(desktop, planner, steps).await;
    };
    let steps = {
        let queue = now.queue.borrow();
        if queue.refreshes == 0 {
            return;
        }
        let pending: Vec<Pending> = queue
            .entries
            .iter()
            .map(|e| Pending {
                action_hash: &e.action_hash,
                view: e.view.as_deref(),
            })
            .collect();
        planner.update(&pending, &now.settings)
    };
    carry_out(desktop, planner, steps).await;
}

async fn answer(app: &Arc<Agent>, planner: &mut Planner, desktop: &mut Desktop, event: Event) {
    let Response::Action(key) = &event.response else {
        if desktop.forget(&event.slot, event.id) {
            planner.closed(&event.slot);
        }
        return;
    };
    let (verb, named) = parse_key(key);
    // A press counts only on the notification the slot shows now, and only
    // for the approval that notification was shown for.
    let current = desktop.forget(&event.slot, event.id);
    let hash = match &event.slot {
        Slot::Item(hash) if current && named.is_none_or(|n| n == hash) => hash.clone(),
        Slot::Waiting if current => {
            planner.closed(&event.slot);
            return app.open_window(None);
        }
        _ => {
            if verb == APPROVE || verb == REJECT {
                let why = "That notification was out of date.";
                tell(desktop.markup(), "Nothing was signed", why).await;
            }
            return;
        }
    };
    planner.closed(&event.slot);
    // A decision may wait on the network: it runs on its own, so other
    // notifications keep coming and going meanwhile.
    let decision = match verb {
        APPROVE => Decision::Approved,
        REJECT => Decision::Rejected,
        OPEN | CLICK => return app.open_window(Some(&hash)),
        _ => return,
    };
    let (app, markup) = (app.clone(), desktop.markup());
    tokio::spawn(async move { decide(&app, markup, &hash, decision).await });
}

/// Approve or reject from a notification: only an item still pending and
/// verified, and approve only where the settings allow it at this moment.
/// `Approver::decide` then fetches and verifies it again and signs only a
/// receipt with this very hash, so what is signed is what was shown.
async fn decide(app: &Agent, markup: Markup, hash: &str, decision: Decision) {
    let Some(now) = snapshot(app).await else {
        return;
    };
    let view: Option<Arc<ItemView>> = now
        .queue
        .borrow()
        .entries
        .iter()
        .find(|e| e.action_hash == hash)
        .and_then(|e| e.view.clone());
    let Some(view) = view else {
        tell(
            markup,
            "Nothing was signed",
            "This approval is no longer pending.",
        )
        .await;
        return;
    };
    if decision == Decision::Approved && !notice(&view, &now.settings).offers(APPROVE) {
        // The settings changed since the notification was shown.
        app.open_window(Some(hash));
        return;
    }
    let subject = subject(&view);
    match decision::decide(&now.approver, hash, decision, "").await {
        Ok(result) if result.outcome != Outcome::Refused => {
            tell(
                markup,
                &format!("{}: {subject}", decision::past_tense(decision)),
                &result.message,
            )
            .await
        }
        Ok(result) => tell(markup, "Not recorded", &result.message).await,
        Err(e) => tell(markup, "Could not complete the decision", &e).await,
    }
}
