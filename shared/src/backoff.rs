//! Exponential backoff, the one used wherever something is tried again after a failure: the
//! node's registration and event stream (jittered, so a fleet of nodes does not reconnect in
//! step), the launcher's relaunches, and retried local writes.

use std::time::Duration;

/// Delays doubling from `initial` up to `max`; jittered ones are drawn from `[d/2, d]`.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
    attempt: u32,
    jitter: bool,
}

impl Backoff {
    /// Exactly `initial`, `2 × initial`, … up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            next: initial,
            attempt: 0,
            jitter: false,
        }
    }

    /// Like [`Backoff::new`], each delay drawn at random from its upper half.
    pub fn jittered(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            jitter: true,
            ..Backoff::new(initial, max)
        }
    }

    /// The jittered delay before try `attempt + 1`, for callers that keep the count of tries
    /// rather than a `Backoff` (a row's attempts): `initial × 2^attempt` up to `max`, drawn from
    /// its upper half.
    pub fn nth(initial: Duration, max: Duration, attempt: u32) -> Duration {
        let mut b = Backoff::jittered(initial, max);
        b.next = Backoff::nth_exact(initial, max, attempt);
        b.next_delay()
    }

    /// [`Backoff::nth`] without the jitter, for schedules that must be exact: `initial ×
    /// 2^attempt` up to `max`.
    pub fn nth_exact(initial: Duration, max: Duration, attempt: u32) -> Duration {
        initial
            .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
            .min(max)
    }

    /// Starts again from `initial` (after a success).
    pub fn reset(&mut self) {
        self.next = self.initial;
        self.attempt = 0;
    }

    /// How many delays were handed out since the start or the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Whether the delays have reached `max`.
    pub fn at_max(&self) -> bool {
        self.next >= self.max
    }

    /// The delay before the next try.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        self.attempt += 1;
        if !self.jitter {
            return d;
        }
        let half = d / 2;
        let jitter = rand::random_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_and_caps() {
        let mut b = Backoff::new(Duration::from_millis(250), Duration::from_secs(1));
        let delays: Vec<_> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [250, 500, 1000, 1000]);
        assert!(b.at_max());
        assert_eq!(b.attempt(), 4);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(250));
        assert_eq!(b.attempt(), 1);
    }

    #[test]
    fn nth_doubles_from_initial_up_to_max() {
        let initial = Duration::from_millis(500);
        let max = Duration::from_secs(64);
        for (attempt, upper) in [(0, 500), (1, 1000), (3, 4000), (7, 64_000), (40, 64_000)] {
            let d = Backoff::nth(initial, max, attempt);
            let upper = Duration::from_millis(upper);
            assert!(d <= upper && d >= upper / 2, "{attempt}: {d:?}");
        }
    }

    #[test]
    fn nth_exact_is_the_schedule_of_new() {
        let (initial, max) = (Duration::from_millis(250), Duration::from_secs(1));
        let mut b = Backoff::new(initial, max);
        for attempt in 0..6 {
            assert_eq!(Backoff::nth_exact(initial, max, attempt), b.next_delay());
        }
        assert_eq!(Backoff::nth_exact(initial, max, u32::MAX), max);
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        let mut b = Backoff::jittered(Duration::from_millis(250), Duration::from_secs(30));
        let mut bound = Duration::from_millis(250);
        for _ in 0..20 {
            let d = b.next_delay();
            assert!(d <= bound && d >= bound / 2, "{d:?} vs {bound:?}");
            bound = (bound * 2).min(Duration::from_secs(30));
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(250));
    }
}
