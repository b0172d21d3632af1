//! Per-org change counters that wake long-polling approvers.

use crate::store::OrgId;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::watch;

#[derive(Default)]
pub struct Changes {
    orgs: Mutex<HashMap<OrgId, watch::Sender<u64>>>,
}

impl Changes {
    fn sender(&self, org: OrgId) -> watch::Sender<u64> {
        let mut orgs = self.orgs.lock().unwrap_or_else(|p| p.into_inner());
        orgs.entry(org)
            .or_insert_with(|| watch::channel(0).0)
            .clone()
    }

    /// Something approvers see changed (an approval became visible or was decided).
    pub fn bump(&self, org: OrgId) {
        self.sender(org).send_modify(|v| *v += 1);
    }

    pub fn subscribe(&self, org: OrgId) -> watch::Receiver<u64> {
        self.sender(org).subscribe()
    }
}
