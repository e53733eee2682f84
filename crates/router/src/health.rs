//! Live, per-endpoint health measured from real traffic: time-to-first-token and throughput
//! percentiles (5 and 30 minutes), uptime (5 min, 30 min, 1 day), recent outages (30 s),
//! `Retry-After` cool-downs, and a circuit breaker with half-open probing, so that a dead
//! provider costs at most one slow request per probe interval.
//!
//! Time is tokio's clock, so tests can run it paused.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use switchyard_api::models::PercentileStats;
use tokio::time::Instant;

/// Consecutive failures that open the breaker.
pub const BREAKER_FAILURES: u32 = 3;
/// How long an open breaker keeps an endpoint out before one probe request is let through.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(30);
/// The window for "a significant outage recently".
pub const OUTAGE_WINDOW: Duration = Duration::from_secs(30);
const SAMPLE_WINDOW: Duration = Duration::from_secs(30 * 60);
const MAX_SAMPLES: usize = 4096;
const MINUTES_PER_DAY: u64 = 24 * 60;
/// Stands in for a deadline too far away to represent.
const FAR_FUTURE: Duration = Duration::from_secs(365 * 24 * 3600);

/// `now + d` without the panic `Instant + Duration` has on overflow: `d` comes from an
/// upstream's `Retry-After` or from the configuration.
fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(FAR_FUTURE))
        .unwrap_or(now)
}

/// How the planner may use an endpoint right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Healthy,
    /// Failing often in the last 30 s, or cooling down after a `Retry-After`: a last resort.
    Unstable,
    /// Breaker open: not to be tried until its probe is due.
    Open,
    /// Breaker half-open: this request is the probe.
    Probe,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Breaker {
    Closed,
    Open {
        until: Instant,
    },
    /// A probe was let through at `since`; until it reports, no other request is.
    HalfOpen {
        since: Instant,
    },
}

#[derive(Debug)]
struct State {
    latency_ms: VecDeque<(Instant, f64)>,
    throughput: VecDeque<(Instant, f64)>,
    /// (minute number, successes, failures)
    minutes: VecDeque<(u64, u32, u32)>,
    /// (second number, successes, failures) over the outage window: admission reads it on
    /// every request, so it is bucketed (a per-call list grew to 200,000 entries at 7,000
    /// requests/s and was scanned each time).
    recent: VecDeque<(u64, u32, u32)>,
    consecutive_failures: u32,
    breaker: Breaker,
    cooldown_until: Option<Instant>,
}

#[derive(Debug)]
pub struct EndpointHealth {
    state: Mutex<State>,
    epoch: Instant,
    probe_interval: Duration,
}

/// What `GET …/endpoints` shows and what `sort` / `preferred_*` read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Time to first token, seconds.
    pub latency_5m: Option<PercentileStats>,
    pub latency_30m: Option<PercentileStats>,
    /// Output tokens per second.
    pub throughput_5m: Option<PercentileStats>,
    pub throughput_30m: Option<PercentileStats>,
    /// Percent of attempts that succeeded.
    pub uptime_5m: Option<f64>,
    pub uptime_30m: Option<f64>,
    pub uptime_1d: Option<f64>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn percentiles(
    samples: &VecDeque<(Instant, f64)>,
    since: Instant,
    scale: f64,
) -> Option<PercentileStats> {
    let mut v: Vec<f64> = samples
        .iter()
        .filter(|(t, _)| *t >= since)
        .map(|(_, x)| *x * scale)
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(PercentileStats {
        p50: percentile(&v, 0.50),
        p75: percentile(&v, 0.75),
        p90: percentile(&v, 0.90),
        p99: percentile(&v, 0.99),
    })
}

/// Counts an outcome into `(bucket, successes, failures)` buckets kept in time order.
fn tally(buckets: &mut VecDeque<(u64, u32, u32)>, bucket: u64, ok: bool) {
    match buckets.back_mut() {
        Some(last) if last.0 == bucket => {
            if ok {
                last.1 += 1
            } else {
                last.2 += 1
            }
        }
        _ => buckets.push_back((bucket, u32::from(ok), u32::from(!ok))),
    }
}

impl EndpointHealth {
    pub fn new(probe_interval: Duration) -> EndpointHealth {
        EndpointHealth {
            state: Mutex::new(State {
                latency_ms: VecDeque::new(),
                throughput: VecDeque::new(),
                minutes: VecDeque::new(),
                recent: VecDeque::new(),
                consecutive_failures: 0,
                breaker: Breaker::Closed,
                cooldown_until: None,
            }),
            epoch: Instant::now(),
            probe_interval,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-update of statistics;
        // the numbers are still usable.
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    fn minute(&self, now: Instant) -> u64 {
        now.duration_since(self.epoch).as_secs() / 60
    }

    fn count(&self, st: &mut State, now: Instant, ok: bool) {
        let m = self.minute(now);
        tally(&mut st.minutes, m, ok);
        while st
            .minutes
            .front()
            .is_some_and(|f| f.0 + MINUTES_PER_DAY <= m)
        {
            st.minutes.pop_front();
        }
        tally(&mut st.recent, now.duration_since(self.epoch).as_secs(), ok);
        self.prune_recent(st, now);
    }

    fn prune_recent(&self, st: &mut State, now: Instant) {
        let sec = now.duration_since(self.epoch).as_secs();
        while st
            .recent
            .front()
            .is_some_and(|b| b.0 + OUTAGE_WINDOW.as_secs() < sec)
        {
            st.recent.pop_front();
        }
    }

    /// A successful call: `ttft` until the first token, then `tokens` over `generation`.
    pub fn record_success(&self, ttft: Duration, tokens: u64, generation: Duration) {
        let now = Instant::now();
        self.with(|st| {
            self.count(st, now, true);
            st.consecutive_failures = 0;
            st.breaker = Breaker::Closed;
            push(&mut st.latency_ms, now, ttft.as_secs_f64() * 1000.0);
            if tokens > 0 {
                // Sub-millisecond generations (tiny answers, local servers) count as 1 ms.
                let secs = generation.as_secs_f64().max(0.001);
                push(&mut st.throughput, now, tokens as f64 / secs);
            }
        });
    }

    /// A failed call. `retry_after` (from a 429 / 503) keeps the endpoint back that long, at
    /// most [`MAX_RETRY_AFTER`](switchyard_providers::error::MAX_RETRY_AFTER).
    pub fn record_failure(&self, retry_after: Option<Duration>) {
        let now = Instant::now();
        self.with(|st| {
            self.count(st, now, false);
            st.consecutive_failures = st.consecutive_failures.saturating_add(1);
            if let Some(ra) = retry_after {
                let ra = ra.min(switchyard_providers::error::MAX_RETRY_AFTER);
                st.cooldown_until = Some(later(now, ra));
            }
            let reopen = matches!(st.breaker, Breaker::HalfOpen { .. })
                || st.consecutive_failures >= BREAKER_FAILURES;
            if reopen {
                st.breaker = Breaker::Open {
                    until: later(now, self.probe_interval),
                };
            }
        });
    }

    /// Whether and how the next request may use this endpoint. Claims the probe slot when a
    /// probe is due, so concurrent requests do not all probe at once.
    pub fn admit(&self) -> Availability {
        let now = Instant::now();
        self.with(|st| {
            match st.breaker {
                Breaker::Open { until } if now < until => return Availability::Open,
                Breaker::Open { .. } => {
                    st.breaker = Breaker::HalfOpen { since: now };
                    return Availability::Probe;
                }
                // A probe that never reported (its request was served elsewhere first) is
                // given up after one interval.
                Breaker::HalfOpen { since } if now.duration_since(since) < self.probe_interval => {
                    return Availability::Open
                }
                Breaker::HalfOpen { .. } => {
                    st.breaker = Breaker::HalfOpen { since: now };
                    return Availability::Probe;
                }
                Breaker::Closed => {}
            }
            if st.cooldown_until.is_some_and(|t| now < t) {
                return Availability::Unstable;
            }
            self.prune_recent(st, now);
            let (ok, failures) = st.recent.iter().fold((0u64, 0u64), |(o, f), b| {
                (o + u64::from(b.1), f + u64::from(b.2))
            });
            if failures >= 2 && failures >= ok {
                Availability::Unstable
            } else {
                Availability::Healthy
            }
        })
    }

    pub fn stats(&self) -> Stats {
        let now = Instant::now();
        let since = |d: Duration| now.checked_sub(d).unwrap_or(self.epoch);
        self.with(|st| {
            let m = self.minute(now);
            let uptime = |mins: u64| {
                let (ok, fail) = st
                    .minutes
                    .iter()
                    .filter(|(b, _, _)| b + mins > m)
                    .fold((0u64, 0u64), |(o, f), (_, a, b)| {
                        (o + u64::from(*a), f + u64::from(*b))
                    });
                (ok + fail > 0).then(|| 100.0 * ok as f64 / (ok + fail) as f64)
            };
            Stats {
                latency_5m: percentiles(&st.latency_ms, since(Duration::from_secs(300)), 0.001),
                latency_30m: percentiles(&st.latency_ms, since(SAMPLE_WINDOW), 0.001),
                throughput_5m: percentiles(&st.throughput, since(Duration::from_secs(300)), 1.0),
                throughput_30m: percentiles(&st.throughput, since(SAMPLE_WINDOW), 1.0),
                uptime_5m: uptime(5),
                uptime_30m: uptime(30),
                uptime_1d: uptime(MINUTES_PER_DAY),
            }
        })
    }

    /// p95 time to first token over 5 minutes: when to start a hedge.
    pub fn ttft_p95(&self) -> Option<Duration> {
        let now = Instant::now();
        let since = now
            .checked_sub(Duration::from_secs(300))
            .unwrap_or(self.epoch);
        self.with(|st| {
            let mut v: Vec<f64> = st
                .latency_ms
                .iter()
                .filter(|(t, _)| *t >= since)
                .map(|(_, x)| *x)
                .collect();
            if v.len() < 5 {
                return None;
            }
            v.sort_by(|a, b| a.total_cmp(b));
            Some(Duration::from_secs_f64(percentile(&v, 0.95) / 1000.0))
        })
    }
}

fn push(q: &mut VecDeque<(Instant, f64)>, now: Instant, v: f64) {
    q.push_back((now, v));
    while q.len() > MAX_SAMPLES
        || q.front()
            .is_some_and(|(t, _)| now.duration_since(*t) > SAMPLE_WINDOW)
    {
        q.pop_front();
    }
}

/// Health of every endpoint of a catalogue, indexed by `Endpoint::index`.
#[derive(Debug)]
pub struct HealthBook {
    endpoints: Vec<EndpointHealth>,
}

impl HealthBook {
    pub fn new(count: usize, probe_interval: Duration) -> HealthBook {
        HealthBook {
            endpoints: (0..count)
                .map(|_| EndpointHealth::new(probe_interval))
                .collect(),
        }
    }

    pub fn get(&self, index: usize) -> Option<&EndpointHealth> {
        self.endpoints.get(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn breaker_opens_probes_once_and_closes_on_success() {
        let h = EndpointHealth::new(Duration::from_secs(30));
        assert_eq!(h.admit(), Availability::Healthy);
        for _ in 0..BREAKER_FAILURES {
            h.record_failure(None);
        }
        assert_eq!(h.admit(), Availability::Open);
        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(
            h.admit(),
            Availability::Probe,
            "one probe after the interval"
        );
        assert_eq!(h.admit(), Availability::Open, "and only one");
        h.record_failure(None);
        assert_eq!(h.admit(), Availability::Open, "failed probe re-opens");
        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(h.admit(), Availability::Probe);
        h.record_success(Duration::from_millis(100), 50, Duration::from_secs(1));
        assert!(matches!(
            h.admit(),
            Availability::Healthy | Availability::Unstable
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_and_recent_failures_make_it_unstable() {
        let h = EndpointHealth::new(Duration::from_secs(30));
        h.record_failure(Some(Duration::from_secs(5)));
        assert_eq!(h.admit(), Availability::Unstable);
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(h.admit(), Availability::Healthy, "one failure is no outage");
        h.record_failure(None);
        assert_eq!(h.admit(), Availability::Unstable, "two of two in 30 s is");
        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(h.admit(), Availability::Healthy, "and it passes");
    }

    #[tokio::test(start_paused = true)]
    async fn huge_retry_after_and_probe_interval_are_clamped_not_overflowed() {
        let h = EndpointHealth::new(Duration::MAX);
        for ra in [Duration::from_secs(10u64.pow(19)), Duration::MAX] {
            h.record_failure(Some(ra));
            assert_eq!(h.admit(), Availability::Unstable, "{ra:?}");
        }
        h.record_failure(Some(Duration::from_secs(u64::MAX)));
        assert_eq!(
            h.admit(),
            Availability::Open,
            "three failures open the breaker"
        );
        let h = EndpointHealth::new(Duration::from_secs(30));
        h.record_failure(Some(Duration::MAX));
        tokio::time::advance(switchyard_providers::error::MAX_RETRY_AFTER).await;
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            h.admit(),
            Availability::Healthy,
            "the cool-down ends after an hour"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stats_have_percentiles_and_uptime() {
        let h = EndpointHealth::new(Duration::from_secs(30));
        assert_eq!(h.stats(), Stats::default());
        for ms in 1..=100u64 {
            h.record_success(
                Duration::from_millis(ms * 10),
                100,
                Duration::from_millis(ms * 10),
            );
        }
        h.record_failure(None);
        let s = h.stats();
        let lat = s.latency_5m.unwrap_or(PercentileStats {
            p50: 0.0,
            p75: 0.0,
            p90: 0.0,
            p99: 0.0,
        });
        assert!(
            (lat.p50 - 0.5).abs() < 0.02 && (lat.p99 - 0.99).abs() < 0.02,
            "{lat:?}"
        );
        assert!(s
            .throughput_30m
            .is_some_and(|t| t.p50 > 150.0 && t.p50 < 250.0));
        assert!(s
            .uptime_5m
            .is_some_and(|u| (u - 100.0 * 100.0 / 101.0).abs() < 1e-9));
        assert!(h
            .ttft_p95()
            .is_some_and(|d| d >= Duration::from_millis(900)));
        tokio::time::advance(Duration::from_secs(6 * 60)).await;
        let s = h.stats();
        assert!(
            s.latency_5m.is_none() && s.latency_30m.is_some(),
            "5-minute window slides"
        );
        assert_eq!(s.uptime_5m, None);
    }
}
