//! `urne-client monitor report`: the monitor's findings as a self-contained HTML page,
//! in French first (`--lang en` for English), printable as an annex to the bureau's
//! procès-verbal.
//!
//! Owns: the page and its words: the log verified and its last checkpoint with the
//! witnesses that cosigned it; every alert, worded from its facts (the monitor's own
//! message, in English, is kept as a technical detail); per election the counts,
//! turnout against the sealed roll, the timeline (seal, opening, each suspension with
//! its reason and duration, interventions, closing, results), reissues by channel and
//! reason, bursts with their share of the electorate, the ballot-rate alarm
//! ([`urne_client::ballot_rate`], the same rule as the web dashboard) and hourly charts
//! (inline SVG, no script: bars spanning their hour, suspensions shaded over exactly
//! their times, one chart per reissue channel on its own scale, the same hours as the
//! dashboard's). Does not own: the numbers (`engine.rs` computed them while verifying).

use crate::engine::{Alert, Burst, ElectionReport, TimelineEvent};
use crate::fail::{ctx, Fail, Kind, Res};
use crate::monitor::read_header;
use clap::{Args, ValueEnum};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use urne_client::ballot_rate;
use urne_client::statement::Time;

/// The report's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// French (the default: the bureau's and the union delegates' language).
    Fr,
    /// English.
    En,
}

/// Arguments of `monitor report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The monitor's state directory.
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// The HTML file to write.
    #[arg(long, value_name = "FILE.html")]
    pub out: PathBuf,
    /// Language of the report.
    #[arg(long, value_enum, default_value_t = Lang::Fr)]
    pub lang: Lang,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The words of the report in its language.
struct W {
    lang: Lang,
    /// The monitor's reissue-burst bound (reissues per sliding hour), if known.
    burst_bound: Option<u64>,
}

impl W {
    fn t<'a>(&self, fr: &'a str, en: &'a str) -> &'a str {
        match self.lang {
            Lang::Fr => fr,
            Lang::En => en,
        }
    }

    /// A count, grouped by thousands the local way.
    fn n(&self, n: u64) -> String {
        let s = n.to_string();
        let sep = self.t("\u{202f}", ",");
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push_str(sep);
            }
            out.push(c);
        }
        out
    }

    /// A share as a percentage with one decimal.
    fn pct(&self, n: u64, of: u64) -> String {
        if of == 0 {
            return "–".into();
        }
        let tenths = (n as u128 * 1000 + of as u128 / 2) / of as u128;
        let s = format!("{}.{}", tenths / 10, tenths % 10);
        match self.lang {
            Lang::Fr => format!("{}\u{202f}%", s.replace('.', ",")),
            Lang::En => format!("{s}%"),
        }
    }

    /// A date and time (UTC, said once at the top of the report).
    fn time(&self, t: i64) -> String {
        let s = Time(t).to_string(); // YYYY-MM-DDTHH:MM:SSZ
        let (date, clock) = (&s[..10], &s[11..19]);
        let (y, m, d) = (&date[..4], &date[5..7], &date[8..10]);
        let months_fr = [
            "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
            "nov.", "déc.",
        ];
        let months_en = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let mi = m.parse::<usize>().unwrap_or(1).clamp(1, 12) - 1;
        let d = d.trim_start_matches('0');
        match self.lang {
            Lang::Fr => format!("{d} {} {y} à {clock}", months_fr[mi]),
            Lang::En => format!("{d} {} {y}, {clock}", months_en[mi]),
        }
    }

    /// An hour bucket: "14:00–15:00, 3 déc.".
    fn hour(&self, h: i64) -> String {
        let a = Time(h).to_string();
        let b = Time(h + 3600).to_string();
        let full = self.time(h);
        let day = full.split(' ').take(2).collect::<Vec<_>>().join(" ");
        format!("{}–{}, {day}", &a[11..16], &b[11..16])
    }

    /// A duration: "30 min", "1 h 05".
    fn duration(&self, secs: i64) -> String {
        let m = (secs.max(0) + 30) / 60;
        if m < 60 {
            format!("{m} min")
        } else {
            format!("{} h {:02}", m / 60, m % 60)
        }
    }

    fn channel(&self, c: &str) -> String {
        let (fr, en) = match c {
            "mail" => ("courriel", "e-mail"),
            "postal" => ("courrier postal", "post"),
            "sms" => ("SMS", "SMS"),
            "helpdesk" => ("assistance téléphonique", "helpdesk (phone)"),
            "in-person" => ("en personne", "in person"),
            "batch" => ("envoi groupé", "batch"),
            other => (other, other),
        };
        self.t(fr, en).to_string()
    }

    fn reason(&self, r: &str) -> String {
        let (fr, en) = match r {
            "initial" => ("envoi initial", "initial issue"),
            "reissue-lost" => ("identifiant perdu", "credential lost"),
            "reissue-leak" => ("fuite d'identifiants", "credential leak"),
            "reissue-helpdesk" => ("demande à l'assistance", "helpdesk request"),
            other => (other, other),
        };
        self.t(fr, en).to_string()
    }

    fn kind(&self, k: &str) -> String {
        let (fr, en) = match k {
            "election" => ("Scellement de l'élection", "Election sealed"),
            "open" => ("Ouverture du vote", "Voting opened"),
            "suspend" => ("Suspension", "Suspension"),
            "resume" => ("Reprise", "Resumption"),
            "close" => ("Clôture", "Closing"),
            "results" => ("Résultats", "Results"),
            "void" => ("Élection annulée", "Election void"),
            "intervention" => ("Intervention", "Intervention"),
            other => (other, other),
        };
        self.t(fr, en).to_string()
    }

    fn severity(&self, s: &str) -> String {
        let (fr, en) = match s {
            "critical" => ("critique", "critical"),
            "warning" => ("à examiner", "warning"),
            "info" => ("information", "information"),
            other => (other, other),
        };
        self.t(fr, en).to_string()
    }

    /// The label of an alert kind.
    fn alert_kind(&self, k: &str) -> String {
        let (fr, en) = match k {
            "rollback" => ("Registre remis en arrière", "Log rolled back"),
            "fork" => ("Fourche du registre", "Log fork"),
            "equivocation" => ("Double jeu (équivocation)", "Equivocation"),
            "stale_log" => ("Registre figé", "Stale log"),
            "rule_violation" => ("Entrée contraire aux règles", "Rule violation"),
            "reissue_burst" => ("Vague de réémissions", "Burst of reissues"),
            "reissue_then_vote" => (
                "Vote juste après une réémission",
                "Vote right after a reissue",
            ),
            "suspension" => ("Suspension du vote", "Voting suspended"),
            "resumption" => ("Reprise du vote", "Voting resumed"),
            "bad_tiles" => ("Tuiles non conformes", "Bad tiles"),
            "ballot_rate" => ("Chute du vote", "Voting collapse"),
            other => (other, other),
        };
        self.t(fr, en).to_string()
    }
}

/// Suspension periods `(from, to, reason)` from a timeline; `to` is `None` while still
/// suspended.
fn suspensions(tl: &[TimelineEvent]) -> Vec<(i64, Option<i64>, String)> {
    let mut out: Vec<(i64, Option<i64>, String)> = Vec::new();
    for e in tl {
        match e.kind.as_str() {
            "suspend" => out.push((
                e.time,
                None,
                e.facts.reason.clone().unwrap_or_else(|| e.detail.clone()),
            )),
            "resume" | "close" | "void" => {
                if let Some(last) = out.last_mut() {
                    if last.1.is_none() {
                        last.1 = Some(e.time);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The hours of an election's charts, as the dashboard chooses them: every hour from
/// the first lifecycle event or count to the last, or to now while voting is open
/// (hour starts, Unix seconds).
fn chart_hours(rep: &ElectionReport) -> Vec<i64> {
    let mut marks: Vec<i64> = rep.ballots_per_hour.keys().map(|h| h * 3600).collect();
    marks.extend(
        rep.reissues_per_hour
            .values()
            .flat_map(|m| m.keys().map(|h| h * 3600)),
    );
    marks.extend(
        rep.timeline
            .iter()
            .filter(|e| e.kind != "election")
            .map(|e| e.time.div_euclid(3600) * 3600),
    );
    // Still open or suspended: up to the hour of now, as the dashboard draws it.
    let last = rep
        .timeline
        .iter()
        .rev()
        .find(|e| ballot_rate::Lifecycle::from_kind(&e.kind).is_some());
    if last.is_some_and(|e| matches!(e.kind.as_str(), "open" | "suspend" | "resume")) {
        marks.push(Time::now().0.div_euclid(3600) * 3600);
    }
    let (Some(&lo), Some(&hi)) = (marks.iter().min(), marks.iter().max()) else {
        return Vec::new();
    };
    (0..)
        .map(|i| lo + i * 3600)
        .take_while(|h| *h <= hi)
        .take(24 * 60)
        .collect()
}

/// A tick step giving about five gridlines up to `max`.
fn tick_step(max: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            if max / (step * m) <= 5 {
                return step * m;
            }
        }
        step = step.saturating_mul(10);
    }
}

/// One hourly bar chart as inline SVG: bars from each hour's start to its end, the
/// suspensions shaded at their exact times, a counted Y axis, hour labels.
fn hourly_svg(
    w: &W,
    id: &str,
    title: &str,
    hours: &[i64],
    values: &[u64],
    color: &str,
    susp: &[(i64, Option<i64>, String)],
) -> String {
    let (width, height) = (760.0f64, 230.0f64);
    let (left, right, top, bottom) = (58.0f64, 12.0f64, 10.0f64, 46.0f64);
    let (Some(&lo), Some(&last)) = (hours.first(), hours.last()) else {
        return String::new();
    };
    let hi = (last + 3600).max(lo + 6 * 3600);
    let pw = width - left - right;
    let ph = height - top - bottom;
    let x = |t: i64| left + (t - lo) as f64 / (hi - lo) as f64 * pw;
    let max = values.iter().copied().max().unwrap_or(0);
    let step = tick_step(max.max(1));
    let ymax = (max.max(1) * 115 / 100).max(max + 1).div_ceil(step) * step;
    let y = |v: u64| top + ph - v as f64 / ymax as f64 * ph;
    let total: u64 = values.iter().sum();
    let peak = values
        .iter()
        .enumerate()
        .max_by_key(|(_, v)| **v)
        .map(|(i, _)| i)
        .unwrap_or(0);
    let mut desc = format!(
        "{} {} {} {} : {} {}, {} {} {}.",
        esc(title),
        w.t("de", "from"),
        w.hour(lo),
        w.t("à", "to"),
        w.n(total),
        w.t("au total", "in all"),
        w.t("au plus", "at most"),
        w.n(values.get(peak).copied().unwrap_or(0)),
        w.hour(hours[peak]),
    );
    if w.lang == Lang::En {
        desc = desc.replace(" : ", ": ");
    }
    for (a, b, _) in susp {
        let _ = write!(
            desc,
            " {} {} {} {}.",
            w.t("Vote suspendu du", "Voting suspended from"),
            w.time(*a),
            w.t("au", "to"),
            b.map(|b| w.time(b)).unwrap_or_else(|| "…".into())
        );
    }
    let mut s = format!(
        r#"<figure class=chart><figcaption id="{id}-t">{}</figcaption><svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-labelledby="{id}-t" aria-describedby="{id}-d" data-x-min="{lo}" data-x-max="{hi}" data-plot-left="{left}" data-plot-width="{pw}"><desc id="{id}-d">{desc}</desc>"#,
        esc(title)
    );
    // Suspensions first: the bars are drawn over them.
    for (a, b, _) in susp {
        let a = (*a).clamp(lo, hi);
        let b = b.unwrap_or(hi).clamp(lo, hi);
        if b > a {
            let _ = write!(
                s,
                r##"<rect class=band x="{:.1}" y="{top}" width="{:.1}" height="{ph}" fill="#cf222e" fill-opacity="0.15"/>"##,
                x(a),
                (x(b) - x(a)).max(1.0)
            );
        }
    }
    let mut v = 0;
    while v <= ymax {
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="#000" stroke-opacity="{}"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
            width - right,
            if v == 0 { "0.5" } else { "0.1" },
            left - 6.0,
            y(v) + 4.0,
            w.n(v),
            yy = y(v)
        );
        v += step;
    }
    for (i, (&h, &n)) in hours.iter().zip(values).enumerate() {
        if n > 0 {
            let _ = write!(
                s,
                r#"<rect class=bar data-hour="{h}" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{color}"><title>{} : {}</title></rect>"#,
                x(h),
                y(n),
                (x(h + 3600) - x(h) - 2.0).max(0.5),
                y(0) - y(n),
                w.hour(h),
                w.n(n)
            );
        }
        let every = (hours.len() / 12).max(1);
        if i % every == 0 {
            let label = Time(h).to_string();
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"#,
                x(h),
                top + ph + 14.0,
                &label[11..16]
            );
            if i == 0 || Time(h - 3600 * every as i64).to_string()[..10] != label[..10] {
                let day = w.time(h).split(' ').take(2).collect::<Vec<_>>().join(" ");
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"#,
                    x(h),
                    top + ph + 27.0,
                    esc(&day)
                );
            }
        }
    }
    s.push_str("</svg><p class=legend>");
    let _ = write!(
        s,
        r#"<span class=key style="background:{color}"></span>{} ({} {})"#,
        esc(title),
        w.n(total),
        w.t("au total", "in all")
    );
    if !susp.is_empty() {
        let _ = write!(
            s,
            r#" <span class="key band"></span>{}"#,
            w.t("vote suspendu", "voting suspended")
        );
    }
    s.push_str("</p></figure>");
    s
}

const CHANNEL_COLORS: [(&str, &str); 6] = [
    ("mail", "#1f6feb"),
    ("postal", "#8250df"),
    ("sms", "#1a7f37"),
    ("helpdesk", "#cf222e"),
    ("in-person", "#9a6700"),
    ("batch", "#57606a"),
];

/// An alert in the report's words, from its facts.
fn alert_text(w: &W, a: &Alert, reports: &BTreeMap<String, ElectionReport>) -> String {
    let rep = a.election.as_ref().and_then(|e| reports.get(e));
    let event = || {
        rep.and_then(|r| r.timeline.iter().find(|e| Some(e.index) == a.index))
            .and_then(|e| e.facts.reason.clone().or_else(|| Some(e.detail.clone())))
            .unwrap_or_default()
    };
    match a.kind.as_str() {
        "reissue_burst" => {
            let burst: Option<&Burst> = rep.and_then(|r| r.bursts.iter().find(|b| Some(b.index) == a.index));
            let Some(b) = burst else {
                return w
                    .t(
                        "Plus de réémissions en une heure que le seuil de la surveillance.",
                        "More reissues within an hour than the monitor's bound.",
                    )
                    .into();
            };
            let span = if b.from == b.to {
                format!("{} {}", w.t("le", "on"), w.time(b.from))
            } else {
                format!(
                    "{} {} {} {}",
                    w.t("du", "from"),
                    w.time(b.from),
                    w.t("au", "to"),
                    w.time(b.to)
                )
            };
            let share = match rep.and_then(|r| r.electorate) {
                Some(el) => format!(
                    ", {} {} {} {}",
                    w.t("soit", "that is"),
                    w.pct(b.count, el),
                    w.t("des inscrits, sur", "of the registered voters, out of"),
                    w.n(el)
                ),
                None => w
                    .t(
                        " (l'élection n'a pas scellé de liste électorale : part des inscrits inconnue)",
                        " (the election sealed no roll: share of the electorate unknown)",
                    )
                    .into(),
            };
            let bound = w
                .burst_bound
                .map(|n| {
                    format!(
                        " {} {} {}.",
                        w.t("Seuil de la surveillance :", "The monitor's bound:"),
                        w.n(n),
                        w.t("par heure glissante", "per sliding hour")
                    )
                })
                .unwrap_or_default();
            format!(
                "{} {} {span}{share}.{bound}",
                w.n(b.count),
                w.t("réémissions d'identifiants", "credential reissues"),
            )
        }
        "reissue_then_vote" => w
            .t(
                "Un bulletin a été déposé peu après une réémission de son identifiant par l'assistance : possible vote à la place de l'électeur.",
                "A ballot was cast soon after a helpdesk reissue of its credential: someone may have voted in the voter's place.",
            )
            .into(),
        "suspension" => format!("{} {}", w.t("Vote suspendu :", "Voting suspended:"), esc(&event())),
        "resumption" => format!("{} {}", w.t("Vote repris :", "Voting resumed:"), esc(&event())),
        "rollback" => w.t("Le registre a montré moins d'entrées qu'un point de contrôle déjà vérifié : il a été remis en arrière.", "The log showed fewer entries than a checkpoint already verified: it was rolled back.").into(),
        "fork" => w.t("Le registre a signé deux arbres différents de même taille.", "The log signed two different trees of the same size.").into(),
        "equivocation" => w.t("Le registre montre des historiques différents selon qui le consulte.", "The log shows different histories to different parties.").into(),
        "stale_log" => w.t("Aucun nouveau point de contrôle pendant que l'élection était ouverte.", "No new checkpoint while the election was open.").into(),
        "rule_violation" => w.t("Une entrée contraire aux règles de l'élection figure pourtant au registre.", "An entry the election's rules refuse is in the log.").into(),
        "bad_tiles" => w.t("Les entrées servies ne correspondent pas au point de contrôle signé.", "The entries served do not match the signed checkpoint.").into(),
        _ => w.t("Alerte de la surveillance.", "Monitor alert.").into(),
    }
}

fn alert_rows(w: &W, alerts: &[&Alert], reports: &BTreeMap<String, ElectionReport>) -> String {
    let mut h = format!(
        "<table class=alerts><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        w.t("Gravité", "Severity"),
        w.t("Alerte", "Alert"),
        w.t("Position", "Entry"),
        w.t("Heure", "Time"),
        w.t("Description", "Description"),
    );
    for a in alerts {
        // The entry's time, or when the monitor raised it.
        let raw = a.time.as_deref().unwrap_or(&a.detected);
        let time = raw
            .parse::<Time>()
            .map(|t| w.time(t.0))
            .unwrap_or_else(|_| esc(raw));
        let _ = write!(
            h,
            r#"<tr class="{sev}" data-alert="{kind}" data-index="{idx}"><td>{}</td><td>{}</td><td class=num>{}</td><td>{time}</td><td>{}<details><summary>{}</summary><pre lang=en>{}{}</pre></details></td></tr>"#,
            w.severity(&a.severity),
            esc(&w.alert_kind(&a.kind)),
            a.index.map(|i| w.n(i)).unwrap_or_default(),
            alert_text(w, a, reports),
            w.t("Détail technique (en anglais)", "Technical detail"),
            esc(&a.message),
            a.evidence
                .as_ref()
                .map(|e| format!(
                    "\n{}",
                    esc(&serde_json::to_string_pretty(e).unwrap_or_default())
                ))
                .unwrap_or_default(),
            sev = esc(&a.severity),
            kind = esc(&a.kind),
            idx = a.index.map(|i| i.to_string()).unwrap_or_default(),
        );
    }
    h.push_str("</tbody></table>");
    h
}

/// The last checkpoint: size, root, and who signed it (the log, then each witness
/// with the time of its cosignature).
fn checkpoint_section(w: &W, note: Option<&str>, log_name: &str) -> String {
    use base64::Engine as _;
    let mut h = format!(
        "<h2>{}</h2>",
        w.t(
            "Dernier point de contrôle vérifié",
            "Last checkpoint verified"
        )
    );
    let Some(note) = note else {
        h.push_str(w.t("<p>Aucun.</p>", "<p>None.</p>"));
        return h;
    };
    let mut lines = note.lines();
    let origin = lines.next().unwrap_or_default();
    let size: u64 = lines.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let root = lines.next().unwrap_or_default();
    let mut witnesses = Vec::new();
    for l in note.lines().filter_map(|l| l.strip_prefix("\u{2014} ")) {
        let Some((name, b64)) = l.split_once(' ') else {
            continue;
        };
        if name == log_name {
            continue;
        }
        let at = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .ok()
            .filter(|raw| raw.len() == 4 + 8 + 64)
            .map(|raw| {
                let mut ts = [0u8; 8];
                ts.copy_from_slice(&raw[4..12]);
                i64::try_from(u64::from_be_bytes(ts)).unwrap_or(0)
            });
        witnesses.push((name.to_string(), at));
    }
    let _ = write!(
        h,
        "<table class=meta><tr><th>{}</th><td><code>{}</code></td></tr><tr><th>{}</th><td data-count=checkpoint>{}</td></tr><tr><th>{}</th><td><code>{}</code></td></tr><tr><th>{}</th><td>{}</td></tr></table>",
        w.t("Registre", "Log"),
        esc(origin),
        w.t("Taille (entrées)", "Size (entries)"),
        w.n(size),
        w.t("Racine", "Root"),
        esc(root),
        w.t("Témoins qui l'ont contresigné", "Witnesses that cosigned it"),
        if witnesses.is_empty() {
            w.t("aucun", "none").to_string()
        } else {
            witnesses
                .iter()
                .map(|(n, at)| match at {
                    Some(t) => format!("<span class=witness>{}</span> ({} {})", esc(n), w.t("le", "on"), w.time(*t)),
                    None => format!("<span class=witness>{}</span>", esc(n)),
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    let _ = write!(
        h,
        "<details><summary>{}</summary><pre>{}</pre></details>",
        w.t(
            "Le point de contrôle signé, tel quel",
            "The signed checkpoint, as is"
        ),
        esc(note)
    );
    h
}

fn election_section(
    w: &W,
    id: &str,
    rep: &ElectionReport,
    alerts: &[&Alert],
    reports: &BTreeMap<String, ElectionReport>,
) -> String {
    let mut h = format!(
        r#"<section class=election data-election="{}"><h2>{} « {} » <code>{}</code></h2>"#,
        esc(id),
        w.t("Élection", "Election"),
        esc(&rep.title),
        esc(id)
    );
    if w.lang == Lang::En {
        h = h.replace('«', "“").replace('»', "”");
    }
    let count = |k: &str| rep.counts.get(k).copied().unwrap_or(0);
    let reissues: u64 = rep
        .reissues_per_hour
        .values()
        .flat_map(|m| m.values())
        .sum();
    let susp = suspensions(&rep.timeline);
    let last_time = rep.timeline.last().map(|e| e.time).unwrap_or(0);
    let suspended_secs: i64 = susp
        .iter()
        .map(|(a, b, _)| b.unwrap_or(last_time.max(*a)) - a)
        .sum();
    let interventions: Vec<&TimelineEvent> = rep
        .timeline
        .iter()
        .filter(|e| e.kind == "intervention")
        .collect();

    // Counts.
    let _ = write!(
        h,
        "<h3>{}</h3><table class=counts>",
        w.t("Chiffres", "Counts")
    );
    let rows: Vec<(&str, String, String)> = vec![
        (
            "ballot",
            w.t("Bulletins", "Ballots").into(),
            w.n(count("ballot")),
        ),
        (
            "electorate",
            w.t(
                "Inscrits (liste scellée)",
                "Registered voters (sealed roll)",
            )
            .into(),
            rep.electorate
                .map(|n| w.n(n))
                .unwrap_or_else(|| w.t("non scellée", "not sealed").into()),
        ),
        (
            "credential",
            w.t(
                "Électeurs ayant reçu un identifiant",
                "Voters given a credential",
            )
            .into(),
            w.n(count("credential").saturating_sub(reissues)),
        ),
        (
            "reissue",
            w.t("Réémissions d'identifiants", "Credential reissues")
                .into(),
            w.n(reissues),
        ),
        (
            "revoke",
            w.t("Révocations", "Revocations").into(),
            w.n(count("revoke")),
        ),
        (
            "suspend",
            w.t("Suspensions", "Suspensions").into(),
            format!(
                "{} ({} {})",
                w.n(susp.len() as u64),
                w.duration(suspended_secs),
                w.t("au total", "in all")
            ),
        ),
        (
            "intervention",
            w.t("Interventions", "Interventions").into(),
            w.n(interventions.len() as u64),
        ),
        (
            "violations",
            w.t(
                "Entrées contraires aux règles (pourtant au registre)",
                "Entries the rules refuse (yet in the log)",
            )
            .into(),
            w.n(rep.violations),
        ),
    ];
    for (k, label, v) in rows {
        let _ = write!(
            h,
            r#"<tr><th>{label}</th><td class=num data-count="{k}">{v}</td></tr>"#
        );
    }
    h.push_str("</table>");

    // Turnout.
    let _ = write!(h, "<h3>{}</h3>", w.t("Participation", "Turnout"));
    match rep.electorate {
        Some(el) if !rep.ballots_per_scrutin.is_empty() => {
            h.push_str("<ul class=turnout>");
            for (sc, n) in &rep.ballots_per_scrutin {
                let _ = write!(
                    h,
                    r#"<li data-scrutin="{}">{} : {} {} {} {}, {} {}</li>"#,
                    esc(sc),
                    esc(sc),
                    w.n(*n),
                    w.t("bulletins pour", "ballots for"),
                    w.n(el),
                    w.t("inscrits", "registered voters"),
                    w.t("soit", "that is"),
                    w.pct(*n, el)
                );
            }
            h.push_str("</ul>");
        }
        Some(_) => h.push_str(w.t("<p>Aucun bulletin.</p>", "<p>No ballot.</p>")),
        None => h.push_str(w.t(
            "<p>L'élection n'a pas scellé de liste électorale (ligne « roll ») : la participation ne peut pas être calculée.</p>",
            "<p>The election sealed no electoral roll (\"roll\" line): turnout cannot be computed.</p>",
        )),
    }

    // Timeline.
    let _ = write!(
        h,
        "<h3>{}</h3><table class=timeline><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        w.t("Chronologie", "Timeline"),
        w.t("Heure", "Time"),
        w.t("Évènement", "Event"),
        w.t("Détail", "Detail"),
        w.t("Position", "Entry")
    );
    for e in &rep.timeline {
        let f = &e.facts;
        let detail = match e.kind.as_str() {
            "election" => esc(&rep.title),
            "suspend" => {
                let d = susp
                    .iter()
                    .find(|(a, _, _)| *a == e.time)
                    .and_then(|(a, b, _)| b.map(|b| b - a));
                format!(
                    "{}{}",
                    esc(f.reason.as_deref().unwrap_or(&e.detail)),
                    d.map(|d| format!(" — {} {}", w.t("durée", "lasted"), w.duration(d)))
                        .unwrap_or_else(|| format!(
                            " — {}",
                            w.t("toujours suspendu", "still suspended")
                        ))
                )
            }
            "intervention" if f.actor.is_some() => {
                let mut s = format!(
                    "{} : {} ({})",
                    esc(f.actor.as_deref().unwrap_or_default()),
                    esc(f.action.as_deref().unwrap_or_default()),
                    esc(f.reason.as_deref().unwrap_or_default())
                );
                if let Some(n) = f.reissues {
                    let _ = write!(
                        s,
                        " ; {} {} {}{}",
                        w.t("annonce", "announces"),
                        w.n(n),
                        w.t("réémissions", "reissues"),
                        rep.electorate
                            .map(|el| format!(
                                " ({} {})",
                                w.pct(n, el),
                                w.t("des inscrits", "of the electorate")
                            ))
                            .unwrap_or_default()
                    );
                }
                if w.lang == Lang::En {
                    s = s.replacen(" : ", ": ", 1).replace(" ; ", "; ");
                }
                s
            }
            "results" if f.scrutin.is_some() => format!(
                "{} : {} {}",
                esc(f.scrutin.as_deref().unwrap_or_default()),
                w.n(f.ballots.unwrap_or(0)),
                w.t("bulletins", "ballots")
            ),
            _ => esc(f.reason.as_deref().unwrap_or(&e.detail)),
        };
        let cls = match e.kind.as_str() {
            "suspend" => " class=warning",
            "void" => " class=critical",
            _ => "",
        };
        let _ = write!(
            h,
            r#"<tr{cls} data-kind="{}"><td>{}</td><td>{}</td><td>{detail}</td><td class=num>{}</td></tr>"#,
            esc(&e.kind),
            w.time(e.time),
            esc(&w.kind(&e.kind)),
            w.n(e.index)
        );
    }
    h.push_str("</tbody></table>");

    // Reissues by channel and reason.
    let _ = write!(
        h,
        "<h3>{}</h3>",
        w.t(
            "Réémissions par canal et motif",
            "Reissues by channel and reason"
        )
    );
    if rep.reissues_by_reason.is_empty() && reissues == 0 {
        h.push_str(w.t("<p>Aucune réémission.</p>", "<p>No reissue.</p>"));
    } else {
        let _ = write!(
            h,
            "<table class=reissues><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            w.t("Canal", "Channel"),
            w.t("Motif déclaré", "Stated reason"),
            w.t("Réémissions", "Reissues")
        );
        for (ch, reasons) in &rep.reissues_by_reason {
            for (r, n) in reasons {
                let _ = write!(
                    h,
                    r#"<tr data-channel="{}"><td>{}</td><td>{}</td><td class=num>{}</td></tr>"#,
                    esc(ch),
                    esc(&w.channel(ch)),
                    esc(&w.reason(r)),
                    w.n(*n)
                );
            }
        }
        h.push_str("</tbody></table>");
    }

    // Charts: the same hours and series as the dashboard.
    let hours = chart_hours(rep);
    if !hours.is_empty() {
        let ballots: Vec<u64> = hours
            .iter()
            .map(|t| rep.ballots_per_hour.get(&(t / 3600)).copied().unwrap_or(0))
            .collect();
        h.push_str(&hourly_svg(
            w,
            &format!("ballots-{}", esc(id)),
            w.t("Bulletins par heure", "Ballots per hour"),
            &hours,
            &ballots,
            "#1f6feb",
            &susp,
        ));
        let _ = write!(
            h,
            "<p class=note>{}</p>",
            w.t(
                "Chaque barre couvre son heure ; les zones rouges sont les suspensions du vote, à leurs heures exactes.",
                "Each bar covers its hour; red areas are the suspensions of voting, at their exact times."
            )
        );
        if !rep.reissues_per_hour.is_empty() {
            let _ = write!(
                h,
                "<h3>{}</h3><p class=note>{}</p><div>",
                w.t("Réémissions d'identifiants par heure, par canal", "Credential reissues per hour, by channel"),
                w.t(
                    "Un graphique par canal, chacun à sa propre échelle : quelques réémissions par l'assistance restent visibles à côté de centaines par envoi groupé.",
                    "One chart per channel, each on its own scale: a few helpdesk reissues stay visible next to hundreds by batch."
                )
            );
            for (ch, per_hour) in &rep.reissues_per_hour {
                let values: Vec<u64> = hours
                    .iter()
                    .map(|t| per_hour.get(&(t / 3600)).copied().unwrap_or(0))
                    .collect();
                let color = CHANNEL_COLORS
                    .iter()
                    .find(|(c, _)| c == ch)
                    .map(|(_, col)| *col)
                    .unwrap_or("#444");
                h.push_str(&hourly_svg(
                    w,
                    &format!("reissues-{}-{}", esc(ch), esc(id)),
                    &format!(
                        "{} {}",
                        w.t("Réémissions par", "Reissues by"),
                        w.channel(ch)
                    ),
                    &hours,
                    &values,
                    color,
                    &susp,
                ));
            }
            h.push_str("</div>");
        }
    }

    // Alerts of this election, the ballot-rate alarm included.
    let _ = write!(
        h,
        "<h3>{}</h3>",
        w.t("Alertes de cette élection", "Alerts of this election")
    );
    if alerts.is_empty() {
        h.push_str(w.t(
            "<p>Aucune alerte de la surveillance.</p>",
            "<p>No monitor alert.</p>",
        ));
    } else {
        h.push_str(&alert_rows(w, alerts, reports));
    }
    let drops = rate_drops(rep);
    if !drops.is_empty() {
        let _ = write!(
            h,
            "<table class=alerts><tbody>{}</tbody></table>",
            drops
                .iter()
                .map(|d| format!(
                    r#"<tr class=warning data-alert="ballot_rate"><td>{}</td><td>{}</td><td>{}</td><td>{} {} {} {} {}.</td></tr>"#,
                    w.severity("warning"),
                    w.alert_kind("ballot_rate"),
                    w.hour(d.hour),
                    w.n(d.rate),
                    w.t("bulletins par heure de vote, contre", "ballots per hour of voting, against"),
                    w.n(d.level),
                    w.t("en moyenne les", "on average in the"),
                    w.t("heures précédentes", "hours before")
                ))
                .collect::<String>()
        );
        let _ = write!(
            h,
            "<p class=note>{} {}× {} {} {} {} {}.</p>",
            w.t("Règle (la même que le tableau de bord) : une heure de vote ouverte et non suspendue compte moins de", "Rule (the dashboard's): an hour open and not suspended has less than"),
            ballot_rate::DROP_FACTOR,
            w.t("fois moins que la moyenne des", "times less than the mean of the"),
            ballot_rate::WINDOW_HOURS,
            w.t("heures précédentes, si cette moyenne atteint", "hours before, if that mean reaches"),
            ballot_rate::MIN_LEVEL_PER_HOUR,
            w.t("bulletins par heure", "ballots per hour")
        );
    }
    h.push_str("</section>");
    h
}

/// The hours whose ballot rate collapsed, by the shared rule, that the monitor did
/// not alert (a state written before it did): judged up to the last time it saw.
fn rate_drops(rep: &ElectionReport) -> Vec<ballot_rate::RateDrop> {
    let last_hour = rep
        .ballots_per_hour
        .keys()
        .max()
        .map(|h| (h + 1) * 3600)
        .unwrap_or(0);
    let now = rep
        .timeline
        .iter()
        .map(|e| e.time)
        .max()
        .unwrap_or(0)
        .max(last_hour);
    crate::rate::drops(rep, now)
        .into_iter()
        .filter(|d| !rep.rate_alerted.contains(&d.hour))
        .collect()
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,sans-serif;max-width:960px;margin:1.5em auto;padding:0 1em;color:#1a1a1a}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.25em;margin:1.4em 0 .4em;border-bottom:1px solid #ccc}h3{font-size:1.05em;margin:1em 0 .3em}
table{border-collapse:collapse;margin:.4em 0;width:100%}td,th{border:1px solid #c8c8c8;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f2f4f6}.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.warning{background:#fff4d6}.critical{background:#fde0e0}.info{background:#eef5ff}
.note,.sub{color:#505a64}.key{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;border:1px solid #0003}
.key.band{background:#cf222e26;border-color:#cf222e80}code{word-break:break-all}pre{white-space:pre-wrap;word-break:break-all;font-size:12px}
figure{margin:.6em 0}figcaption{font-weight:600}
.signatures td{height:3em}
@media print{body{margin:0;max-width:none;font-size:11px}details{display:none}section.election{break-before:page}figure,table.counts,tr{break-inside:avoid}a{color:inherit}}
@page{size:A4;margin:15mm}
";

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
    let w = W {
        lang: a.lang,
        burst_bound: header.detectors.as_ref().map(|d| d.burst_per_hour),
    };
    let size = header.compact.size();
    let log_name = header.log_key.split('+').next().unwrap_or_default();
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!doctype html><html lang="{}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{}</title><style>{STYLE}</style></head><body>"#,
        w.t("fr", "en"),
        w.t(
            "Rapport de surveillance du registre urne",
            "urne log monitor report"
        ),
    );
    let _ = write!(
        h,
        "<h1>{}</h1><p class=sub>{}</p>",
        w.t("Rapport de surveillance du registre", "Log monitor report"),
        w.t(
            "Annexe au procès-verbal du bureau de vote électronique. Établi par l'outil de surveillance des organisations syndicales (urne-client monitor), qui a vérifié lui-même chaque entrée du registre.",
            "Annex to the electoral board's minutes. Written by the unions' monitor (urne-client monitor), which verified every entry of the log itself."
        )
    );
    let _ = write!(
        h,
        "<table class=meta><tr><th>{}</th><td><code>{}</code></td></tr><tr><th>{}</th><td><span data-count=entries>{}</span> — {}</td></tr><tr><th>{}</th><td><code>{}</code></td></tr><tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td>{}</td></tr></table>",
        w.t("Clé du registre", "Log key"),
        esc(&header.log_key),
        w.t("Entrées vérifiées", "Entries verified"),
        w.n(size),
        w.t("chaque signature, chaque règle de l'élection, la racine de l'arbre", "every signature, every election rule, the tree root"),
        w.t("Racine vérifiée", "Root verified"),
        esc(&urne_client::tree::hash_to_base64(&header.compact.root())),
        w.t("Rapport établi le", "Report written"),
        w.time(Time::now().0),
        w.t("Heures", "Times"),
        w.t("toutes en temps universel (UTC ; heure de Paris = UTC + 1 h en hiver, + 2 h en été)", "all in UTC"),
    );
    h.push_str(&checkpoint_section(
        &w,
        header.checkpoint.as_deref(),
        log_name,
    ));

    let crit = alerts.iter().filter(|a| a.severity == "critical").count();
    let warn = alerts.iter().filter(|a| a.severity == "warning").count();
    let _ = write!(
        h,
        "<h2>{}</h2><p class={}>{} {} : <b>{} {}</b>, {} {}, {} {}.</p>",
        w.t("Alertes", "Alerts"),
        if crit > 0 { "critical" } else { "ok" },
        w.n(alerts.len() as u64),
        if alerts.len() == 1 {
            w.t("alerte de la surveillance", "monitor alert")
        } else {
            w.t("alertes de la surveillance", "monitor alerts")
        },
        w.n(crit as u64),
        if crit == 1 {
            w.t("critique", "critical")
        } else {
            w.t("critiques", "critical")
        },
        w.n(warn as u64),
        if warn == 1 {
            w.t("à examiner", "warning")
        } else {
            w.t("à examiner", "warnings")
        },
        w.n((alerts.len() - crit - warn) as u64),
        w.t("pour information", "informational"),
    );
    let global: Vec<&Alert> = alerts
        .iter()
        .filter(|a| {
            a.election
                .as_ref()
                .is_none_or(|e| !header.reports.contains_key(e))
        })
        .collect();
    if !global.is_empty() {
        let _ = write!(
            h,
            "<h3>{}</h3>",
            w.t("Alertes sur le registre", "Alerts about the log")
        );
        h.push_str(&alert_rows(&w, &global, &header.reports));
    }
    for (id, rep) in &header.reports {
        let mine: Vec<&Alert> = alerts
            .iter()
            .filter(|a| a.election.as_deref() == Some(id))
            .collect();
        h.push_str(&election_section(&w, id, rep, &mine, &header.reports));
    }
    let _ = write!(
        h,
        "<h2>{}</h2><table class=signatures><tr><th>{}</th><th>{}</th><th>{}</th></tr><tr><td></td><td></td><td></td></tr><tr><td></td><td></td><td></td></tr><tr><td></td><td></td><td></td></tr></table>",
        w.t("Visa des membres du bureau", "Initials of the board members"),
        w.t("Nom et qualité", "Name and role"),
        w.t("Date", "Date"),
        w.t("Signature", "Signature"),
    );
    h.push_str("</body></html>\n");
    std::fs::write(&a.out, h).map_err(ctx(Kind::Other, format!("writing {}", a.out.display())))?;
    Ok(format!(
        "report of {size} entries and {} alerts written to {}",
        alerts.len(),
        a.out.display()
    ))
}
