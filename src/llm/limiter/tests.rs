use super::*;
use std::sync::atomic::AtomicUsize;

const CAPACITY: usize = 4;
const LATENCY: Duration = Duration::from_secs(2);
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// A model server with `CAPACITY` slots that refuses beyond them, and
/// members who retry after `RETRY_AFTER` through the limiter, as the
/// client does. Returns (requests sent, requests refused).
async fn burst(limiter: &Limiter, server: &Arc<AtomicUsize>, members: usize) -> (usize, usize) {
    let sent = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..members)
        .map(|_| {
            let (limiter, server) = (limiter.clone(), server.clone());
            let (sent, refused) = (sent.clone(), refused.clone());
            tokio::spawn(async move {
                let ticket = limiter.ticket();
                loop {
                    let permit = limiter.acquire(&ticket, |_| {}).await;
                    sent.fetch_add(1, Ordering::SeqCst);
                    if server.fetch_add(1, Ordering::SeqCst) >= CAPACITY {
                        server.fetch_sub(1, Ordering::SeqCst);
                        refused.fetch_add(1, Ordering::SeqCst);
                        permit.finish(Signal::Refused);
                        tokio::time::sleep(RETRY_AFTER).await;
                        continue;
                    }
                    tokio::time::sleep(LATENCY).await;
                    server.fetch_sub(1, Ordering::SeqCst);
                    permit.finish(Signal::Answered(LATENCY));
                    return;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (sent.load(Ordering::SeqCst), refused.load(Ordering::SeqCst))
}

#[tokio::test(start_paused = true)]
async fn a_burst_learns_a_refusing_servers_capacity_and_keeps_it() {
    let limiter = Limiter::new(Concurrency::Adaptive { ceiling: 256 });
    let server = Arc::new(AtomicUsize::new(0));
    let (sent, _) = burst(&limiter, &server, 200).await;
    assert!(
        sent <= 500,
        "first burst sent {sent} requests for 200 members"
    );
    let learned = limiter.load().limit;
    // At the capacity, or one above it after a probe that the last few
    // members left unrefused.
    assert!((CAPACITY..=CAPACITY + 1).contains(&learned), "{learned}");

    let (sent, refused) = burst(&limiter, &server, 200).await;
    assert!(
        (refused as f64) < 0.1 * sent as f64,
        "second burst: {refused} of {sent} refused"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unrefusing_server_gets_the_whole_burst_at_once() {
    let limiter = Limiter::new(Concurrency::Adaptive { ceiling: 256 });
    let started = Instant::now();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let permit = limiter.acquire(&limiter.ticket(), |_| {}).await;
                tokio::time::sleep(LATENCY).await;
                permit.finish(Signal::Answered(LATENCY));
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(started.elapsed(), LATENCY);
    assert_eq!(limiter.load().limit, 256);
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_oldest_ticket_first_and_cancelled_ones_leave() {
    let limiter = Limiter::new(Concurrency::Fixed(1));
    let held = limiter.try_acquire().expect("a free place");
    let (old, cancelled, young) = (limiter.ticket(), limiter.ticket(), limiter.ticket());
    let queued = Arc::new(AtomicUsize::new(0));
    let order = Arc::new(Mutex::new(Vec::new()));
    let spawn = |ticket: Ticket, name: &'static str| {
        let (limiter, order, queued) = (limiter.clone(), order.clone(), queued.clone());
        tokio::spawn(async move {
            let permit = limiter
                .acquire(&ticket, |n| queued.store(n, Ordering::SeqCst))
                .await;
            order.lock().unwrap().push(name);
            permit.finish(Signal::Ignored);
        })
    };
    // The younger request asks first; the older one still goes first.
    let young = spawn(young, "young");
    tokio::task::yield_now().await;
    let old = spawn(old, "old");
    let gone = spawn(cancelled, "cancelled");
    tokio::task::yield_now().await;
    assert_eq!(queued.load(Ordering::SeqCst), 3);
    gone.abort();
    let _ = gone.await;
    assert_eq!(limiter.load().queued, 2);
    held.finish(Signal::Ignored);
    old.await.unwrap();
    young.await.unwrap();
    assert_eq!(*order.lock().unwrap(), ["old", "young"]);
    assert_eq!(limiter.load().in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn a_fixed_limit_ignores_refusals() {
    let limiter = Limiter::new(Concurrency::Fixed(8));
    for _ in 0..8 {
        limiter.try_acquire().unwrap().finish(Signal::Refused);
    }
    assert_eq!(limiter.load().limit, 8);
}

#[tokio::test(start_paused = true)]
async fn rising_latency_and_timeouts_shrink_the_limit_once_per_round_trip() {
    let limiter = Limiter::new(Concurrency::Adaptive { ceiling: 100 });
    let fast = Duration::from_millis(500);
    for _ in 0..20 {
        limiter
            .try_acquire()
            .unwrap()
            .finish(Signal::Answered(fast));
    }
    assert_eq!(limiter.load().limit, 100);
    for _ in 0..10 {
        limiter
            .try_acquire()
            .unwrap()
            .finish(Signal::Answered(fast * 10));
    }
    let after_slow = limiter.load().limit;
    assert!((90..100).contains(&after_slow), "{after_slow}");
    tokio::time::advance(Duration::from_secs(60)).await;
    limiter.try_acquire().unwrap().finish(Signal::TimedOut);
    limiter.try_acquire().unwrap().finish(Signal::TimedOut);
    assert_eq!(limiter.load().limit, after_slow / 2);
}

#[tokio::test(start_paused = true)]
async fn the_limit_grows_back_while_answers_hold() {
    let limiter = Limiter::new(Concurrency::Adaptive { ceiling: 16 });
    let permits: Vec<_> = (0..4).map(|_| limiter.try_acquire().unwrap()).collect();
    permits.into_iter().for_each(|p| p.finish(Signal::Refused));
    assert_eq!(limiter.load().limit, 1);
    // Busy (a waiter in line) and answering: +1 per window of answers,
    // up to the known capacity, then a probe per interval.
    for _ in 0..40 {
        let permits: Vec<_> = std::iter::from_fn(|| limiter.try_acquire()).collect();
        let line = limiter.clone();
        let waiter = tokio::spawn(async move { line.acquire(&line.ticket(), |_| {}).await });
        tokio::task::yield_now().await;
        for p in permits {
            p.finish(Signal::Answered(LATENCY));
        }
        waiter.await.unwrap().finish(Signal::Answered(LATENCY));
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    let limit = limiter.load().limit;
    assert!((2..=3).contains(&limit), "{limit}");
}

#[tokio::test(start_paused = true)]
async fn a_lasting_rise_in_latency_becomes_the_new_normal() {
    let limiter = Limiter::new(Concurrency::Adaptive { ceiling: 100 });
    for _ in 0..20 {
        limiter
            .try_acquire()
            .unwrap()
            .finish(Signal::Answered(Duration::from_secs(1)));
    }
    // Every reply now takes three times as long, for good.
    for _ in 0..300 {
        limiter
            .try_acquire()
            .unwrap()
            .finish(Signal::Answered(LATENCY * 3 / 2));
        tokio::time::advance(Duration::from_millis(100)).await;
    }
    let limit = limiter.load().limit;
    assert!(limit >= 80, "shrunk for ever: {limit}");
}
