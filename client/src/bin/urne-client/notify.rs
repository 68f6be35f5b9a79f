//! Delivery of alerts: standard output, a command (`--exec`), a webhook (`--webhook`).
//!
//! Owns: how one alert (a JSON object) leaves the process. Does not own: what is
//! alerted (`alerts.rs`, `monitor.rs`).

use crate::http::post_json;

/// Where alerts go besides the terminal.
#[derive(Clone, Debug, Default)]
pub struct Sinks {
    /// A shell command run per alert, with the alert JSON in `URNE_ALERT` and on
    /// standard input.
    pub exec: Option<String>,
    /// A URL each alert is POSTed to as JSON.
    pub webhook: Option<String>,
}

impl Sinks {
    /// Delivers one alert to the command and the webhook; failures are reported on
    /// standard error and do not stop the watch.
    pub fn deliver(&self, alert: &serde_json::Value) {
        let text = alert.to_string();
        if let Some(cmd) = &self.exec {
            let child = std::process::Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .env("URNE_ALERT", &text)
                .env("URNE_KIND", alert["kind"].as_str().unwrap_or(""))
                .env(
                    "URNE_INDEX",
                    alert["index"]
                        .as_u64()
                        .map(|i| i.to_string())
                        .unwrap_or_default(),
                )
                .stdin(std::process::Stdio::piped())
                .spawn();
            match child {
                Ok(mut c) => {
                    if let Some(mut stdin) = c.stdin.take() {
                        use std::io::Write;
                        let _ = stdin.write_all(text.as_bytes());
                    }
                    match c.wait() {
                        Ok(s) if s.success() => {}
                        Ok(s) => eprintln!("urne-client: --exec command exited with {s}"),
                        Err(e) => eprintln!("urne-client: --exec command: {e}"),
                    }
                }
                Err(e) => eprintln!("urne-client: cannot run --exec command: {e}"),
            }
        }
        if let Some(url) = &self.webhook {
            if let Err(e) = post_json(url, alert) {
                eprintln!("urne-client: {e}");
            }
        }
    }
}
