//! Failure injection and timing overrides read from the VMI's annotations (see the module
//! documentation of [`super`] for the list).

use std::time::Duration;

use api::VirtualMachineInstance;

/// Prefix of every simulation annotation.
pub const PREFIX: &str = "simulation.kubevirt.io/";
/// The guest powers itself off this long after it started running (ends Succeeded).
pub const POWEROFF_AFTER: &str = "simulation.kubevirt.io/poweroff-after";
/// The hypervisor process dies this long after the guest started running (ends Failed).
pub const CRASH_AFTER: &str = "simulation.kubevirt.io/crash-after";
/// `"true"`: the launcher exits with an error before the guest starts; the pod fails.
pub const FAIL_TO_START: &str = "simulation.kubevirt.io/fail-to-start";
/// `"true"`: the guest ignores ACPI power-button requests; it is killed at grace expiry.
pub const IGNORE_ACPI: &str = "simulation.kubevirt.io/ignore-acpi";
/// `"ErrImagePull"` (any non-empty value but `"false"`): the launcher image cannot be pulled.
pub const IMAGE_PULL: &str = "simulation.kubevirt.io/image-pull";
/// Time from Scheduled to Running, overriding the driver's default.
pub const BOOT_DELAY: &str = "simulation.kubevirt.io/boot-delay";
/// Time the guest takes to power off after an ACPI request, overriding the driver's default.
pub const SHUTDOWN_DELAY: &str = "simulation.kubevirt.io/shutdown-delay";
/// `"false"`: no guest agent; no AgentConnected condition and no guest OS information.
pub const GUEST_AGENT: &str = "simulation.kubevirt.io/guest-agent";
/// Image names (last path component, without tag) that can never be pulled.
pub const UNPULLABLE_IMAGE: &str = "no-such-image";

/// The simulation settings of one VMI.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Injection {
    pub poweroff_after: Option<Duration>,
    pub crash_after: Option<Duration>,
    pub fail_to_start: bool,
    pub ignore_acpi: bool,
    pub image_pull_error: bool,
    pub boot_delay: Option<Duration>,
    pub shutdown_delay: Option<Duration>,
    pub no_guest_agent: bool,
}

impl Injection {
    /// Reads the annotations of `vmi`. Values that do not parse are ignored and reported in the
    /// second element, as `annotation: value`.
    pub fn from_vmi(vmi: &VirtualMachineInstance) -> (Injection, Vec<String>) {
        let mut out = Injection::default();
        let mut invalid = Vec::new();
        let Some(annotations) = &vmi.metadata.annotations else {
            return (out, invalid);
        };
        for (key, value) in annotations.range(PREFIX.to_string()..) {
            if !key.starts_with(PREFIX) {
                break;
            }
            let mut duration = |slot: &mut Option<Duration>| match parse_duration(value) {
                Some(d) => *slot = Some(d),
                None => invalid.push(format!("{key}: {value}")),
            };
            match key.as_str() {
                POWEROFF_AFTER => duration(&mut out.poweroff_after),
                CRASH_AFTER => duration(&mut out.crash_after),
                BOOT_DELAY => duration(&mut out.boot_delay),
                SHUTDOWN_DELAY => duration(&mut out.shutdown_delay),
                FAIL_TO_START => out.fail_to_start = is_true(value),
                IGNORE_ACPI => out.ignore_acpi = is_true(value),
                IMAGE_PULL => out.image_pull_error = !value.is_empty() && value != "false",
                GUEST_AGENT => out.no_guest_agent = value == "false",
                _ => invalid.push(format!("{key}: {value}")),
            }
        }
        (out, invalid)
    }
}

fn is_true(value: &str) -> bool {
    value.eq_ignore_ascii_case("true")
}

/// True for images that can never be pulled: the last path component, without tag or digest,
/// is [`UNPULLABLE_IMAGE`].
pub fn is_unpullable(image: &str) -> bool {
    let name = image.rsplit('/').next().unwrap_or(image);
    let name = name.split(['@', ':']).next().unwrap_or(name);
    name == UNPULLABLE_IMAGE
}

/// Parses a Go-style duration (`300ms`, `5s`, `1m30s`, `1.5h`); a bare number means seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return (seconds >= 0.0 && seconds.is_finite()).then(|| Duration::from_secs_f64(seconds));
    }
    let mut total = 0f64;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (number, tail) = rest.split_at(split);
        let value: f64 = number.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * scale;
        rest = tail;
    }
    total.is_finite().then(|| Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn vmi(annotations: &[(&str, &str)]) -> VirtualMachineInstance {
        let mut vmi = VirtualMachineInstance::new("v", Default::default());
        vmi.metadata.annotations = Some(
            annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        );
        vmi
    }

    #[test]
    fn durations_parse_like_go() {
        let cases = [
            ("5s", Some(5_000)),
            ("300ms", Some(300)),
            ("1m30s", Some(90_000)),
            ("1.5h", Some(5_400_000)),
            ("2", Some(2_000)),
            ("0", Some(0)),
            ("", None),
            ("5x", None),
            ("-1s", None),
            ("s", None),
        ];
        for (text, millis) in cases {
            assert_eq!(
                parse_duration(text).map(|d| d.as_millis() as u64),
                millis,
                "{text}"
            );
        }
    }

    #[test]
    fn annotations_set_the_injection() {
        let (inj, invalid) = Injection::from_vmi(&vmi(&[
            (POWEROFF_AFTER, "5s"),
            (CRASH_AFTER, "1m"),
            (FAIL_TO_START, "true"),
            (IGNORE_ACPI, "True"),
            (IMAGE_PULL, "ErrImagePull"),
            (BOOT_DELAY, "100ms"),
            (SHUTDOWN_DELAY, "2s"),
            (GUEST_AGENT, "false"),
            ("other.io/x", "y"),
        ]));
        assert!(invalid.is_empty(), "{invalid:?}");
        assert_eq!(
            inj,
            Injection {
                poweroff_after: Some(Duration::from_secs(5)),
                crash_after: Some(Duration::from_secs(60)),
                fail_to_start: true,
                ignore_acpi: true,
                image_pull_error: true,
                boot_delay: Some(Duration::from_millis(100)),
                shutdown_delay: Some(Duration::from_secs(2)),
                no_guest_agent: true,
            }
        );
    }

    #[test]
    fn bad_values_and_unknown_keys_are_reported_and_ignored() {
        let (inj, invalid) = Injection::from_vmi(&vmi(&[
            (POWEROFF_AFTER, "soon"),
            ("simulation.kubevirt.io/typo", "1"),
        ]));
        assert_eq!(inj, Injection::default());
        assert_eq!(invalid.len(), 2);
    }

    #[test]
    fn unpullable_images_are_recognised_by_name() {
        assert!(is_unpullable("no-such-image"));
        assert!(is_unpullable("quay.io/x/no-such-image:latest"));
        assert!(is_unpullable("no-such-image@sha256:abc"));
        assert!(!is_unpullable("quay.io/containerdisks/fedora:41"));
        assert!(!is_unpullable("no-such-image-really"));
    }
}
