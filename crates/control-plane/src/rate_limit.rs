//! Limits on guessing enrolment codes. A code has about 60 bits, so guessing
//! is hopeless anyway; the limits keep a guesser from costing anything, and
//! must never let anyone lock others out of enrolment.
//!
//! Only a *failed redemption* of a correctly signed request counts: junk
//! (unsigned, malformed, a key that does not match) is refused without
//! spending anything, and a device with a valid code is never slowed by
//! other people's failures at its own address unless that address guessed.
//! Failures count per client address (the forwarded one only from a trusted
//! proxy, see [`ClientAddress`]) and for the whole control plane. One process
//! counts in memory; replicas on a shared database count in it, so a guesser
//! spreading attempts over replicas meets the same limits.

use crate::error::ApiError;
use crate::store::{Result as StoreResult, Store};
use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

/// How many failed enrolment attempts are let through.
#[derive(Debug, Clone, Copy)]
pub struct EnrolmentQuota {
    /// Failed attempts one client address may make at once…
    pub burst_per_client: u32,
    /// …then one per this many seconds.
    pub every_secs_per_client: u64,
    /// Failed attempts per minute from everyone together.
    pub per_minute_overall: u32,
}

impl Default for EnrolmentQuota {
    fn default() -> Self {
        EnrolmentQuota {
            burst_per_client: 5,
            every_secs_per_client: 6,
            per_minute_overall: 60,
        }
    }
}

/// One GCRA bucket: a token every `interval_ms`, up to `burst` at once.
#[derive(Debug, Clone)]
struct Bucket {
    name: String,
    interval_ms: i64,
    burst: i64,
}

impl Bucket {
    /// How far ahead of now the bucket's next arrival time may be while a
    /// token is still there.
    fn tolerance_ms(&self) -> i64 {
        self.interval_ms * (self.burst - 1).max(0)
    }

    /// Milliseconds to wait, given the bucket's arrival time, or `None`.
    fn wait_ms(&self, tat: i64, now_ms: i64) -> Option<i64> {
        let ahead = tat.max(now_ms) - now_ms;
        (ahead > self.tolerance_ms()).then(|| (ahead - self.tolerance_ms()).max(1))
    }
}

pub struct Limits {
    quota: EnrolmentQuota,
    /// Arrival times of the buckets of a single process (no shared database).
    local: Mutex<HashMap<String, i64>>,
}

impl Limits {
    /// Buckets held in memory before the idle ones are forgotten.
    const LOCAL_BUCKETS: usize = 10_000;

    pub fn new(quota: EnrolmentQuota) -> Limits {
        Limits {
            quota,
            local: Mutex::default(),
        }
    }

    fn buckets(&self, client: IpAddr) -> [Bucket; 2] {
        let q = self.quota;
        [
            Bucket {
                name: format!("enrol:client:{client}"),
                interval_ms: (q.every_secs_per_client.max(1) * 1000) as i64,
                burst: i64::from(q.burst_per_client.max(1)),
            },
            Bucket {
                name: "enrol:all".to_owned(),
                interval_ms: 60_000 / i64::from(q.per_minute_overall.max(1)),
                burst: i64::from(q.per_minute_overall.max(1)),
            },
        ]
    }

    /// `None` when `client` may try a code now, else how long to wait.
    /// Spends nothing.
    fn may_try(&self, store: &Store, client: IpAddr, now_ms: i64) -> StoreResult<Option<i64>> {
        for bucket in self.buckets(client) {
            let tat = match store.change_feed() {
                Some(_) => store.token_arrival(&bucket.name)?,
                None => self.local_arrival(&bucket.name),
            };
            if let Some(wait) = tat.and_then(|tat| bucket.wait_ms(tat, now_ms)) {
                return Ok(Some(wait));
            }
        }
        Ok(None)
    }

    /// Counts one failed attempt of `client`.
    fn count_failure(&self, store: &Store, client: IpAddr, now_ms: i64) -> StoreResult<()> {
        for bucket in self.buckets(client) {
            match store.change_feed() {
                // Taken or not, the attempt is counted: a bucket already
                // empty stays empty for longer only through the next check.
                Some(_) => {
                    store.take_token(&bucket.name, now_ms, bucket.interval_ms, bucket.burst)?;
                }
                None => self.local_take(&bucket, now_ms),
            }
        }
        Ok(())
    }

    fn local_arrival(&self, name: &str) -> Option<i64> {
        let local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        local.get(name).copied()
    }

    fn local_take(&self, bucket: &Bucket, now_ms: i64) {
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if local.len() >= Self::LOCAL_BUCKETS {
            local.retain(|_, tat| *tat > now_ms);
        }
        let tat = local.entry(bucket.name.clone()).or_insert(now_ms);
        if bucket.wait_ms(*tat, now_ms).is_none() {
            *tat = (*tat).max(now_ms) + bucket.interval_ms;
        }
    }
}

/// Refuses `client`'s enrolment attempt with 429 while its failures, or
/// everyone's, are over the quota.
pub async fn may_try_enrolment(state: &AppState, client: IpAddr) -> Result<(), ApiError> {
    let now_ms = crate::clock::now_ms();
    let limits_state = state.clone();
    let wait = state
        .db(move |s| limits_state.limits().may_try(s, client, now_ms))
        .await?;
    match wait {
        None => Ok(()),
        Some(wait_ms) => Err(rate_limited(Duration::from_millis(wait_ms as u64))),
    }
}

/// Counts a failed enrolment attempt of `client`. A failure to count is
/// logged, not answered: the device is owed the refusal's reason.
pub async fn count_failed_enrolment(state: &AppState, client: IpAddr) {
    let now_ms = crate::clock::now_ms();
    let limits_state = state.clone();
    if let Err(e) = state
        .db(move |s| limits_state.limits().count_failure(s, client, now_ms))
        .await
    {
        tracing::warn!(error = %e.message, "cannot count a failed enrolment attempt");
    }
}

fn rate_limited(wait: Duration) -> ApiError {
    let secs = wait.as_secs() + 1;
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many failed enrolment attempts from this address; try again in {secs} s"),
    )
    .with_header(header::RETRY_AFTER, HeaderValue::from(secs))
}

/// The address a request comes from, for the per-client limits: the peer,
/// or, when the peer is one of the configured trusted proxies, the last
/// address in `X-Forwarded-For` that is not a trusted proxy (the one the
/// nearest untrusted hop connected from; earlier entries are the client's
/// own words). In-process servers (tests, the app's demo) have no peer
/// address: they share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    pub fn of(peer: Option<IpAddr>, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> Self {
        let Some(peer) = peer else {
            return ClientAddress(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        };
        let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
        if !trusted(&peer) {
            return ClientAddress(peer);
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|hop| hop.trim().parse::<IpAddr>())
            .collect::<Result<_, _>>()
            // A list we cannot read is no one's address but the proxy's.
            .unwrap_or_default();
        let client = forwarded.into_iter().rev().find(|ip| !trusted(ip));
        ClientAddress(client.unwrap_or(peer))
    }
}

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddress::of(
            peer,
            &parts.headers,
            &state.config().trusted_proxies,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory_store() -> Store {
        Store::open_in_memory().unwrap()
    }

    #[test]
    fn only_failures_count_and_a_client_gets_its_burst_then_waits() {
        let store = memory_store();
        let limits = Limits::new(EnrolmentQuota {
            burst_per_client: 3,
            every_secs_per_client: 60,
            per_minute_overall: 100,
        });
        let guesser: IpAddr = "192.0.2.7".parse().unwrap();
        let now = 1_000_000;
        // Trying costs nothing: only a failure is counted.
        for _ in 0..10 {
            assert_eq!(limits.may_try(&store, guesser, now).unwrap(), None);
        }
        for _ in 0..3 {
            assert_eq!(limits.may_try(&store, guesser, now).unwrap(), None);
            limits.count_failure(&store, guesser, now).unwrap();
        }
        let wait = limits
            .may_try(&store, guesser, now)
            .unwrap()
            .expect("waits");
        assert!(wait > 50_000, "{wait} ms");
        assert_eq!(
            limits
                .may_try(&store, "192.0.2.8".parse().unwrap(), now)
                .unwrap(),
            None,
            "another address is not held back"
        );
        assert_eq!(
            limits.may_try(&store, guesser, now + 60_000).unwrap(),
            None,
            "one more try a minute later"
        );
    }

    #[test]
    fn the_whole_control_plane_has_a_ceiling_on_failures() {
        let store = memory_store();
        let limits = Limits::new(EnrolmentQuota {
            burst_per_client: 100,
            every_secs_per_client: 1,
            per_minute_overall: 2,
        });
        let now = 5_000_000;
        let mut allowed = 0;
        for i in 0..10u8 {
            let client = IpAddr::V4(Ipv4Addr::new(198, 51, 100, i));
            if limits.may_try(&store, client, now).unwrap().is_none() {
                allowed += 1;
                limits.count_failure(&store, client, now).unwrap();
            }
        }
        assert_eq!(allowed, 2, "distributed guessing meets the overall limit");
    }

    #[test]
    fn the_forwarded_address_counts_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/24".parse().unwrap()];
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.4, 10.0.0.7".parse().unwrap(),
        );
        // Through the proxy: the hop before it, not the client's own claim.
        assert_eq!(
            ClientAddress::of(Some(proxy), &headers, &trusted).0,
            "198.51.100.4".parse::<IpAddr>().unwrap()
        );
        // Straight from a client: its header is ignored.
        let client: IpAddr = "198.51.100.99".parse().unwrap();
        assert_eq!(
            ClientAddress::of(Some(client), &headers, &trusted).0,
            client
        );
        assert_eq!(ClientAddress::of(Some(proxy), &headers, &[]).0, proxy);
        // A forged, unreadable list is the proxy's address.
        headers.insert("x-forwarded-for", "not-an-address".parse().unwrap());
        assert_eq!(ClientAddress::of(Some(proxy), &headers, &trusted).0, proxy);
    }
}
