//! Bookkeeping for graceful shutdown, duplicate events and per-member
//! rate limits.

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::{HashSet, VecDeque};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Counts replies being worked on; shutdown stops new work and waits for
/// the count to reach zero.
#[derive(Clone, Default)]
pub struct InFlight {
    inner: Arc<InFlightInner>,
}

#[derive(Default)]
struct InFlightInner {
    count: AtomicUsize,
    closed: AtomicBool,
    idle: Notify,
}

/// Held while one reply is in flight.
pub struct InFlightGuard {
    inner: Arc<InFlightInner>,
}

impl InFlight {
    /// `None` once shutdown has begun: no new work is taken.
    pub fn enter(&self) -> Option<InFlightGuard> {
        // Count first, then check: checking first would let work slip in
        // between the check and the count while the drain reads zero.
        self.inner.count.fetch_add(1, Ordering::SeqCst);
        let guard = InFlightGuard {
            inner: self.inner.clone(),
        };
        // Dropping the refused guard undoes the count and wakes the drain.
        (!self.inner.closed.load(Ordering::SeqCst)).then_some(guard)
    }

    /// Counted even while shutting down: for a crisis or concern message,
    /// whose fixed reply needs no model and must not be dropped. The drain
    /// still waits for it (within its grace).
    pub fn enter_urgent(&self) -> InFlightGuard {
        counted(&self.inner)
    }

    pub fn count(&self) -> usize {
        self.inner.count.load(Ordering::SeqCst)
    }

    /// Stops new work and waits up to `grace` for work in flight; returns
    /// how many replies were still unfinished (0 when all finished).
    pub async fn close_and_drain(&self, grace: Duration) -> usize {
        self.inner.closed.store(true, Ordering::SeqCst);
        let drained = tokio::time::timeout(grace, async {
            loop {
                let idle = self.inner.idle.notified();
                if self.count() == 0 {
                    return;
                }
                idle.await;
            }
        });
        match drained.await {
            Ok(()) => 0,
            Err(_) => self.count(),
        }
    }
}

impl InFlightGuard {
    /// Another guard for work this one spawned (a moderator alert), so
    /// shutdown waits for that too.
    pub fn also(&self) -> InFlightGuard {
        counted(&self.inner)
    }
}

/// One more unit of work in flight, whether or not shutdown has begun.
fn counted(inner: &Arc<InFlightInner>) -> InFlightGuard {
    inner.count.fetch_add(1, Ordering::SeqCst);
    InFlightGuard {
        inner: inner.clone(),
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.inner.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.inner.idle.notify_waiters();
        }
    }
}

/// A bounded memory of handled message ids (gateway resumes can replay).
pub struct SeenMessages {
    inner: Mutex<(HashSet<u64>, VecDeque<u64>)>,
    capacity: usize,
}

impl SeenMessages {
    pub fn new(capacity: usize) -> Self {
        SeenMessages {
            inner: Mutex::new((HashSet::new(), VecDeque::new())),
            capacity,
        }
    }

    /// True the first time an id is seen.
    pub fn first_time(&self, id: u64) -> bool {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (set, order) = &mut *guard;
        if !set.insert(id) {
            return false;
        }
        order.push_back(id);
        if order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        true
    }
}

/// Per-member message budget (governor's GCRA): stops one person from
/// flooding a channel or burning the model budget.
pub struct MemberLimiter {
    limiter: DefaultKeyedRateLimiter<u64>,
}

impl MemberLimiter {
    pub fn per_minute(messages: u32) -> Self {
        let per_minute = NonZeroU32::new(messages.max(1)).expect("at least one");
        MemberLimiter {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
        }
    }

    /// One event per `period` and member.
    pub fn per_period(period: Duration) -> Self {
        let quota = Quota::with_period(period).expect("non-zero period");
        MemberLimiter {
            limiter: RateLimiter::keyed(quota),
        }
    }

    pub fn allow(&self, user_id: u64) -> bool {
        self.limiter.check_key(&user_id).is_ok()
    }

    /// Forgets members whose budget is full again, so memory does not grow
    /// with every member ever seen.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_waits_for_work_and_refuses_new_work() {
        let in_flight = InFlight::default();
        let guard = in_flight.enter().unwrap();
        let releaser = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(guard);
        });
        assert_eq!(in_flight.close_and_drain(Duration::from_secs(5)).await, 0);
        assert!(in_flight.enter().is_none());
        releaser.await.unwrap();
    }

    #[tokio::test]
    async fn drain_gives_up_after_the_grace_period() {
        let in_flight = InFlight::default();
        let _stuck = in_flight.enter().unwrap();
        assert_eq!(
            in_flight.close_and_drain(Duration::from_millis(20)).await,
            1
        );
    }

    #[test]
    fn seen_messages_are_remembered_within_capacity() {
        let seen = SeenMessages::new(2);
        assert!(seen.first_time(1));
        assert!(!seen.first_time(1));
        assert!(seen.first_time(2) && seen.first_time(3));
        assert!(seen.first_time(1), "oldest id was forgotten");
    }

    #[test]
    fn limiter_allows_a_burst_then_refuses() {
        let limiter = MemberLimiter::per_minute(3);
        assert!((0..3).all(|_| limiter.allow(7)));
        assert!(!limiter.allow(7));
        assert!(limiter.allow(8), "other members are not affected");
        limiter.forget_idle();
        assert!(
            !limiter.allow(7),
            "trimming keeps members still over budget"
        );
    }
}
