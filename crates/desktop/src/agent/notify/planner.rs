//! Decides which notifications to show, replace and withdraw as the verified
//! queue changes. Pure (no D-Bus): the notifier carries out its steps.
//!
//! - one notification per approval, never a second one for the same approval;
//! - at most `MOST_ON_SCREEN` at a time: beyond that they fold into one
//!   "N approvals waiting";
//! - an approval no longer pending (decided elsewhere, expired, withdrawn) or
//!   refused loses its notification;
//! - a flood cannot train a person to click: each workflow and rule gets at
//!   most `MOST_PER_SOURCE` notifications of its own per `SOURCE_WINDOW_SECS`
//!   (the rest join the folded one, which has no Approve), and a workflow
//!   reported as suspicious is muted for a while.

use super::notice::{notice, waiting, Notice};
use crate::settings::NotificationSettings;
use heso_approver::view::ItemView;
use std::collections::{BTreeSet, HashMap, HashSet};

pub const MOST_ON_SCREEN: usize = 3;
pub const MOST_PER_SOURCE: usize = 3;
pub const SOURCE_WINDOW_SECS: i64 = 600;

/// Where a notification stands: one approval's, or the folded one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    Item(String),
    Waiting,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Show, or replace what the slot shows.
    Show(Slot, Notice),
    Withdraw(Slot),
}

/// One pending approval as the planner needs it.
pub struct Pending<'a> {
    pub action_hash: &'a str,
    /// `None`: refused by verification, never offered.
    pub view: Option<&'a ItemView>,
}

#[derive(Debug, Default)]
pub struct Planner {
    seen: HashSet<String>,
    shown: BTreeSet<String>,
    folded: BTreeSet<String>,
    waiting_shown: bool,
    /// When each (workflow, rule) last had notifications of its own.
    recent: HashMap<(String, String), Vec<i64>>,
}

impl Planner {
    /// `pending` is newest first, as the queue lists it.
    pub fn update(&mut self, pending: &[Pending], settings: &NotificationSettings) -> Vec<Step> {
        self.update_at(pending, settings, heso_approver::clock::now_unix())
    }

    /// Whether one more notification of its own fits this source's budget
    /// at `now`; if so, it is counted.
    fn within_budget(&mut self, view: &ItemView, now: i64) -> bool {
        let times = self
            .recent
            .entry((view.workflow.clone(), view.rule_id.clone()))
            .or_default();
        times.retain(|t| now - t < SOURCE_WINDOW_SECS);
        let fits = times.len() < MOST_PER_SOURCE;
        if fits {
            times.push(now);
        }
        fits
    }

    /// `update` at a given time (Unix seconds).
    pub fn update_at(
        &mut self,
        pending: &[Pending],
        settings: &NotificationSettings,
        now: i64,
    ) -> Vec<Step> {
        // A muted workflow's approvals stay in the queue, off the screen.
        let live: HashSet<&str> = pending
            .iter()
            .filter(|p| p.view.is_some_and(|v| !settings.is_muted(&v.workflow, now)))
            .map(|p| p.action_hash)
            .collect();
        let mut steps = Vec::new();

        let gone: Vec<String> = self
            .shown
            .iter()
            .filter(|h| !live.contains(h.as_str()))
            .cloned()
            .collect();
        for hash in gone {
            self.shown.remove(&hash);
            steps.push(Step::Withdraw(Slot::Item(hash)));
        }
        let folded_before = self.folded.len();
        self.folded.retain(|h| live.contains(h.as_str()));
        let folded_changed = self.folded.len() != folded_before;

        // Remember only what is still listed: a decided approval never returns.
        let listed: HashSet<&str> = pending.iter().map(|p| p.action_hash).collect();
        self.seen.retain(|h| listed.contains(h.as_str()));

        let fresh: Vec<&Pending> = pending
            .iter()
            .rev()
            .filter(|p| live.contains(p.action_hash) && !self.seen.contains(p.action_hash))
            .collect();
        for p in &fresh {
            self.seen.insert(p.action_hash.to_owned());
        }
        let fresh: Vec<&Pending> = if settings.enabled { fresh } else { Vec::new() };

        let fold = self.waiting_shown || self.shown.len() + fresh.len() > MOST_ON_SCREEN;
        if !fresh.is_empty() && fold {
            for hash in std::mem::take(&mut self.shown) {
                steps.push(Step::Withdraw(Slot::Item(hash.clone())));
                self.folded.insert(hash);
            }
            self.folded
                .extend(fresh.iter().map(|p| p.action_hash.to_owned()));
        } else {
            for p in fresh {
                let view = p.view.expect("live items are verified");
                if !self.within_budget(view, now) {
                    self.folded.insert(p.action_hash.to_owned());
                    continue;
                }
                self.shown.insert(p.action_hash.to_owned());
                steps.push(Step::Show(
                    Slot::Item(p.action_hash.to_owned()),
                    notice(view, settings),
                ));
            }
        }

        let folded_grew = self.folded.len() > folded_before;
        if self.folded.is_empty() {
            if self.waiting_shown {
                self.waiting_shown = false;
                steps.push(Step::Withdraw(Slot::Waiting));
            }
        } else if folded_grew || (folded_changed && self.waiting_shown) {
            self.waiting_shown = true;
            steps.push(Step::Show(Slot::Waiting, waiting(self.folded.len())));
        }
        steps
    }

    /// The user dismissed it, it timed out, or it was acted on: it is no
    /// longer on screen and is not shown again.
    pub fn closed(&mut self, slot: &Slot) {
        match slot {
            Slot::Item(hash) => {
                self.shown.remove(hash);
            }
            Slot::Waiting => {
                self.folded.clear();
                self.waiting_shown = false;
            }
        }
    }

    /// The server could not show it: forget it was shown, so the next look
    /// at the queue offers it again.
    pub fn show_failed(&mut self, slot: &Slot) {
        match slot {
            Slot::Item(hash) => {
                self.shown.remove(hash);
                self.seen.remove(hash);
            }
            Slot::Waiting => {
                for hash in std::mem::take(&mut self.folded) {
                    self.seen.remove(&hash);
                }
                self.waiting_shown = false;
            }
        }
    }

    /// Notifications turned off, or no enrolled session: withdraw them all.
    /// What was seen stays seen.
    pub fn withdraw_all(&mut self) -> Vec<Step> {
        let mut steps: Vec<Step> = std::mem::take(&mut self.shown)
            .into_iter()
            .map(|hash| Step::Withdraw(Slot::Item(hash)))
            .collect();
        self.folded.clear();
        if std::mem::take(&mut self.waiting_shown) {
            steps.push(Step::Withdraw(Slot::Waiting));
        }
        steps
    }

    /// How many notifications for approvals are on screen now.
    #[cfg(test)]
    pub fn on_screen(&self) -> usize {
        self.shown.len() + usize::from(self.waiting_shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::notify::notice::tests::payment;

    fn views(n: usize) -> Vec<ItemView> {
        (0..n)
            .map(|i| {
                let mut v = payment(&format!("{}", 1000 + i));
                v.action_hash = format!("{i:064x}");
                v
            })
            .collect()
    }

    /// Newest first, like the queue.
    fn pending(views: &[ItemView]) -> Vec<Pending<'_>> {
        views
            .iter()
            .rev()
            .map(|v| Pending {
                action_hash: &v.action_hash,
                view: Some(v),
            })
            .collect()
    }

    fn shows(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Show(_, n) => Some(n.summary.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn each_approval_is_notified_once_oldest_first() {
        let all = views(2);
        let settings = NotificationSettings::default();
        let mut planner = Planner::default();
        let steps = planner.update(&pending(&all[..1]), &settings);
        assert_eq!(
            shows(&steps),
            ["Approve payment of 1,000 USD to Globex LLC?"]
        );
        let steps = planner.update(&pending(&all), &settings);
        assert_eq!(
            shows(&steps),
            ["Approve payment of 1,001 USD to Globex LLC?"]
        );
        assert!(planner.update(&pending(&all), &settings).is_empty());
        // Dismissed by the user: gone from the screen, still not shown again.
        planner.closed(&Slot::Item(all[0].action_hash.clone()));
        assert!(planner.update(&pending(&all), &settings).is_empty());
        assert_eq!(planner.on_screen(), 1);
    }

    #[test]
    fn a_burst_folds_into_one_waiting_notification() {
        let all = views(6);
        let settings = NotificationSettings::default();
        let mut planner = Planner::default();
        let steps = planner.update(&pending(&all[..2]), &settings);
        assert_eq!(shows(&steps).len(), 2);
        // Two more would make four on screen: all fold into one.
        let steps = planner.update(&pending(&all[..4]), &settings);
        assert_eq!(
            steps
                .iter()
                .filter(|s| matches!(s, Step::Withdraw(Slot::Item(_))))
                .count(),
            2
        );
        assert_eq!(shows(&steps), ["4 approvals waiting"]);
        assert_eq!(planner.on_screen(), 1);
        // While it shows, newcomers join it.
        let steps = planner.update(&pending(&all), &settings);
        assert_eq!(shows(&steps), ["6 approvals waiting"]);
        // Decided elsewhere: the count goes down, then the notification goes.
        let steps = planner.update(&pending(&all[4..]), &settings);
        assert_eq!(shows(&steps), ["2 approvals waiting"]);
        let steps = planner.update(&[], &settings);
        assert_eq!(steps, [Step::Withdraw(Slot::Waiting)]);
        assert_eq!(planner.on_screen(), 0);
    }

    #[test]
    fn a_first_look_at_a_long_queue_is_one_notification() {
        let all = views(10);
        let mut planner = Planner::default();
        let steps = planner.update(&pending(&all), &NotificationSettings::default());
        assert_eq!(shows(&steps), ["10 approvals waiting"]);
        assert_eq!(steps.len(), 1);
    }

    #[test]
    fn decided_and_refused_items_lose_their_notification() {
        let all = views(3);
        let settings = NotificationSettings::default();
        let mut planner = Planner::default();
        planner.update(&pending(&all), &settings);
        let mut now = pending(&all);
        now[0].view = None;
        now.pop();
        let steps = planner.update(&now, &settings);
        let mut withdrawn: Vec<_> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Withdraw(Slot::Item(h)) => Some(h.clone()),
                _ => None,
            })
            .collect();
        withdrawn.sort();
        assert_eq!(
            withdrawn,
            [all[0].action_hash.clone(), all[2].action_hash.clone()]
        );
        assert_eq!(planner.on_screen(), 1);
        assert_eq!(
            planner.withdraw_all(),
            [Step::Withdraw(Slot::Item(all[1].action_hash.clone()))]
        );
        assert_eq!(planner.on_screen(), 0);
    }

    #[test]
    fn what_could_not_be_shown_is_offered_again() {
        let all = views(1);
        let settings = NotificationSettings::default();
        let mut planner = Planner::default();
        assert_eq!(shows(&planner.update(&pending(&all), &settings)).len(), 1);
        planner.show_failed(&Slot::Item(all[0].action_hash.clone()));
        assert_eq!(shows(&planner.update(&pending(&all), &settings)).len(), 1);
    }

    #[test]
    fn refused_items_and_disabled_notifications_show_nothing() {
        let all = views(2);
        let mut planner = Planner::default();
        let mut refused = pending(&all);
        refused[0].view = None;
        let steps = planner.update(&refused, &NotificationSettings::default());
        assert_eq!(shows(&steps).len(), 1);
        let off = NotificationSettings {
            enabled: false,
            ..NotificationSettings::default()
        };
        let mut planner = Planner::default();
        assert!(planner.update(&pending(&all), &off).is_empty());
        // Turning them on later does not replay what was already pending.
        assert!(planner
            .update(&pending(&all), &NotificationSettings::default())
            .is_empty());
    }

    #[test]
    fn a_flooding_source_gets_a_few_notifications_then_folds() {
        let all = views(5);
        let settings = NotificationSettings::default();
        let mut planner = Planner::default();
        let mut shown = 0;
        for (i, view) in all.iter().enumerate() {
            let steps = planner.update_at(&pending(&all[..=i]), &settings, 1_000);
            shown += shows(&steps)
                .iter()
                .filter(|s| s.starts_with("Approve"))
                .count();
            // Dismissed at once, as a busy person does: the screen is free again.
            planner.closed(&Slot::Item(view.action_hash.clone()));
        }
        assert_eq!(shown, MOST_PER_SOURCE);
        assert_eq!(planner.on_screen(), 1, "the rest wait in the folded one");
    }

    #[test]
    fn the_budget_comes_back_after_the_window() {
        let all = views(5);
        let settings = NotificationSettings::default();
        let mut planner = Planner::default();
        for (i, view) in all[..3].iter().enumerate() {
            planner.update_at(&pending(&all[..=i]), &settings, 1_000);
            planner.closed(&Slot::Item(view.action_hash.clone()));
        }
        let later = 1_000 + SOURCE_WINDOW_SECS;
        let steps = planner.update_at(&pending(&all[..4]), &settings, later);
        assert_eq!(
            shows(&steps),
            ["Approve payment of 1,003 USD to Globex LLC?"]
        );
    }

    #[test]
    fn a_muted_workflow_draws_no_notification() {
        let all = views(2);
        let mut settings = NotificationSettings::default();
        settings.muted_workflows.insert("payouts".into(), 2_000);
        let mut planner = Planner::default();
        assert!(planner
            .update_at(&pending(&all), &settings, 1_000)
            .is_empty());
        // Muted after it was shown: it is withdrawn.
        let mut planner = Planner::default();
        let open = NotificationSettings::default();
        assert_eq!(
            shows(&planner.update_at(&pending(&all), &open, 1_000)).len(),
            2
        );
        let steps = planner.update_at(&pending(&all), &settings, 1_001);
        assert_eq!(steps.len(), 2);
        assert!(steps.iter().all(|s| matches!(s, Step::Withdraw(_))));
    }
}
