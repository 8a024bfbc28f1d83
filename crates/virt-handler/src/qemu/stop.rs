//! Graceful stop of a guest whose VMI (or launcher pod) is being deleted (§7.3 of the behaviour
//! spec): an ACPI power-down, resent every `min(5 s, time left)` because a booting guest can
//! miss it, and a kill when the grace period expires. A grace period of 0, or a guest without
//! ACPI, is killed at once.
//!
//! The decision is a pure function of the recorded attempt and the clock. The first attempt's
//! time is what upstream stores in the domain; here it is persisted in the guest's run
//! directory as wall-clock time ([`StopRecord`]) so a restarted driver keeps the deadline.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Longest pause between two ACPI power-down requests.
pub const RESEND_INTERVAL: Duration = Duration::from_secs(5);

/// A graceful stop in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GracefulStop {
    /// First ACPI request: the grace period counts from here.
    pub started: Instant,
    /// Latest ACPI request.
    pub last_signal: Instant,
}

/// What to do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopStep {
    /// Send an ACPI power-down; the first one is reported as `ShuttingDown`.
    Signal { first: bool },
    /// Kill the guest (`Deleted` "VirtualMachineInstance stopping").
    Kill,
    /// Nothing until `until`.
    Wait { until: Instant },
}

/// The next step of stopping a guest with `grace` (the VMI's current grace period, so a
/// shortened one takes effect at once) and `acpi` (the guest has ACPI).
pub fn next_step(
    stop: Option<&GracefulStop>,
    grace: Duration,
    acpi: bool,
    now: Instant,
) -> StopStep {
    if grace.is_zero() || !acpi {
        return StopStep::Kill;
    }
    let Some(stop) = stop else {
        return StopStep::Signal { first: true };
    };
    let deadline = stop.started + grace;
    if now >= deadline {
        return StopStep::Kill;
    }
    let left_at_signal = deadline.saturating_duration_since(stop.last_signal);
    let resend = stop.last_signal + RESEND_INTERVAL.min(left_at_signal);
    if now >= resend {
        StopStep::Signal { first: false }
    } else {
        StopStep::Wait {
            until: resend.min(deadline),
        }
    }
}

impl GracefulStop {
    /// The stop after its first ACPI request at `now`.
    pub fn begin(now: Instant) -> GracefulStop {
        GracefulStop {
            started: now,
            last_signal: now,
        }
    }

    /// Records another ACPI request at `now`.
    pub fn resent(&mut self, now: Instant) {
        self.last_signal = now;
    }

    /// The persistent form, anchoring `started` to the wall clock.
    pub fn record(&self, now: Instant, wall_now: SystemTime) -> StopRecord {
        let ago = now.saturating_duration_since(self.started);
        let at = wall_now.checked_sub(ago).unwrap_or(UNIX_EPOCH);
        StopRecord {
            started_unix_ms: at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

/// A graceful stop as stored in the run directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StopRecord {
    /// Wall-clock time of the first ACPI request, in milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
}

impl StopRecord {
    /// The stop this record describes, on the monotonic clock. Requests are resent on the
    /// schedule counted from the first one.
    pub fn restore(&self, now: Instant, wall_now: SystemTime) -> GracefulStop {
        let started_wall = UNIX_EPOCH + Duration::from_millis(self.started_unix_ms);
        let ago = wall_now.duration_since(started_wall).unwrap_or_default();
        let started = now.checked_sub(ago).unwrap_or(now);
        GracefulStop {
            started,
            last_signal: started,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[tokio::test(start_paused = true)]
    async fn zero_grace_or_no_acpi_kills_at_once() {
        let now = Instant::now();
        assert_eq!(next_step(None, S(0), true, now), StopStep::Kill);
        assert_eq!(next_step(None, S(30), false, now), StopStep::Kill);
        let stop = GracefulStop::begin(now);
        assert_eq!(next_step(Some(&stop), S(0), true, now), StopStep::Kill);
    }

    #[tokio::test(start_paused = true)]
    async fn acpi_is_resent_every_five_seconds_then_the_guest_is_killed() {
        let grace = S(12);
        assert_eq!(
            next_step(None, grace, true, Instant::now()),
            StopStep::Signal { first: true }
        );
        let mut stop = GracefulStop::begin(Instant::now());
        let mut signals = vec![0u64];
        let t0 = Instant::now();
        loop {
            match next_step(Some(&stop), grace, true, Instant::now()) {
                StopStep::Wait { until } => tokio::time::sleep_until(until).await,
                StopStep::Signal { first } => {
                    assert!(!first);
                    signals.push(t0.elapsed().as_secs());
                    stop.resent(Instant::now());
                }
                StopStep::Kill => break,
            }
        }
        assert_eq!(signals, vec![0, 5, 10]);
        assert_eq!(t0.elapsed(), grace, "killed exactly at expiry");
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_grace_period_resends_at_the_time_left() {
        let grace = S(3);
        let stop = GracefulStop::begin(Instant::now());
        match next_step(Some(&stop), grace, true, Instant::now()) {
            StopStep::Wait { until } => assert_eq!(until - stop.started, S(3)),
            other => panic!("expected a wait, got {other:?}"),
        }
        tokio::time::advance(S(3)).await;
        assert_eq!(
            next_step(Some(&stop), grace, true, Instant::now()),
            StopStep::Kill
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_shortened_grace_period_takes_effect_at_once() {
        let stop = GracefulStop::begin(Instant::now());
        tokio::time::advance(S(2)).await;
        assert!(matches!(
            next_step(Some(&stop), S(600), true, Instant::now()),
            StopStep::Wait { .. }
        ));
        assert_eq!(
            next_step(Some(&stop), S(1), true, Instant::now()),
            StopStep::Kill
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_restored_record_keeps_the_deadline() {
        let wall = UNIX_EPOCH + S(1_700_000_000);
        let stop = GracefulStop::begin(Instant::now());
        tokio::time::advance(S(4)).await;
        let record = stop.record(Instant::now(), wall);
        // A restarted driver: another monotonic clock reading, the wall clock 1 s later.
        tokio::time::advance(S(100)).await;
        let restored = record.restore(Instant::now(), wall + S(1));
        assert_eq!(Instant::now() - restored.started, S(5));
        assert_eq!(
            next_step(Some(&restored), S(10), true, Instant::now()),
            StopStep::Signal { first: false },
            "the next request is due at once"
        );
        assert_eq!(
            next_step(Some(&restored), S(5), true, Instant::now()),
            StopStep::Kill
        );
    }
}
