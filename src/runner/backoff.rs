//! Waiting out an agent's usage or rate limit: exponential backoff, capped, or the wait
//! the agent named.

use std::time::Duration;

/// Defaults when the config says nothing: a minute, doubling, at most half an hour.
pub(crate) const DEFAULT_INITIAL: Duration = Duration::from_secs(60);
pub(crate) const DEFAULT_MAX: Duration = Duration::from_secs(30 * 60);

/// Consecutive rate-limited attempts double the wait; a normal attempt resets it.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            next: initial,
        }
    }

    /// The wait for this limit: what the agent asked for if it said, else the current
    /// step; both capped. Advances the step.
    pub(crate) fn wait(&mut self, asked: Option<Duration>) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(self.max);
        asked.unwrap_or(step).min(self.max)
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_resets() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(10), ms(35));
        assert_eq!(b.wait(None), ms(10));
        assert_eq!(b.wait(None), ms(20));
        assert_eq!(b.wait(None), ms(35));
        assert_eq!(b.wait(Some(ms(5))), ms(5));
        assert_eq!(b.wait(Some(Duration::from_secs(9))), ms(35));
        b.reset();
        assert_eq!(b.wait(None), ms(10));
    }
}
