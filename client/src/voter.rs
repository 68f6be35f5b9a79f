//! What a voter's history means: the warnings a voter reads about their own entries.
//!
//! Owns: the reading of a voter's proved entries (credentials issued to their tag,
//! revocations and ballots of those credentials) into one [`Meaning`] per entry: a
//! helpdesk reissue, a batch reissue, another reissue, a revocation and a ballot cast
//! shortly after a reissue ([`crate::thresholds::REISSUE_THEN_VOTE_MINUTES`]) are
//! warnings; and their French words ([`WORDS_FR`], [`Read::french`]). Used by
//! `urne-client alerts` and, for which issues a later ballot is watched, by the
//! monitor. The web page (`web/verify.js`, `readVoterHistory`) cannot share this code:
//! it reads the same cases of `testdata/voter/` and the same words
//! (`testdata/voter/words_fr.json`), checked here and by its tests.
//! Does not own: proving the entries (the caller proves each before it is read here)
//! nor the reissue fact (the rules' verdict, passed in).

use crate::statement::{Channel, CredentialReason, Tag, Time};
use crate::thresholds::REISSUE_THEN_VOTE_MINUTES;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One proved entry about the voter, as read here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Leaf index in the log.
    pub index: u64,
    /// The statement's time.
    pub time: Time,
    /// What the entry says.
    #[serde(flatten)]
    pub what: What,
}

/// The part of a statement a voter's history is read from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum What {
    /// A credential issued to the voter's tag.
    Credential {
        /// The credential.
        credential: Tag,
        /// How it reached the voter.
        channel: Channel,
        /// Its stated reason.
        reason: CredentialReason,
        /// The rules' verdict: the voter already had a credential in this election
        /// (a reissue whatever its stated reason).
        reissue: bool,
    },
    /// A revocation of one of the voter's credentials.
    Revoke {
        /// The credential.
        credential: Tag,
        /// The stated reason (free text).
        reason: String,
    },
    /// A ballot cast with one of the voter's credentials.
    Ballot {
        /// The credential.
        credential: Tag,
        /// The scrutin.
        scrutin: String,
    },
}

/// What one entry means to the voter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Meaning {
    /// A first credential (not a warning).
    CredentialIssued,
    /// A credential reissued by the helpdesk (its channel, or its stated reason): the
    /// channel impostors used.
    HelpdeskReissue,
    /// A credential reissued in a batch (board-announced, e.g. after a leak).
    BatchReissue,
    /// Any other reissue (a second credential, or a first one labelled as a reissue).
    Reissue,
    /// One of the voter's credentials revoked.
    Revocation,
    /// A ballot (not a warning).
    Ballot,
    /// A ballot cast at most [`REISSUE_THEN_VOTE_MINUTES`] after a reissue of its
    /// credential (but a batch one): someone may have voted in the voter's place.
    ReissueThenVote,
}

impl Meaning {
    /// The word used in `--json` output (`kind`) and in the test data.
    pub fn as_str(self) -> &'static str {
        match self {
            Meaning::CredentialIssued => "credential_issued",
            Meaning::HelpdeskReissue => "helpdesk_reissue",
            Meaning::BatchReissue => "batch_reissue",
            Meaning::Reissue => "reissue",
            Meaning::Revocation => "revocation",
            Meaning::Ballot => "ballot",
            Meaning::ReissueThenVote => "reissue_then_vote",
        }
    }

    /// Whether the voter should look at it (`warning`) or it is plain history (`info`).
    pub fn is_warning(self) -> bool {
        !matches!(self, Meaning::CredentialIssued | Meaning::Ballot)
    }

    /// `warning` or `info`.
    pub fn severity(self) -> &'static str {
        if self.is_warning() {
            "warning"
        } else {
            "info"
        }
    }
}

/// The reading of one entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Read {
    /// The entry's leaf index.
    pub index: u64,
    /// What it means.
    pub meaning: Meaning,
    /// For [`Meaning::ReissueThenVote`]: whole minutes from the reissue to the ballot
    /// (0 when the ballot is dated before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<i64>,
    /// For [`Meaning::ReissueThenVote`]: the index of the reissue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
}

/// Whether a ballot soon after this credential issue is flagged: an issue by the
/// helpdesk (channel or stated reason), and any reissue (a second credential, or one
/// labelled as a reissue) but a batch one, which the board announces and voters then
/// use at once. The monitor's `reissue_then_vote` watches the same issues.
pub fn watched_before_vote(channel: Channel, reason: CredentialReason, reissue: bool) -> bool {
    channel == Channel::Helpdesk
        || reason == CredentialReason::ReissueHelpdesk
        || (channel != Channel::Batch && (reissue || reason != CredentialReason::Initial))
}

/// What a credential issue means to its voter.
fn credential_meaning(channel: Channel, reason: CredentialReason, reissue: bool) -> Meaning {
    if !reissue && reason == CredentialReason::Initial {
        Meaning::CredentialIssued
    } else if channel == Channel::Batch {
        Meaning::BatchReissue
    } else if channel == Channel::Helpdesk || reason == CredentialReason::ReissueHelpdesk {
        Meaning::HelpdeskReissue
    } else {
        Meaning::Reissue
    }
}

/// Reads a voter's history, in log order: one [`Read`] per entry.
pub fn read(history: &[HistoryEntry]) -> Vec<Read> {
    // Per credential, the watched issue a ballot may follow: (time, index).
    let mut watched: HashMap<Tag, (i64, u64)> = HashMap::new();
    history
        .iter()
        .map(|e| {
            let plain = |meaning| Read {
                index: e.index,
                meaning,
                minutes: None,
                after: None,
            };
            match &e.what {
                What::Credential {
                    credential,
                    channel,
                    reason,
                    reissue,
                } => {
                    if watched_before_vote(*channel, *reason, *reissue) {
                        watched.insert(*credential, (e.time.0, e.index));
                    }
                    plain(credential_meaning(*channel, *reason, *reissue))
                }
                What::Revoke { .. } => plain(Meaning::Revocation),
                What::Ballot { credential, .. } => match watched.get(credential) {
                    Some(&(t, index)) if e.time.0 - t <= REISSUE_THEN_VOTE_MINUTES * 60 => Read {
                        index: e.index,
                        meaning: Meaning::ReissueThenVote,
                        minutes: Some((e.time.0 - t).max(0) / 60),
                        after: Some(index),
                    },
                    _ => plain(Meaning::Ballot),
                },
            }
        })
        .collect()
}

/// The French words of the warnings, and of the channels and reasons they name, keyed
/// as in the web page's `web/i18n.js` (which holds the same strings: checked against
/// `testdata/voter/words_fr.json` by both). `{name}` is a parameter.
pub const WORDS_FR: &[(&str, &str)] = &[
    (
        "history.warn.helpdesk",
        "Le {time}, un nouvel identifiant a été émis par l'assistance ({channel}, motif : {reason}). Si vous ne l'avez pas demandé, quelqu'un a pu l'obtenir à votre place.",
    ),
    (
        "history.warn.reissue",
        "Le {time}, un nouvel identifiant a été émis ({channel}, motif : {reason}) ; l'ancien ne vaut plus.",
    ),
    (
        "history.warn.batch",
        "Le {time}, un nouvel identifiant a été émis lors d'un envoi groupé (motif : {reason}) ; l'ancien ne vaut plus. Le bureau de vote électronique annonce un tel envoi dans le registre.",
    ),
    (
        "history.warn.revoke",
        "Le {time}, un identifiant émis à votre nom a été révoqué (motif : {reason}) ; il ne permet plus de voter.",
    ),
    (
        "history.warn.vote_after_reissue",
        "Un bulletin a été déposé {minutes} min après cette réémission ({time}, scrutin {scrutin}). Si ce n'est pas vous, quelqu'un a peut-être voté à votre place.",
    ),
    ("channel.mail", "courriel"),
    ("channel.postal", "courrier postal"),
    ("channel.sms", "SMS"),
    ("channel.helpdesk", "assistance téléphonique"),
    ("channel.in-person", "en personne"),
    ("channel.batch", "envoi groupé"),
    ("reason.initial", "envoi initial"),
    ("reason.reissue-lost", "identifiant perdu"),
    ("reason.reissue-leak", "fuite d'identifiants"),
    ("reason.reissue-helpdesk", "demande à l'assistance"),
    ("reason.reissue-other", "autre réémission"),
];

/// The French string of `key` in [`WORDS_FR`] (the key itself if unknown).
fn word(key: &str) -> &str {
    WORDS_FR
        .iter()
        .find(|(k, _)| *k == key)
        .map_or(key, |(_, w)| w)
}

/// Fills `{name}` parameters of a template.
fn fill(template: &str, params: &[(&str, String)]) -> String {
    let mut s = template.to_string();
    for (k, v) in params {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    s
}

impl Read {
    /// The key of this reading's warning in [`WORDS_FR`]; `None` for plain history.
    pub fn words_key(&self) -> Option<&'static str> {
        Some(match self.meaning {
            Meaning::HelpdeskReissue => "history.warn.helpdesk",
            Meaning::BatchReissue => "history.warn.batch",
            Meaning::Reissue => "history.warn.reissue",
            Meaning::Revocation => "history.warn.revoke",
            Meaning::ReissueThenVote => "history.warn.vote_after_reissue",
            Meaning::CredentialIssued | Meaning::Ballot => return None,
        })
    }

    /// The warning in French, as the web page words it (times in RFC 3339, UTC),
    /// for `entry`, the entry read; `None` for plain history.
    pub fn french(&self, entry: &HistoryEntry) -> Option<String> {
        let key = self.words_key()?;
        let mut params = vec![("time", entry.time.to_string())];
        match &entry.what {
            What::Credential {
                channel, reason, ..
            } => {
                params.push(("channel", word(&format!("channel.{channel}")).to_string()));
                params.push(("reason", word(&format!("reason.{reason}")).to_string()));
            }
            What::Revoke { reason, .. } => params.push(("reason", reason.clone())),
            What::Ballot { scrutin, .. } => {
                params.push(("scrutin", scrutin.clone()));
                params.push(("minutes", self.minutes.unwrap_or(0).to_string()));
            }
        }
        Some(fill(word(key), &params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// One case of `testdata/voter/`: a history and its expected reading.
    #[derive(Deserialize)]
    struct Case {
        history: Vec<HistoryEntry>,
        expected: Vec<Read>,
        #[serde(default)]
        french: Vec<Option<String>>,
    }

    fn dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/voter")
    }

    #[test]
    fn shared_cases_read_as_expected() {
        let mut n = 0;
        for f in std::fs::read_dir(dir()).expect("testdata/voter") {
            let path = f.expect("entry").path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.ends_with(".json") || name == "words_fr.json" {
                continue;
            }
            let case: Case = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let got = read(&case.history);
            assert_eq!(got, case.expected, "{name}");
            if !case.french.is_empty() {
                let words: Vec<Option<String>> = got
                    .iter()
                    .zip(&case.history)
                    .map(|(r, e)| r.french(e))
                    .collect();
                assert_eq!(words, case.french, "{name}");
            }
            n += 1;
        }
        assert!(n >= 5, "only {n} cases");
    }

    #[test]
    fn the_words_are_the_pages() {
        let text = std::fs::read_to_string(dir().join("words_fr.json")).unwrap();
        let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
        let ours: serde_json::Map<String, serde_json::Value> = WORDS_FR
            .iter()
            .map(|(k, w)| (k.to_string(), serde_json::Value::from(*w)))
            .collect();
        assert_eq!(v, ours);
    }

    #[test]
    fn a_batch_reissue_is_not_watched_but_a_helpdesk_issue_is() {
        assert!(!watched_before_vote(
            Channel::Batch,
            CredentialReason::ReissueLeak,
            true
        ));
        assert!(watched_before_vote(
            Channel::Helpdesk,
            CredentialReason::Initial,
            false
        ));
        assert!(!watched_before_vote(
            Channel::Mail,
            CredentialReason::Initial,
            false
        ));
        assert!(watched_before_vote(
            Channel::Mail,
            CredentialReason::Initial,
            true
        ));
    }
}
