//! The tray icon, as a StatusNotifierItem over D-Bus (no GTK): the pending
//! count in its title, tooltip and menu, Open and Quit. Hosts that show no
//! such items (or none running) cost nothing: the agent runs without it.

use super::Agent;
use ksni::menu::StandardItem;
use ksni::{MenuItem, ToolTip, Tray, TrayMethods as _};
use std::sync::{Arc, Weak};

pub struct AgentTray {
    agent: Weak<Agent>,
    pending: u64,
}

pub type TrayHandle = ksni::Handle<AgentTray>;

/// Puts the icon up; `None` when there is no session bus or no tray host
/// (said on stderr when `report`).
pub async fn start(agent: &Arc<Agent>, report: bool) -> Option<TrayHandle> {
    let tray = AgentTray {
        agent: Arc::downgrade(agent),
        pending: 0,
    };
    match tray.spawn().await {
        Ok(handle) => Some(handle),
        Err(e) => {
            if report {
                eprintln!("heso-approver-agent: no tray icon yet (tried again every 30 s): {e}");
            }
            None
        }
    }
}

/// Shows the new count.
pub async fn show_pending(handle: &TrayHandle, pending: u64) {
    handle.update(|tray| tray.pending = pending).await;
}

pub fn describe(pending: u64) -> String {
    match pending {
        0 => "No pending approvals".into(),
        1 => "1 pending approval".into(),
        n => format!("{n} pending approvals"),
    }
}

impl Tray for AgentTray {
    fn id(&self) -> String {
        "heso-approver".into()
    }

    fn title(&self) -> String {
        match self.pending {
            0 => "HESO Approver".into(),
            n => format!("HESO Approver ({n})"),
        }
    }

    fn icon_name(&self) -> String {
        "heso-approver".into()
    }

    fn tool_tip(&self) -> ToolTip {
        ToolTip {
            title: format!("HESO Approver: {}", describe(self.pending)),
            ..Default::default()
        }
    }

    // A click on the icon (where the host sends one) opens the window.
    fn activate(&mut self, _x: i32, _y: i32) {
        if let Some(agent) = self.agent.upgrade() {
            agent.open_window(None);
        }
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        vec![
            StandardItem {
                label: describe(self.pending),
                enabled: false,
                ..Default::default()
            }
            .into(),
            StandardItem {
                label: "Open HESO Approver".into(),
                activate: Box::new(|tray: &mut Self| {
                    if let Some(agent) = tray.agent.upgrade() {
                        agent.open_window(None);
                    }
                }),
                ..Default::default()
            }
            .into(),
            MenuItem::Separator,
            StandardItem {
                label: "Quit".into(),
                activate: Box::new(|tray: &mut Self| {
                    if let Some(agent) = tray.agent.upgrade() {
                        agent.quit();
                    }
                }),
                ..Default::default()
            }
            .into(),
        ]
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_count_reads_naturally() {
        assert_eq!(super::describe(0), "No pending approvals");
        assert_eq!(super::describe(1), "1 pending approval");
        assert_eq!(super::describe(12), "12 pending approvals");
    }
}
