//! Supervised background loops (the ledger writer, the key and balance refresher): each runs
//! in its own task, is restarted with backoff if it panics, and reports how it is doing, so
//! `/health` can say when keys have stopped refreshing instead of the gateway quietly serving
//! stale state.

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What `/health` shows of one loop.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LoopStatus {
    pub name: &'static str,
    pub running: bool,
    pub restarts: u64,
    /// The last failure the loop reported (or its last panic), cleared by its next success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The loops of one gateway.
#[derive(Default)]
pub struct Background {
    loops: Mutex<Vec<Arc<Mutex<LoopStatus>>>>,
}

/// A loop's handle on its own status line.
#[derive(Clone)]
pub struct Beat(Arc<Mutex<LoopStatus>>);

fn lock(m: &Mutex<LoopStatus>) -> std::sync::MutexGuard<'_, LoopStatus> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Beat {
    pub fn ok(&self) {
        let mut s = lock(&self.0);
        if s.last_error.is_some() {
            s.last_error = None;
        }
    }

    pub fn failed(&self, reason: impl std::fmt::Display) {
        lock(&self.0).last_error = Some(reason.to_string());
    }

    /// A beat that belongs to no supervisor (unit tests, one-off tools).
    pub fn detached(name: &'static str) -> Beat {
        Beat(Arc::new(Mutex::new(LoopStatus {
            name,
            ..Default::default()
        })))
    }
}

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl Background {
    /// Runs `make()`'s loop until it returns (on purpose: its owner is gone); a panic is
    /// logged, counted and followed by a fresh loop after a growing pause.
    pub fn spawn<F>(&self, name: &'static str, make: F)
    where
        F: Fn(Beat) -> BoxFuture<'static, ()> + Send + Sync + 'static,
    {
        let status = Arc::new(Mutex::new(LoopStatus {
            name,
            running: true,
            ..Default::default()
        }));
        self.loops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(status.clone());
        let beat = Beat(status.clone());
        tokio::spawn(async move {
            let mut backoff = FIRST_BACKOFF;
            loop {
                let run = std::panic::AssertUnwindSafe(make(beat.clone()))
                    .catch_unwind()
                    .await;
                match run {
                    Ok(()) => break,
                    Err(panic) => {
                        let why = panic
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "panicked".into());
                        tracing::error!(task = name, reason = %why, "background loop died; restarting");
                        {
                            let mut s = lock(&status);
                            s.restarts = s.restarts.saturating_add(1);
                            s.last_error = Some(format!("panicked: {why}"));
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
            lock(&status).running = false;
        });
    }

    pub fn status(&self) -> Vec<LoopStatus> {
        self.loops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|s| lock(s).clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_loop_that_panics_is_restarted_and_its_failure_shown() {
        let bg = Background::default();
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        bg.spawn("flaky", move |beat| {
            let r = r.clone();
            async move {
                let n = r.fetch_add(1, Ordering::SeqCst);
                if n < 2 {
                    panic!("boom {n}");
                }
                beat.ok();
                std::future::pending::<()>().await;
            }
            .boxed()
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        let s = &bg.status()[0];
        assert_eq!((s.name, s.running, s.restarts), ("flaky", true, 2));
        assert_eq!(s.last_error, None, "cleared by the healthy run");
    }

    #[tokio::test(start_paused = true)]
    async fn a_loop_that_returns_is_not_restarted() {
        let bg = Background::default();
        bg.spawn("done", |_| async {}.boxed());
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!bg.status()[0].running);
    }
}
