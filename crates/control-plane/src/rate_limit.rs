//! Limits on what anyone may send without being enrolled: enrolment-code
//! redemptions, per client address and for the whole control plane. A code
//! has about 60 bits, so guessing is hopeless anyway; the limits keep a
//! guesser, or a flood of key generation on our side, from costing anything.
//! One process counts in memory; replicas on a shared database count in it,
//! so a guesser spreading attempts over replicas meets the same limits.

use crate::error::ApiError;
use crate::store::{Result as StoreResult, Store};
use crate::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

/// How many enrolment attempts are let through.
#[derive(Debug, Clone, Copy)]
pub struct EnrolmentQuota {
    /// Attempts one client address may make at once…
    pub burst_per_client: u32,
    /// …then one per this many seconds.
    pub every_secs_per_client: u64,
    /// Attempts per minute from everyone together.
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

pub struct Limits {
    quota: EnrolmentQuota,
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    overall: DefaultDirectRateLimiter,
}

fn at_least_one(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).expect("at least one")
}

impl Limits {
    pub fn new(quota: EnrolmentQuota) -> Limits {
        let per_client =
            Quota::with_period(Duration::from_secs(quota.every_secs_per_client.max(1)))
                .expect("a non-zero period")
                .allow_burst(at_least_one(quota.burst_per_client));
        Limits {
            quota,
            per_client: RateLimiter::keyed(per_client),
            overall: RateLimiter::direct(Quota::per_minute(at_least_one(quota.per_minute_overall))),
        }
    }

    /// The same limits in the shared database's buckets.
    fn check_shared(
        &self,
        store: &Store,
        client: IpAddr,
        now_ms: i64,
    ) -> StoreResult<Option<Duration>> {
        let q = self.quota;
        let per_client = (q.every_secs_per_client.max(1) * 1000) as i64;
        let overall = 60_000 / i64::from(q.per_minute_overall.max(1));
        let buckets = [
            (
                format!("enrol:client:{client}"),
                per_client,
                i64::from(q.burst_per_client.max(1)),
            ),
            (
                "enrol:all".to_owned(),
                overall,
                i64::from(q.per_minute_overall.max(1)),
            ),
        ];
        for (bucket, interval, burst) in buckets {
            if let Some(wait_ms) = store.take_token(&bucket, now_ms, interval, burst)? {
                return Ok(Some(Duration::from_millis(wait_ms as u64)));
            }
        }
        Ok(None)
    }

    /// `None` when `client` may go ahead, else how long to wait.
    fn check(&self, client: IpAddr) -> Option<Duration> {
        let now = DefaultClock::default().now();
        if let Err(not_until) = self.per_client.check_key(&client) {
            return Some(not_until.wait_time_from(now));
        }
        self.overall
            .check()
            .err()
            .map(|not_until| not_until.wait_time_from(now))
    }
}

/// Middleware for the enrolment route: 429 with `Retry-After` past the quota.
pub async fn limit_enrolment(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // In-process servers (tests, the app's demo) have no peer address: they
    // share one bucket.
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let verdict = if state.store().change_feed().is_some() {
        let now_ms = crate::clock::now_ms();
        let limits_state = state.clone();
        state
            .db(move |s| limits_state.limits().check_shared(s, client, now_ms))
            .await
    } else {
        Ok(state.limits().check(client))
    };
    match verdict {
        Err(e) => e.into_response(),
        Ok(None) => next.run(req).await,
        Ok(Some(wait)) => {
            let secs = wait.as_secs() + 1;
            let mut response = ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many enrolment attempts; try again in {secs} s"),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_waits_and_others_are_not_held_back() {
        let limits = Limits::new(EnrolmentQuota {
            burst_per_client: 3,
            every_secs_per_client: 60,
            per_minute_overall: 100,
        });
        let guesser: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limits.check(guesser), None);
        }
        let wait = limits.check(guesser).expect("the fourth waits");
        assert!(wait > Duration::from_secs(50), "{wait:?}");
        assert_eq!(limits.check("192.0.2.8".parse().unwrap()), None);
    }

    #[test]
    fn the_whole_control_plane_has_a_ceiling() {
        let limits = Limits::new(EnrolmentQuota {
            burst_per_client: 100,
            every_secs_per_client: 1,
            per_minute_overall: 2,
        });
        let mut allowed = 0;
        for i in 0..10u8 {
            if limits
                .check(IpAddr::V4(Ipv4Addr::new(198, 51, 100, i)))
                .is_none()
            {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 2, "distributed guessing meets the overall limit");
    }
}
