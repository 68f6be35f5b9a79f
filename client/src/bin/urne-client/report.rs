//! `urne-client monitor report`: a self-contained HTML report of a monitor's state.
//!
//! Owns: the page: counts per election and type, the suspension timeline, charts of
//! ballots per hour and reissues per hour by channel (inline SVG, no script, no
//! external file), and every alert. Does not own: the numbers (`engine.rs` computed
//! them while verifying).

use crate::engine::{Alert, ElectionReport};
use crate::fail::{ctx, Fail, Kind, Res};
use crate::monitor::read_header;
use clap::Args;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use urne_client::statement::Time;

/// Arguments of `monitor report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The monitor's state directory.
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// The HTML file to write.
    #[arg(long, value_name = "FILE.html")]
    pub out: PathBuf,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];

/// Draws a stacked bar chart of hourly series as inline SVG.
fn bar_chart(title: &str, series: &BTreeMap<String, BTreeMap<i64, u64>>) -> String {
    let hours: Vec<i64> = {
        let mut h: Vec<i64> = series.values().flat_map(|m| m.keys().copied()).collect();
        h.sort_unstable();
        h.dedup();
        h
    };
    let mut out = format!("<h3>{}</h3>", esc(title));
    let (Some(&first), Some(&last)) = (hours.first(), hours.last()) else {
        out.push_str("<p class=muted>none</p>");
        return out;
    };
    let n = (last - first + 1).clamp(1, 24 * 60) as usize;
    let totals: Vec<u64> = (0..n)
        .map(|i| {
            series
                .values()
                .map(|m| m.get(&(first + i as i64)).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let max = totals.iter().copied().max().unwrap_or(1).max(1);
    let (w, h, left, bottom) = (760.0f64, 220.0f64, 50.0f64, 40.0f64);
    let bw = (w - left) / n as f64;
    let _ = write!(
        out,
        r#"<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{}">"#,
        esc(title)
    );
    let _ = write!(
        out,
        r##"<line x1="{left}" y1="{y}" x2="{w}" y2="{y}" stroke="#888"/>"##,
        y = h - bottom
    );
    let _ = write!(
        out,
        r##"<text x="4" y="14" font-size="11">{max}</text><text x="4" y="{}" font-size="11">0</text>"##,
        h - bottom
    );
    for i in 0..n {
        let hour = first + i as i64;
        let mut y = h - bottom;
        for (ci, (name, m)) in series.iter().enumerate() {
            let v = m.get(&hour).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            let bh = (h - bottom - 20.0) * v as f64 / max as f64;
            y -= bh;
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{bh:.1}" fill="{}"><title>{} {}: {v}</title></rect>"#,
                left + i as f64 * bw,
                (bw - 1.0).max(0.5),
                COLORS[ci % COLORS.len()],
                esc(name),
                Time(hour * 3600)
            );
        }
        if n <= 48 || i % (n / 24).max(1) == 0 {
            let label = Time(hour * 3600).to_string();
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{}" font-size="9" transform="rotate(30 {:.1} {})">{}</text>"#,
                left + i as f64 * bw,
                h - bottom + 12.0,
                left + i as f64 * bw,
                h - bottom + 12.0,
                esc(label.get(5..16).unwrap_or(&label))
            );
        }
    }
    out.push_str("</svg><p>");
    for (ci, name) in series.keys().enumerate() {
        let _ = write!(
            out,
            r#"<span class=key style="background:{}"></span>{} "#,
            COLORS[ci % COLORS.len()],
            esc(name)
        );
    }
    out.push_str("</p>");
    out
}

fn timeline(rep: &ElectionReport) -> String {
    let mut out = String::from("<h3>Timeline (lifecycle, suspensions, interventions)</h3><table><tr><th>entry</th><th>time</th><th>event</th><th>detail</th></tr>");
    for e in &rep.timeline {
        let cls = match e.kind.as_str() {
            "suspend" => " class=warn",
            "void" => " class=bad",
            _ => "",
        };
        let _ = write!(
            out,
            "<tr{cls}><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e.index,
            Time(e.time),
            esc(&e.kind),
            esc(&e.detail)
        );
    }
    out.push_str("</table>");
    // Suspension periods as a bar.
    let mut periods = Vec::new();
    let mut open_at = None;
    for e in &rep.timeline {
        match e.kind.as_str() {
            "suspend" => open_at = Some(e.time),
            "resume" | "close" | "void" => {
                if let Some(s) = open_at.take() {
                    periods.push((s, e.time));
                }
            }
            _ => {}
        }
    }
    if let Some(s) = open_at {
        periods.push((s, i64::MAX));
    }
    if !periods.is_empty() {
        out.push_str("<p>Suspended: ");
        for (s, e) in periods {
            if e == i64::MAX {
                let _ = write!(out, "<b>from {} (still suspended)</b>; ", Time(s));
            } else {
                let _ = write!(
                    out,
                    "<b>{} → {}</b> ({} min); ",
                    Time(s),
                    Time(e),
                    (e - s) / 60
                );
            }
        }
        out.push_str("</p>");
    }
    out
}

/// Writes the report.
///
/// # Errors
/// [`Kind::Other`] if the state is missing or unreadable or the file cannot be written.
pub fn run(a: &ReportArgs) -> Res<String> {
    let header = read_header(&a.state)?.ok_or_else(|| {
        Fail::new(
            Kind::Other,
            format!(
                "{} holds no monitor state: run `urne-client monitor --state {}` first",
                a.state.display(),
                a.state.display()
            ),
        )
    })?;
    let alerts_path = a.state.join("alerts.jsonl");
    let alerts: Vec<Alert> = match std::fs::read_to_string(&alerts_path) {
        Ok(t) => t
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    let size = header.compact.size();
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>urne monitor report</title><style>
body{{font:14px/1.4 system-ui,sans-serif;max-width:900px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left;vertical-align:top}}
.warn{{background:#fff4d6}}.bad,.critical{{background:#fde0e0}}.warning{{background:#fff4d6}}.info{{background:#eef5ff}}
.muted{{color:#888}}.key{{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}}code{{word-break:break-all}}
</style></head><body><h1>urne monitor report</h1>"#
    );
    let _ = write!(
        h,
        "<p>Log key <code>{}</code>. <b>{size}</b> entries verified: every signature, every election rule, the tree root (<code>{}</code>). Report written {}.</p>",
        esc(&header.log_key),
        esc(&urne_client::tree::hash_to_base64(&header.compact.root())),
        Time::now()
    );
    let crit = alerts.iter().filter(|a| a.severity == "critical").count();
    let warn = alerts.iter().filter(|a| a.severity == "warning").count();
    let _ = write!(
        h,
        "<p class={}>{} alerts: <b>{crit} critical</b>, {warn} warnings, {} informational.</p>",
        if crit > 0 { "bad" } else { "ok" },
        alerts.len(),
        alerts.len() - crit - warn
    );
    for (id, rep) in &header.reports {
        let _ = write!(
            h,
            "<h2>Election <code>{}</code> — {}</h2>",
            esc(id),
            esc(&rep.title)
        );
        h.push_str("<table><tr><th>statement type</th><th>entries</th></tr>");
        for (t, n) in &rep.counts {
            let _ = write!(h, "<tr><td>{}</td><td>{n}</td></tr>", esc(t));
        }
        let _ = write!(
            h,
            "<tr class={}><td>refused by the rules (yet in the log)</td><td>{}</td></tr></table>",
            if rep.violations > 0 { "bad" } else { "ok" },
            rep.violations
        );
        h.push_str(&timeline(rep));
        let mut ballots = BTreeMap::new();
        ballots.insert("ballots".to_string(), rep.ballots_per_hour.clone());
        h.push_str(&bar_chart("Ballots per hour", &ballots));
        h.push_str(&bar_chart(
            "Credential reissues per hour, by channel",
            &rep.reissues_per_hour,
        ));
    }
    h.push_str("<h2>Alerts</h2>");
    if alerts.is_empty() {
        h.push_str("<p>No alert.</p>");
    } else {
        h.push_str("<table><tr><th>severity</th><th>kind</th><th>entry</th><th>time</th><th>message</th></tr>");
        for al in &alerts {
            let _ = write!(
                h,
                "<tr class={}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
                esc(&al.severity),
                esc(&al.severity),
                esc(&al.kind),
                al.index.map(|i| i.to_string()).unwrap_or_default(),
                esc(al.time.as_deref().unwrap_or(&al.detected)),
                esc(&al.message),
                al.evidence
                    .as_ref()
                    .map(|e| format!(
                        "<details><summary>evidence</summary><pre>{}</pre></details>",
                        esc(&serde_json::to_string_pretty(e).unwrap_or_default())
                    ))
                    .unwrap_or_default()
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</body></html>\n");
    std::fs::write(&a.out, h).map_err(ctx(Kind::Other, format!("writing {}", a.out.display())))?;
    Ok(format!(
        "report of {size} entries and {} alerts written to {}",
        alerts.len(),
        a.out.display()
    ))
}
