//! The simulated hypervisor: one [`Domain`] per VMI the driver runs, with the guest's
//! timeline (boot, self power-off, crash, ACPI shutdown, kill at grace expiry).
//!
//! Every method takes the clock as an argument and is deterministic, so the whole timeline is
//! table-tested without waiting.

use std::time::Duration;

use api::VirtualMachineInstancePhase;
use jiff::{SignedDuration, Timestamp};

use super::injection::Injection;

/// Why a domain is off (libvirt's shutoff reasons that matter for the VMI phase).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutoffReason {
    /// The guest powered itself off or obeyed an ACPI request.
    Shutdown,
    /// The domain was killed; `acpi_in_play` when a graceful shutdown had been attempted.
    Destroyed { acpi_in_play: bool },
    /// The hypervisor process died.
    Crashed,
}

/// Where the guest is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainState {
    /// Defined and booting; running from `running_at`.
    Starting { running_at: Timestamp },
    /// Running (possibly paused) since `since`.
    Running { since: Timestamp },
    /// Off for good.
    Shutoff {
        reason: ShutoffReason,
        at: Timestamp,
    },
}

/// Something the node agent reports as an event on the VMI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainEvent {
    /// First ACPI shutdown request (`ShuttingDown` "Signaled Graceful Shutdown").
    ShuttingDown,
    /// Killed because the grace period is 0, expired, or ACPI is off (`Deleted`
    /// "VirtualMachineInstance stopping").
    Killed,
}

/// A pending graceful shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shutdown {
    pub signalled_at: Timestamp,
    pub deadline: Timestamp,
    /// When a running, unpaused guest saw the request (a paused or booting guest cannot).
    pub seen_at: Option<Timestamp>,
}

/// One simulated guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Domain {
    pub vmi_uid: String,
    pub namespace: String,
    pub name: String,
    pub node: String,
    /// UID of the launcher pod the domain lives in.
    pub pod_uid: String,
    pub state: DomainState,
    pub paused: bool,
    /// The guest has ACPI (`spec.domain.features.acpi.enabled`, true by default).
    pub acpi: bool,
    pub injection: Injection,
    pub shutdown_delay: Duration,
    pub shutdown: Option<Shutdown>,
}

fn after(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

impl Domain {
    /// True until the domain is off.
    pub fn is_alive(&self) -> bool {
        !matches!(self.state, DomainState::Shutoff { .. })
    }

    /// True while the guest runs (paused or not).
    pub fn is_running(&self) -> bool {
        matches!(self.state, DomainState::Running { .. })
    }

    fn guest_active(&self) -> bool {
        self.is_running() && !self.paused
    }

    /// The VMI phase the domain implies (upstream's mapping of domain states and reasons):
    /// `None` while booting.
    pub fn phase(&self) -> Option<VirtualMachineInstancePhase> {
        use VirtualMachineInstancePhase::*;
        match self.state {
            DomainState::Starting { .. } => None,
            DomainState::Running { .. } => Some(Running),
            DomainState::Shutoff { reason, .. } => Some(match reason {
                ShutoffReason::Shutdown => Succeeded,
                ShutoffReason::Destroyed { acpi_in_play: true } | ShutoffReason::Crashed => Failed,
                ShutoffReason::Destroyed {
                    acpi_in_play: false,
                } => Succeeded,
            }),
        }
    }

    fn off(&mut self, reason: ShutoffReason, at: Timestamp) {
        self.state = DomainState::Shutoff { reason, at };
        self.paused = false;
    }

    /// The earliest pending transition: its time and what it does.
    fn next_transition(&self) -> Option<(Timestamp, Transition)> {
        let mut candidates: Vec<(Timestamp, Transition)> = Vec::new();
        match self.state {
            DomainState::Shutoff { .. } => return None,
            DomainState::Starting { running_at } => candidates.push((running_at, Transition::Boot)),
            DomainState::Running { since } => {
                if let Some(d) = self.injection.crash_after {
                    candidates.push((after(since, d), Transition::Crash));
                }
                if let (Some(d), false) = (self.injection.poweroff_after, self.paused) {
                    candidates.push((after(since, d), Transition::PowerOff));
                }
                if let Some(Shutdown {
                    seen_at: Some(seen),
                    ..
                }) = self.shutdown
                    && !self.paused
                    && !self.injection.ignore_acpi
                {
                    candidates.push((after(seen, self.shutdown_delay), Transition::PowerOff));
                }
            }
        }
        if let Some(s) = self.shutdown {
            candidates.push((s.deadline, Transition::GraceExpired));
        }
        candidates.into_iter().min_by_key(|(t, _)| *t)
    }

    /// When [`Domain::advance`] next has something to do.
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        self.next_transition().map(|(t, _)| t)
    }

    /// Plays every transition due by `now`, in time order.
    pub fn advance(&mut self, now: Timestamp) -> Vec<DomainEvent> {
        let mut events = Vec::new();
        while let Some((at, transition)) = self.next_transition().filter(|(t, _)| *t <= now) {
            match transition {
                Transition::Boot => {
                    self.state = DomainState::Running { since: at };
                    if let Some(s) = &mut self.shutdown
                        && !self.paused
                    {
                        s.seen_at.get_or_insert(at);
                    }
                }
                Transition::PowerOff => self.off(ShutoffReason::Shutdown, at),
                Transition::Crash => self.off(ShutoffReason::Crashed, at),
                Transition::GraceExpired => {
                    self.off(ShutoffReason::Destroyed { acpi_in_play: true }, at);
                    events.push(DomainEvent::Killed);
                }
            }
        }
        events
    }

    /// Asks the guest to shut down within `grace_seconds` (the VMI's current grace period; a
    /// shorter one moves the deadline). Grace 0 or a guest without ACPI is killed at once.
    pub fn request_shutdown(&mut self, grace_seconds: i64, now: Timestamp) -> Vec<DomainEvent> {
        if !self.is_alive() {
            return vec![];
        }
        if grace_seconds <= 0 || !self.acpi {
            self.off(
                ShutoffReason::Destroyed {
                    acpi_in_play: false,
                },
                now,
            );
            return vec![DomainEvent::Killed];
        }
        let grace = Duration::from_secs(grace_seconds.unsigned_abs());
        match &mut self.shutdown {
            Some(s) => {
                s.deadline = after(s.signalled_at, grace);
                vec![]
            }
            None => {
                let seen_at = self.guest_active().then_some(now);
                self.shutdown = Some(Shutdown {
                    signalled_at: now,
                    deadline: after(now, grace),
                    seen_at,
                });
                vec![DomainEvent::ShuttingDown]
            }
        }
    }

    /// The launcher or the hypervisor died (pod gone or killed).
    pub fn kill(&mut self, now: Timestamp) {
        if self.is_alive() {
            self.off(ShutoffReason::Crashed, now);
        }
    }

    /// Destroys the domain without involving the guest (its VMI is already final).
    pub fn destroy(&mut self, now: Timestamp) {
        if self.is_alive() {
            self.off(
                ShutoffReason::Destroyed {
                    acpi_in_play: false,
                },
                now,
            );
        }
    }

    /// Pauses or resumes the guest; a resumed guest sees a pending ACPI request.
    pub fn set_paused(&mut self, paused: bool, now: Timestamp) {
        if !self.is_alive() {
            return;
        }
        self.paused = paused;
        if !paused
            && self.is_running()
            && let Some(s) = &mut self.shutdown
        {
            s.seen_at.get_or_insert(now);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transition {
    Boot,
    PowerOff,
    Crash,
    GraceExpired,
}

#[cfg(test)]
mod tests {
    use super::*;
    use VirtualMachineInstancePhase::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    fn domain(injection: Injection) -> Domain {
        Domain {
            vmi_uid: "u".into(),
            namespace: "ns".into(),
            name: "v".into(),
            node: "node01".into(),
            pod_uid: "p".into(),
            state: DomainState::Starting { running_at: t(2) },
            paused: false,
            acpi: true,
            injection,
            shutdown_delay: Duration::from_secs(1),
            shutdown: None,
        }
    }

    fn secs(s: u64) -> Option<Duration> {
        Some(Duration::from_secs(s))
    }

    #[test]
    fn guest_timeline_table() {
        // (name, injection, acpi, steps: (time, action), expected phase at the end, events)
        enum Step {
            At(i64),
            Shutdown(i64, i64),
            Pause(i64, bool),
            Kill(i64),
        }
        use Step::*;
        type Case = (
            &'static str,
            Injection,
            bool,
            Vec<Step>,
            Option<VirtualMachineInstancePhase>,
            Vec<DomainEvent>,
        );
        let cases: Vec<Case> = vec![
            (
                "booting guest has no phase yet",
                Injection::default(),
                true,
                vec![At(1)],
                None,
                vec![],
            ),
            (
                "boot completes after the delay",
                Injection::default(),
                true,
                vec![At(2)],
                Some(Running),
                vec![],
            ),
            (
                "guest poweroff ends Succeeded",
                Injection {
                    poweroff_after: secs(5),
                    ..Default::default()
                },
                true,
                vec![At(7)],
                Some(Succeeded),
                vec![],
            ),
            (
                "poweroff is not due before its time",
                Injection {
                    poweroff_after: secs(5),
                    ..Default::default()
                },
                true,
                vec![At(6)],
                Some(Running),
                vec![],
            ),
            (
                "crash ends Failed",
                Injection {
                    crash_after: secs(3),
                    ..Default::default()
                },
                true,
                vec![At(100)],
                Some(Failed),
                vec![],
            ),
            (
                "the earlier of crash and poweroff wins",
                Injection {
                    crash_after: secs(3),
                    poweroff_after: secs(1),
                    ..Default::default()
                },
                true,
                vec![At(100)],
                Some(Succeeded),
                vec![],
            ),
            (
                "grace 0 destroys at once and ends Succeeded",
                Injection::default(),
                true,
                vec![At(3), Shutdown(3, 0)],
                Some(Succeeded),
                vec![DomainEvent::Killed],
            ),
            (
                "ACPI shutdown ends Succeeded after the guest's delay",
                Injection::default(),
                true,
                vec![At(3), Shutdown(3, 30), At(4)],
                Some(Succeeded),
                vec![DomainEvent::ShuttingDown],
            ),
            (
                "the shutdown is signalled once",
                Injection::default(),
                true,
                vec![At(3), Shutdown(3, 30), Shutdown(3, 30)],
                Some(Running),
                vec![DomainEvent::ShuttingDown],
            ),
            (
                "a guest ignoring ACPI is killed at grace expiry and ends Failed",
                Injection {
                    ignore_acpi: true,
                    ..Default::default()
                },
                true,
                vec![At(3), Shutdown(3, 5), At(7), At(8)],
                Some(Failed),
                vec![DomainEvent::ShuttingDown, DomainEvent::Killed],
            ),
            (
                "a shorter grace period moves the deadline",
                Injection {
                    ignore_acpi: true,
                    ..Default::default()
                },
                true,
                vec![At(3), Shutdown(3, 600), Shutdown(4, 2), At(5)],
                Some(Failed),
                vec![DomainEvent::ShuttingDown, DomainEvent::Killed],
            ),
            (
                "a guest without ACPI is destroyed at once and ends Succeeded",
                Injection::default(),
                false,
                vec![At(3), Shutdown(3, 30)],
                Some(Succeeded),
                vec![DomainEvent::Killed],
            ),
            (
                "a booting guest handles ACPI once running",
                Injection::default(),
                true,
                vec![Shutdown(0, 30), At(2), At(3)],
                Some(Succeeded),
                vec![DomainEvent::ShuttingDown],
            ),
            (
                "a paused guest cannot obey ACPI",
                Injection::default(),
                true,
                vec![At(3), Pause(3, true), Shutdown(4, 30), At(20)],
                Some(Running),
                vec![DomainEvent::ShuttingDown],
            ),
            (
                "an unpaused guest obeys the pending request",
                Injection::default(),
                true,
                vec![
                    At(3),
                    Pause(3, true),
                    Shutdown(4, 30),
                    Pause(20, false),
                    At(21),
                ],
                Some(Succeeded),
                vec![DomainEvent::ShuttingDown],
            ),
            (
                "a paused guest does not power itself off",
                Injection {
                    poweroff_after: secs(1),
                    ..Default::default()
                },
                true,
                vec![At(2), Pause(2, true), At(10)],
                Some(Running),
                vec![],
            ),
            (
                "a killed launcher ends Failed",
                Injection::default(),
                true,
                vec![At(3), Kill(3)],
                Some(Failed),
                vec![],
            ),
        ];
        for (name, injection, acpi, steps, phase, want_events) in cases {
            let mut d = domain(injection);
            d.acpi = acpi;
            let mut events = Vec::new();
            for step in steps {
                match step {
                    At(s) => events.extend(d.advance(t(s))),
                    Shutdown(s, grace) => {
                        events.extend(d.advance(t(s)));
                        events.extend(d.request_shutdown(grace, t(s)));
                    }
                    Pause(s, p) => {
                        events.extend(d.advance(t(s)));
                        d.set_paused(p, t(s));
                    }
                    Kill(s) => d.kill(t(s)),
                }
            }
            assert_eq!(d.phase(), phase, "{name}");
            assert_eq!(events, want_events, "{name}");
        }
    }

    #[test]
    fn wakeups_name_the_next_transition() {
        let mut d = domain(Injection {
            poweroff_after: secs(10),
            ..Default::default()
        });
        assert_eq!(d.next_wakeup(), Some(t(2)));
        d.advance(t(2));
        assert_eq!(d.next_wakeup(), Some(t(12)));
        d.request_shutdown(5, t(3));
        assert_eq!(
            d.next_wakeup(),
            Some(t(4)),
            "the guest obeys ACPI after one second"
        );
        d.advance(t(4));
        assert_eq!(d.next_wakeup(), None);
        assert!(!d.is_alive());
    }

    #[test]
    fn a_dead_domain_ignores_further_requests() {
        let mut d = domain(Injection::default());
        d.advance(t(2));
        d.kill(t(3));
        assert!(d.request_shutdown(30, t(4)).is_empty());
        d.set_paused(true, t(4));
        assert!(!d.paused);
        assert_eq!(d.phase(), Some(Failed));
    }
}
