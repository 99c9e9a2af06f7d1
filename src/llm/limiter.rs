//! How many model requests may be in flight at once, learned from the
//! model server's own answers.
//!
//! The limit starts at the ceiling, so a burst goes through at once; the
//! server's refusals, not a guess, bring it down. It is loss-based AIMD (as
//! TCP Reno and Netflix's concurrency-limits) with two twists for model
//! servers that answer 429 beyond a fixed number of slots:
//! - a refusal sets the limit to what was still in flight when it came
//!   back, which is what the server was serving, instead of halving once per
//!   refusal (200 refusals in one burst would halve it to nothing);
//! - the level of the last refusal is remembered, and the limit grows past
//!   it only once per [`PROBE_INTERVAL`], so a second burst is not refused
//!   again while the limit climbs back up to a capacity it already knows.
//!
//! Rising latency (a server that queues instead of refusing) and timeouts
//! shrink the limit multiplicatively, at most once per round trip.
//!
//! Waiters are served oldest ticket first; a request keeps its ticket
//! across retries, so a member refused once is not sent to the back.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// How long the limit stays at a capacity the server refused above before
/// it tries one more.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(30);
/// How long a capacity learned from a refusal is remembered without
/// another refusal confirming it.
pub const CAPACITY_MEMORY: Duration = Duration::from_secs(600);
/// Short-term latency this many times the long-term average means the
/// server is queueing: shrink.
const LATENCY_TOLERANCE: f64 = 2.0;
const LATENCY_BACKOFF: f64 = 0.9;
const TIMEOUT_BACKOFF: f64 = 0.5;

/// How the limit is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// Learned from the server, never above `ceiling`.
    Adaptive { ceiling: usize },
    /// Exactly this many, whatever the server says.
    Fixed(usize),
}

/// How one request ended, as the limit learns from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    /// Answered, after this round trip.
    Answered(Duration),
    /// Refused as overloaded (429, 503).
    Refused,
    /// No answer in time.
    TimedOut,
    /// Failed in a way that says nothing about load.
    Ignored,
}

/// A snapshot for metrics and health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    pub limit: usize,
    pub in_flight: usize,
    pub queued: usize,
}

#[derive(Clone)]
pub struct Limiter {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    tickets: AtomicU64,
}

struct State {
    mode: Concurrency,
    limit: f64,
    in_flight: usize,
    waiters: BTreeMap<u64, oneshot::Sender<Permit>>,
    /// Where the server last refused, and when.
    known_capacity: Option<Capacity>,
    /// Answers since the limit last changed (one window = `limit` answers).
    answered_in_window: usize,
    last_decrease: Option<Instant>,
    /// Exponential averages of the round trip, short and long term.
    short_rtt: Option<f64>,
    long_rtt: Option<f64>,
}

struct Capacity {
    capacity: usize,
    refused_at: Instant,
    last_probe: Option<Instant>,
}

/// A place in flight; give it back with [`Permit::finish`] (dropping it
/// frees the place without teaching the limit anything).
pub struct Permit {
    shared: Arc<Shared>,
    done: bool,
}

/// Where a request stands in the line.
pub struct Ticket(u64);

impl Limiter {
    pub fn new(mode: Concurrency) -> Limiter {
        let limit = match mode {
            Concurrency::Adaptive { ceiling } => ceiling,
            Concurrency::Fixed(n) => n,
        };
        Limiter {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    mode,
                    limit: limit.max(1) as f64,
                    in_flight: 0,
                    waiters: BTreeMap::new(),
                    known_capacity: None,
                    answered_in_window: 0,
                    last_decrease: None,
                    short_rtt: None,
                    long_rtt: None,
                }),
                tickets: AtomicU64::new(0),
            }),
        }
    }

    pub fn ticket(&self) -> Ticket {
        Ticket(self.shared.tickets.fetch_add(1, Ordering::Relaxed))
    }

    pub fn load(&self) -> Load {
        self.shared.lock().load()
    }

    /// A place now, if one is free and nobody older is waiting.
    pub fn try_acquire(&self) -> Option<Permit> {
        let mut state = self.shared.lock();
        if state.has_room() && state.waiters.is_empty() {
            state.in_flight += 1;
            return Some(self.permit());
        }
        None
    }

    /// Waits for a place; `on_wait` runs with the queue length when the
    /// request has to queue. Cancel-safe: a request that stops waiting
    /// leaves the line, and a place handed to it is given back.
    pub async fn acquire(&self, ticket: &Ticket, on_wait: impl FnOnce(usize)) -> Permit {
        let waiting = {
            let mut state = self.shared.lock();
            if state.has_room() && state.first_waiter().is_none_or(|first| ticket.0 < first) {
                state.in_flight += 1;
                return self.permit();
            }
            let (sender, receiver) = oneshot::channel();
            state.waiters.insert(ticket.0, sender);
            on_wait(state.waiters.len());
            receiver
        };
        let leave = LeaveLine {
            shared: &self.shared,
            ticket: ticket.0,
        };
        let permit = waiting
            .await
            .expect("a waiter is only dropped with its place handed on");
        std::mem::forget(leave);
        permit
    }

    fn permit(&self) -> Permit {
        Permit {
            shared: self.shared.clone(),
            done: false,
        }
    }
}

/// Takes a cancelled waiter out of the line.
struct LeaveLine<'a> {
    shared: &'a Arc<Shared>,
    ticket: u64,
}

impl Drop for LeaveLine<'_> {
    fn drop(&mut self) {
        self.shared.lock().waiters.remove(&self.ticket);
    }
}

impl Permit {
    /// Frees the place and lets the limit learn from how the request went.
    pub fn finish(mut self, signal: Signal) {
        self.done = true;
        self.shared.release(Some(signal));
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.done {
            self.shared.release(None);
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is plain numbers: a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn release(self: &Arc<Self>, signal: Option<Signal>) {
        let mut state = self.lock();
        state.in_flight -= 1;
        if let Some(signal) = signal {
            state.learn(signal, Instant::now());
        }
        // Hand free places to the oldest waiters still listening.
        while state.has_room() {
            let Some(ticket) = state.first_waiter() else {
                break;
            };
            let sender = state.waiters.remove(&ticket).expect("first waiter exists");
            state.in_flight += 1;
            let permit = Permit {
                shared: self.clone(),
                done: false,
            };
            if let Err(mut unsent) = sender.send(permit) {
                // The waiter left between our look and the send.
                unsent.done = true;
                state.in_flight -= 1;
            }
        }
    }
}

impl State {
    fn load(&self) -> Load {
        Load {
            limit: self.current_limit(),
            in_flight: self.in_flight,
            queued: self.waiters.len(),
        }
    }

    fn current_limit(&self) -> usize {
        (self.limit.floor() as usize).max(1)
    }

    fn has_room(&self) -> bool {
        self.in_flight < self.current_limit()
    }

    fn first_waiter(&self) -> Option<u64> {
        self.waiters.keys().next().copied()
    }

    fn ceiling(&self) -> Option<f64> {
        match self.mode {
            Concurrency::Adaptive { ceiling } => Some(ceiling.max(1) as f64),
            Concurrency::Fixed(_) => None,
        }
    }

    fn learn(&mut self, signal: Signal, now: Instant) {
        let Some(ceiling) = self.ceiling() else {
            return;
        };
        match signal {
            Signal::Answered(rtt) => self.on_answer(rtt.as_secs_f64(), ceiling, now),
            // Refused with nothing else in flight: a rate budget or an
            // outage, not a concurrency limit (Retry-After covers the wait).
            Signal::Refused if self.in_flight == 0 => {}
            Signal::Refused => {
                // What is still in flight is what the server is serving.
                let served = self.in_flight as f64;
                self.set_limit(self.limit.min(served), now);
                self.known_capacity = Some(Capacity {
                    capacity: self.current_limit(),
                    refused_at: now,
                    last_probe: None,
                });
            }
            Signal::TimedOut => self.back_off(TIMEOUT_BACKOFF, now),
            Signal::Ignored => {}
        }
    }

    fn on_answer(&mut self, rtt: f64, ceiling: f64, now: Instant) {
        let short = ewma(self.short_rtt, rtt, 0.2);
        self.short_rtt = Some(short);
        // The long-term average follows every answer, slowly: a lasting
        // change of latency (longer replies, another model) becomes the
        // new normal instead of shrinking the limit for ever.
        let long = ewma(self.long_rtt, rtt, 0.02);
        self.long_rtt = Some(long);
        if short > LATENCY_TOLERANCE * long {
            // One step down per rise, then the new level is the baseline:
            // if this process's load caused it, the step relieves the
            // server; if replies simply got longer, the limit stays put.
            self.back_off(LATENCY_BACKOFF, now);
            self.long_rtt = Some(short);
            return;
        }
        self.answered_in_window += 1;
        // Grow by one per window of answers, and only while the limit is in
        // use: an idle limit proves nothing about the server.
        let in_use = self.in_flight + 1 >= self.current_limit() || !self.waiters.is_empty();
        if self.answered_in_window < self.current_limit() || !in_use {
            return;
        }
        if !self.may_grow(now) {
            return;
        }
        self.limit = (self.limit + 1.0).min(ceiling);
        self.answered_in_window = 0;
    }

    /// Below a capacity the server already showed, grow freely; at it,
    /// probe one more at most once per [`PROBE_INTERVAL`]. A probe that
    /// held for a window raises the known capacity; a capacity not
    /// confirmed by a refusal for [`CAPACITY_MEMORY`] is forgotten.
    fn may_grow(&mut self, now: Instant) -> bool {
        let limit = self.current_limit();
        let Some(known) = self.known_capacity.as_mut() else {
            return true;
        };
        if now.duration_since(known.refused_at) >= CAPACITY_MEMORY {
            self.known_capacity = None;
            return true;
        }
        if limit > known.capacity {
            known.capacity = limit;
        }
        if limit < known.capacity {
            return true;
        }
        if known
            .last_probe
            .is_some_and(|at| now.duration_since(at) < PROBE_INTERVAL)
            || now.duration_since(known.refused_at) < PROBE_INTERVAL
        {
            return false;
        }
        known.last_probe = Some(now);
        true
    }

    /// Multiplicative decrease, at most once per round trip.
    fn back_off(&mut self, factor: f64, now: Instant) {
        let window = Duration::from_secs_f64(self.short_rtt.unwrap_or(1.0).min(60.0));
        if self
            .last_decrease
            .is_some_and(|at| now.duration_since(at) < window)
        {
            return;
        }
        self.set_limit((self.limit * factor).max(1.0), now);
    }

    fn set_limit(&mut self, limit: f64, now: Instant) {
        self.limit = limit.max(1.0);
        self.answered_in_window = 0;
        self.last_decrease = Some(now);
    }
}

fn ewma(previous: Option<f64>, sample: f64, weight: f64) -> f64 {
    match previous {
        Some(previous) => previous + weight * (sample - previous),
        None => sample,
    }
}

#[cfg(test)]
mod tests;
