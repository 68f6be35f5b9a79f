//! Readers of a monitor's state directory (`alerts.jsonl`, `monitor.state`).

use std::path::Path;
use std::time::{Duration, Instant};

/// The lines of `DIR/alerts.jsonl` of kind `kind`.
pub fn alerts_of(state: &Path, kind: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(state.join("alerts.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == kind)
        .collect()
}

/// Waits until `DIR/alerts.jsonl` holds an alert of kind `kind`.
pub fn wait_alert(state: &Path, kind: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(a) = alerts_of(state, kind).pop() {
            return a;
        }
        assert!(Instant::now() < deadline, "no {kind} alert");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The JSON header of `DIR/monitor.state`.
pub fn monitor_header(state: &Path) -> serde_json::Value {
    let b = std::fs::read(state.join("monitor.state")).unwrap();
    let n = u64::from_be_bytes(b[..8].try_into().unwrap()) as usize;
    serde_json::from_slice(&b[8..8 + n]).unwrap()
}
