//! The retry schedule: when the next attempt of a delivery happens, with jitter so that an
//! endpoint that comes back is not hit by every pending delivery in the same instant.

use std::time::Duration;

/// What to do after attempt number `attempts` (1-based) failed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    RetryIn(Duration),
    GiveUp,
}

/// `schedule[k]` is the delay before attempt `k + 1`; the first entry is the delay of the
/// first attempt, so after attempt `n` the next delay is `schedule[n]`. `jitter` in [0, 1)
/// spreads the delay by ±10%.
pub fn after_failure(schedule: &[Duration], attempts: usize, jitter: f64) -> Next {
    match schedule.get(attempts) {
        None => Next::GiveUp,
        Some(delay) => {
            let factor = 0.9 + 0.2 * jitter.clamp(0.0, 1.0);
            Next::RetryIn(delay.mul_f64(factor))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> Vec<Duration> {
        [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
            .map(Duration::from_secs)
            .to_vec()
    }

    #[test]
    fn follows_the_schedule_then_gives_up() {
        let s = schedule();
        assert_eq!(
            after_failure(&s, 1, 0.5),
            Next::RetryIn(Duration::from_secs(5))
        );
        assert_eq!(
            after_failure(&s, 2, 0.5),
            Next::RetryIn(Duration::from_secs(300))
        );
        assert_eq!(
            after_failure(&s, 7, 0.5),
            Next::RetryIn(Duration::from_secs(36000))
        );
        assert_eq!(after_failure(&s, 8, 0.5), Next::GiveUp);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let s = schedule();
        for j in [0.0, 0.25, 0.999, 5.0, -1.0] {
            let Next::RetryIn(d) = after_failure(&s, 2, j) else {
                panic!("retry expected");
            };
            assert!(
                d >= Duration::from_secs(270) && d <= Duration::from_secs(330),
                "{d:?}"
            );
        }
    }
}
