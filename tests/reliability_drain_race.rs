//! Graceful shutdown's bookkeeping under a race: once `close_and_drain` has returned, no reply
//! may still be in flight. `InFlight::enter` checks `closed` and only then increments the count,
//! so a reply that passes the check just before the close, and increments just after the drain
//! read 0, runs on while the bot closes its shards and the database.
//!
//! The fix increments first, then checks `closed`; this test keeps it that way.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use coe_bot::discord::InFlight;

/// Trials of one close racing one member; the window is nanoseconds wide, so it takes many
/// (about 1 in 10,000 trials hit it on a 2-core machine before the fix: 30,000 trials catch a
/// regression with ~95% probability in ~3 s).
const TRIALS: usize = 30_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_reply_is_still_in_flight_once_the_drain_returned() {
    let mut held_after_drain = 0;
    for _ in 0..TRIALS {
        let in_flight = InFlight::default();
        let drained = Arc::new(AtomicBool::new(false));
        let ready = Arc::new(Barrier::new(2));
        // A member whose replies keep starting, as on a busy server at SIGTERM.
        let member = {
            let (in_flight, drained, ready) = (in_flight.clone(), drained.clone(), ready.clone());
            std::thread::spawn(move || {
                ready.wait();
                let mut violated = false;
                // Bounded: stops at the first refusal, or after 200 replies.
                for _ in 0..200 {
                    let Some(reply) = in_flight.enter() else {
                        break;
                    };
                    std::hint::spin_loop();
                    violated |= drained.load(Ordering::SeqCst);
                    drop(reply);
                }
                violated
            })
        };
        ready.wait();
        in_flight.close_and_drain(Duration::from_secs(1)).await;
        drained.store(true, Ordering::SeqCst);
        if member.join().expect("member thread") {
            held_after_drain += 1;
        }
    }
    assert_eq!(
        held_after_drain, 0,
        "in {held_after_drain} of {TRIALS} shutdowns a reply was still in flight after the drain"
    );
}
