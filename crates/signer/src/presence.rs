//! The person at the desk: polkit's CheckAuthorization on the caller's bus
//! name, with the verified summary as the prompt's message. The desktop's
//! authentication agent draws the prompt; no program of the same user can
//! draw or answer it without the person's password or fingerprint.
//!
//! Prompts that end without a yes (dismissed, failed, no agent) are counted
//! per desktop user and per client: past `UNANSWERED_LIMIT` in
//! `UNANSWERED_WINDOW`, further requests are refused without prompting, so an
//! agent cannot prompt-bomb the person into a yes. A yes counts nothing, so
//! a person approving several items in a row is not slowed. One prompt is
//! open per desktop user at a time.

use crate::caller::Caller;
use crate::service::SignerError;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use zbus::message::Header;
use zbus_polkit::policykit1::{AuthorityProxy, CheckAuthorizationFlags, Subject};

pub const UNANSWERED_LIMIT: usize = 3;
pub const UNANSWERED_WINDOW: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Prompts {
    unanswered: Mutex<HashMap<String, VecDeque<Instant>>>,
    open: Mutex<HashSet<u32>>,
}

/// The counters a caller's prompts go to.
fn counters(caller: &Caller) -> [String; 2] {
    [
        format!("user:{}", caller.uid),
        format!("client:{}:{}", caller.uid, caller.pid),
    ]
}

/// Marks a prompt open for a user; closed when dropped.
struct OpenPrompt<'a> {
    prompts: &'a Prompts,
    uid: u32,
}

impl Drop for OpenPrompt<'_> {
    fn drop(&mut self) {
        let mut open = self.prompts.open.lock().unwrap_or_else(|p| p.into_inner());
        open.remove(&self.uid);
    }
}

impl Prompts {
    /// Asks the person through polkit; `Ok` only for an authorized answer.
    pub async fn confirm(
        &self,
        connection: &zbus::Connection,
        header: &Header<'_>,
        caller: &Caller,
        action: &str,
        message: &str,
    ) -> Result<(), SignerError> {
        let keys = counters(caller);
        if let Some(wait) = self.held_back(&keys) {
            return Err(SignerError::RateLimited(format!(
                "{UNANSWERED_LIMIT} prompts ended without a yes in the last minute; nothing is asked or signed for {} s",
                wait.as_secs().max(1)
            )));
        }
        let _open = self.open_for(caller.uid)?;
        let answer = ask(connection, header, action, message).await;
        match answer {
            Ok(true) => Ok(()),
            Ok(false) => {
                self.count_unanswered(&keys);
                Err(SignerError::NotAuthorized(
                    "the person did not confirm at the system prompt (dismissed, wrong password, or no authentication agent to ask)".into(),
                ))
            }
            Err(e) => {
                self.count_unanswered(&keys);
                Err(SignerError::NotAuthorized(format!(
                    "the system prompt could not be shown: {e}"
                )))
            }
        }
    }

    fn open_for(&self, uid: u32) -> Result<OpenPrompt<'_>, SignerError> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if !open.insert(uid) {
            return Err(SignerError::RateLimited(
                "a prompt is already open for you; answer it first".into(),
            ));
        }
        Ok(OpenPrompt { prompts: self, uid })
    }

    /// How long a caller is held back, if it is.
    fn held_back(&self, keys: &[String]) -> Option<Duration> {
        let now = Instant::now();
        let mut unanswered = self.unanswered.lock().unwrap_or_else(|p| p.into_inner());
        keys.iter()
            .filter_map(|key| {
                let times = unanswered.get_mut(key)?;
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > UNANSWERED_WINDOW)
                {
                    times.pop_front();
                }
                (times.len() >= UNANSWERED_LIMIT)
                    .then(|| UNANSWERED_WINDOW.saturating_sub(now.duration_since(times[0])))
            })
            .max()
    }

    fn count_unanswered(&self, keys: &[String]) {
        let now = Instant::now();
        let mut unanswered = self.unanswered.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            let times = unanswered.entry(key.clone()).or_default();
            times.push_back(now);
            while times.len() > UNANSWERED_LIMIT {
                times.pop_front();
            }
        }
    }
}

async fn ask(
    connection: &zbus::Connection,
    header: &Header<'_>,
    action: &str,
    message: &str,
) -> Result<bool, String> {
    let authority = AuthorityProxy::new(connection)
        .await
        .map_err(|e| e.to_string())?;
    let subject = Subject::new_for_message_header(header).map_err(|e| e.to_string())?;
    let details = std::collections::HashMap::from([("polkit.message", message)]);
    let result = authority
        .check_authorization(
            &subject,
            action,
            &details,
            CheckAuthorizationFlags::AllowUserInteraction.into(),
            "",
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(result.is_authorized)
}
