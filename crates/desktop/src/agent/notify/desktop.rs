//! The desktop side of notifications: shows, replaces and withdraws them
//! through `notify-rust`, and reports what the person did with each one
//! (a button, a click, or closing it) as an `Event`.

use super::notice::Notice;
use super::planner::Slot;
use notify_rust::{Hint, Notification, NotificationHandle, NotificationResponse, Timeout};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

const APP_NAME: &str = "HESO Approver";
/// How long a confirmation stays up.
const FOLLOW_UP_MS: u32 = 6000;

#[derive(Debug)]
pub enum Response {
    /// An action key (see `notice`); a click on the notification is `default`.
    Action(String),
    Closed,
}

#[derive(Debug)]
pub struct Event {
    pub slot: Slot,
    /// The server's id for the notification answered, so that an answer from
    /// one since replaced is told apart.
    pub id: u32,
    pub response: Response,
}

pub struct Desktop {
    shown: HashMap<Slot, Arc<NotificationHandle>>,
    events: UnboundedSender<Event>,
    markup: Markup,
}

/// Which texts the server reads as markup, to escape them before sending.
#[derive(Debug, Clone, Copy)]
pub struct Markup {
    body: bool,
    /// Dunst reads summaries as markup too (against the specification):
    /// unescaped, a payee like `<img ...>` would be swallowed, not shown.
    summary: bool,
}

impl Markup {
    /// Asks the server (a blocking D-Bus call).
    fn of_server() -> Markup {
        Markup {
            body: notify_rust::get_capabilities()
                .map(|caps| caps.iter().any(|c| c == "body-markup"))
                .unwrap_or(true),
            summary: notify_rust::get_server_information()
                .map(|server| server.name == "dunst")
                .unwrap_or(false),
        }
    }

    /// A notification from this app with `summary` and `body`, escaped as
    /// the server needs.
    fn notification(&self, summary: &str, body: &str) -> Notification {
        let escaped = |on: bool, text: &str| {
            if on {
                escape_markup(text)
            } else {
                text.to_owned()
            }
        };
        let mut n = Notification::new();
        n.appname(APP_NAME)
            .summary(&escaped(self.summary, summary))
            .body(&escaped(self.body, body))
            .hint(Hint::DesktopEntry("heso-approver-app".into()));
        n
    }
}

/// `<`, `>` and `&` as entities, for servers that read text as markup: an
/// action's text is shown, never interpreted.
pub fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

/// A short confirmation with no buttons.
pub async fn tell(markup: Markup, summary: &str, body: &str) {
    let shown = markup
        .notification(summary, body)
        .hint(Hint::Transient(true))
        .timeout(Timeout::Milliseconds(FOLLOW_UP_MS))
        .show_async()
        .await;
    if let Err(e) = shown {
        eprintln!("heso-approver-agent: cannot show a notification: {e}");
    }
}

impl Desktop {
    /// Asks the server what it renders: a blocking call, run it off the runtime.
    pub fn new(events: UnboundedSender<Event>) -> Desktop {
        Desktop {
            shown: HashMap::new(),
            events,
            markup: Markup::of_server(),
        }
    }

    pub fn markup(&self) -> Markup {
        self.markup
    }

    /// Shows `notice` in `slot`, taking the place of what the slot showed.
    pub async fn show(&mut self, slot: Slot, notice: &Notice) -> Result<(), String> {
        self.withdraw(&slot).await;
        let mut n = self.markup.notification(&notice.summary, &notice.body);
        n.hint(Hint::Category("x-heso.approval".into()))
            // An approval waits for a person: it stays until decided or withdrawn.
            .timeout(Timeout::Never);
        for (key, label) in &notice.actions {
            n.action(key, label);
        }
        let handle = Arc::new(n.show_async().await.map_err(|e| e.to_string())?);
        let id = handle.id();
        self.shown.insert(slot.clone(), handle.clone());
        let events = self.events.clone();
        tokio::spawn(async move {
            handle
                .wait_for_action_async(|response| {
                    let response = match response {
                        NotificationResponse::Default => Response::Action("default".into()),
                        NotificationResponse::Action(key) => Response::Action(key.clone()),
                        _ => Response::Closed,
                    };
                    let _ = events.send(Event { slot, id, response });
                })
                .await;
        });
        Ok(())
    }

    pub async fn withdraw(&mut self, slot: &Slot) {
        if let Some(handle) = self.shown.remove(slot) {
            handle.close_async().await;
        }
    }

    /// The notification in `slot` is gone (acted on or closed), if `id` is
    /// still the one the slot shows; answers whether it was.
    pub fn forget(&mut self, slot: &Slot, id: u32) -> bool {
        match self.shown.get(slot) {
            Some(handle) if handle.id() == id => {
                self.shown.remove(slot);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_in_action_text_is_escaped() {
        assert_eq!(
            super::escape_markup("<img src=x onerror=alert(1)> & <b>"),
            "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;"
        );
    }
}
