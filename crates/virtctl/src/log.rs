//! Diagnostic lines on standard error in upstream's JSON log format
//! (`{"component":"portforward","level":"info","msg":"...","timestamp":"..."}`), gated by
//! `-v` as KubeVirt's `log.Log.V(n)` is.

use std::sync::atomic::{AtomicI64, Ordering};

static VERBOSITY: AtomicI64 = AtomicI64::new(2);

/// Sets the level of `-v`.
pub fn set_verbosity(level: i64) {
    VERBOSITY.store(level, Ordering::Relaxed);
}

/// Whether messages of level `v` are shown.
pub fn enabled(v: i64) -> bool {
    VERBOSITY.load(Ordering::Relaxed) >= v
}

/// One log line.
pub fn line(component: &str, level: &str, msg: &str) -> String {
    let timestamp = jiff::Timestamp::now().to_string();
    serde_json::json!({
        "component": component,
        "level": level,
        "msg": msg,
        "timestamp": timestamp,
    })
    .to_string()
}

/// An info message of verbosity `v`.
pub fn info(component: &str, v: i64, msg: &str) {
    if enabled(v) {
        eprintln!("{}", line(component, "info", msg));
    }
}

/// An error message (always shown).
pub fn error(component: &str, msg: &str) {
    eprintln!("{}", line(component, "error", msg));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_json_with_the_upstream_keys() {
        let l: serde_json::Value = serde_json::from_str(&line("vnc", "info", "hello")).unwrap();
        assert_eq!(l["component"], "vnc");
        assert_eq!(l["level"], "info");
        assert_eq!(l["msg"], "hello");
        assert!(l["timestamp"].as_str().unwrap().ends_with('Z'));
    }
}
