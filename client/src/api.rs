//! The JSON bodies of the log's HTTP API, typed once.
//!
//! Owns: the shape of each JSON answer of the log (and of a mirror, which serves the
//! same API): field names, types, which may be `null`. The server writes these structs
//! and every Rust client reads them, so a renamed field breaks the build, not a voter.
//! The web page reads the same names (its end-to-end tests run against the server).
//! Does not own: what an answer proves (every client checks the proofs and signatures
//! it carries with [`crate::tree`] and [`crate::checkpoint`]; nothing here is
//! trusted), the routes (the server's `api` module).

use crate::tree::{self, Hash};
use serde::{Deserialize, Serialize};

/// Every failure of the API: `{"error": "<stable code>", "detail": "…"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable machine-readable code (never renamed).
    pub error: String,
    /// A sentence for people.
    #[serde(default)]
    pub detail: String,
}

/// `POST /v1/statements`: the answer to an appended (201) or already logged (200)
/// statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitAnswer {
    /// Leaf index of the entry.
    pub index: u64,
    /// Leaf hash (hex).
    pub leaf_hash: String,
    /// Tree size of the checkpoint.
    pub tree_size: u64,
    /// The signed checkpoint covering the entry.
    pub checkpoint: String,
    /// Inclusion proof of the entry in that checkpoint (base64 hashes).
    pub inclusion_proof: Vec<String>,
    /// True if this statement (its signed text) was already logged (at `index`).
    pub duplicate: bool,
    /// The same proof as an offline receipt (C2SP tlog-proof, the entry in its
    /// `extra` line): a voter can keep it and check it later without asking the log
    /// anything (`urne-client verify --offline`).
    pub tlog_proof: String,
}

/// An entry with its inclusion proof in the checkpoint of the answer listing it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvedEntry {
    /// Leaf index.
    pub index: u64,
    /// Statement type (`unknown` for an entry that is not a statement).
    #[serde(rename = "type")]
    pub kind: String,
    /// Statement time (RFC 3339; empty for an entry that is not a statement).
    pub time: String,
    /// The entry bytes (a signed statement, UTF-8).
    pub entry: String,
    /// Leaf hash (hex).
    pub leaf_hash: String,
    /// Inclusion proof to `tree_size` of the answer (base64).
    pub inclusion_proof: Vec<String>,
}

/// `GET /v1/receipts/<code>`: the ballot carrying this receipt code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptAnswer {
    /// The receipt code asked for.
    pub receipt: String,
    /// The ballot entry, proved in `checkpoint`.
    #[serde(flatten)]
    pub entry: ProvedEntry,
    /// Tree size the proof is for.
    pub tree_size: u64,
    /// The signed checkpoint of that size.
    pub checkpoint: String,
    /// The same proof as an offline receipt (C2SP tlog-proof carrying the entry).
    pub tlog_proof: String,
    /// Under `revote last`: the voter's next ballot in the same scrutin, which
    /// supersedes this one (proved in the same checkpoint); `null` otherwise.
    #[serde(default)]
    pub superseded_by: Option<ProvedEntry>,
}

/// `GET /v1/voters/<tag>`: a page of a voter's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoterPage {
    /// Tree size the proofs are for.
    pub tree_size: u64,
    /// The signed checkpoint of that size.
    pub checkpoint: String,
    /// The election the entries were filtered by, if any.
    pub election: Option<String>,
    /// The entries of this page, oldest first.
    pub entries: Vec<ProvedEntry>,
    /// The cursor of the next page, or `null` when this page ends the history (as of
    /// the log's head when it was read): a client shows a history as complete only
    /// after a page with `next: null`. Read as `None` when absent, `Some(None)` when
    /// `null`: a page that does not say is not the end.
    #[serde(default, deserialize_with = "present")]
    pub next: Option<Option<u64>>,
}

/// Deserializes a field that may be `null`, keeping "absent" (`None`, by `default`)
/// apart from `null` (`Some(None)`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `GET /v1/proof/inclusion?index=&size=`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionAnswer {
    /// The leaf index.
    pub index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The leaf hash (hex), if stored.
    pub leaf_hash: Option<String>,
    /// The proof (base64 hashes).
    pub inclusion_proof: Vec<String>,
    /// The signed checkpoint of that size, if the log signed one.
    pub checkpoint: Option<String>,
}

/// `GET /v1/proof/consistency?old=&new=`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyAnswer {
    /// The smaller tree size.
    pub old: u64,
    /// The larger tree size.
    pub new: u64,
    /// The proof (base64 hashes; empty for `old` 0 or `old == new`).
    pub consistency_proof: Vec<String>,
    /// The signed checkpoint of size `old`, if the log signed one.
    pub old_checkpoint: Option<String>,
    /// The signed checkpoint of size `new`, if the log signed one.
    pub new_checkpoint: Option<String>,
}

/// What `/v1/log` says about one witness.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WitnessStatus {
    /// Witness key name.
    pub name: String,
    /// Witness verifier key.
    pub vkey: String,
    /// Submission URL prefix.
    pub url: String,
    /// The size the witness last cosigned (or told us it holds).
    pub last_size: Option<u64>,
    /// The last error, cleared by a success.
    pub last_error: Option<String>,
    /// The HTTP status (4xx) if that error was the witness's refusal: it answered
    /// and said no (409: it holds a checkpoint this one does not extend), which is
    /// not a witness that does not answer. Cleared by a success.
    pub refused: Option<u16>,
    /// A request is in flight.
    pub busy: bool,
}

/// What `/v1/log` says about one mirror the log pushes to (C2SP tlog-mirror).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PushMirrorStatus {
    /// Mirror key name.
    pub name: String,
    /// Mirror cosignature verifier key.
    pub vkey: String,
    /// Submission URL prefix.
    pub url: String,
    /// The mirror's next entry, as it last said (entries it holds, pending or not).
    pub next_entry: Option<u64>,
    /// The largest tree the mirror cosigned: it holds every entry up to this size.
    pub cosigned_size: Option<u64>,
    /// The log's checkpoint of that size with the mirror's cosignature, checkable
    /// with the log key and the mirror key alone.
    pub cosigned_checkpoint: Option<String>,
    /// The last error, cleared by a success.
    pub last_error: Option<String>,
}

/// `GET /v1/log`: who this log (or mirror) is, what `/checkpoint` serves and why, and
/// its public parameters. Fields a newer log added are read as absent by default, so a
/// client or mirror still reads an older log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogInfo {
    /// The log's origin (its key name).
    pub origin: String,
    /// The log's verifier key.
    pub verifier_key: String,
    /// Entries in the log's latest tree.
    pub tree_size: u64,
    /// The witnesses it asks to cosign (a mirror: those its log announces).
    pub witnesses: Vec<WitnessStatus>,
    /// Cosignatures its checkpoints need.
    pub witness_quorum: usize,
    /// The mirrors it pushes its entries to (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub push_mirrors: Vec<PushMirrorStatus>,
    /// How often an idle log asks its witnesses again (its check-in rate), seconds.
    pub witness_checkin_secs: u64,
    /// At most this many add-checkpoint requests a day to each witness (`None`: one
    /// per new checkpoint): the `qpd` of a witness network's log list.
    pub witness_requests_per_day: Option<u64>,
    /// Whether `/checkpoint` serves a checkpoint that met the quorum.
    pub cosigned: bool,
    /// What `/checkpoint` serves (`cosigned`, `uncosigned_no_witness`, …).
    pub serving: String,
    /// Why, in a sentence.
    pub serving_reason: String,
    /// The size of the latest cosigned checkpoint, if any.
    pub cosigned_size: Option<u64>,
    /// For a mirror: the log it copies.
    pub mirror_of: Option<String>,
    /// The server's version.
    pub version: String,
    /// The largest entry accepted, in bytes.
    pub max_entry_size: usize,
    /// How far from the log's clock a statement's time may be, seconds.
    pub time_tolerance_secs: Option<i64>,
    /// The largest tolerance an election may seal here, seconds.
    pub max_time_tolerance_secs: Option<i64>,
    /// The version of the election rules the log applies.
    pub rules_version: u32,
    /// Whether this instance sequences (several instances on one database: the
    /// others forward writes to it). An instance alone always leads.
    pub leading: bool,
    /// Why the log halted, if it did (every instance of a log on one database says
    /// the same once one halted): it appends nothing, `log_halted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub halted: Option<String>,
    /// Several instances on one database: this one and the leader it knows.
    pub instance: Option<InstanceInfo>,
}

/// One of several `urne serve` on one database, in `GET /v1/log`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceInfo {
    /// This instance's name.
    pub id: String,
    /// The URL other instances forward writes to when this one leads.
    pub url: Option<String>,
    /// The leader's URL, as the lease in the database names it.
    pub leader_url: Option<String>,
    /// The lease's epoch: it grows at each takeover and fences every commit.
    pub lease_epoch: u64,
    /// The tree size at which this instance's lease began.
    pub led_from_size: u64,
    /// The lease's length, milliseconds.
    pub lease_ms: u64,
}

/// The fields of a lifecycle, intervention or results statement, as a timeline keeps
/// them for a reader to word in their own language: the log's statistics (flattened
/// into each event of `/v1/elections/<id>`) and the monitor's report both hold them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EventFacts {
    /// `suspend`, `resume`, `void`, `intervention`: the reason given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `intervention`: who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// `intervention`: what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// `intervention`: the batch reissues it announces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reissues: Option<u64>,
    /// `results`: the scrutin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrutin: Option<String>,
    /// `results`: the ballots counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ballots: Option<u64>,
}

impl EventFacts {
    /// Whether no field is set (an `open` or a `close`).
    pub fn is_empty(&self) -> bool {
        *self == EventFacts::default()
    }
}

/// Encodes hashes as the API writes them (base64).
pub fn hashes_to_base64(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(tree::hash_to_base64).collect()
}

/// Decodes hashes as the API writes them (base64).
///
/// # Errors
/// A message naming the first hash that is not 32 bytes of base64.
pub fn hashes_from_base64(hashes: &[String]) -> Result<Vec<Hash>, String> {
    hashes
        .iter()
        .map(|s| tree::hash_from_base64(s).map_err(|e| format!("hash {s:?}: {e}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_voter_page_says_whether_it_ends() {
        let page = |next: &str| {
            serde_json::from_str::<VoterPage>(&format!(
                r#"{{"tree_size":1,"checkpoint":"c","election":null,"entries":[]{next}}}"#
            ))
            .unwrap()
            .next
        };
        assert_eq!(page(r#","next":null"#), Some(None));
        assert_eq!(page(r#","next":7"#), Some(Some(7)));
        assert_eq!(page(""), None);
        // Written by the server, `next` is always there.
        let v = serde_json::to_value(VoterPage {
            tree_size: 1,
            checkpoint: "c".into(),
            election: None,
            entries: vec![],
            next: Some(None),
        })
        .unwrap();
        assert_eq!(v["next"], serde_json::Value::Null);
        assert!(v.as_object().unwrap().contains_key("next"));
    }

    #[test]
    fn a_receipt_answer_is_flat() {
        let r = ReceiptAnswer {
            receipt: "r".into(),
            entry: ProvedEntry {
                index: 3,
                kind: "ballot".into(),
                time: "t".into(),
                entry: "e".into(),
                leaf_hash: "h".into(),
                inclusion_proof: vec![],
            },
            tree_size: 4,
            checkpoint: "c".into(),
            tlog_proof: "p".into(),
            superseded_by: None,
        };
        let v = serde_json::to_value(&r).unwrap();
        for k in [
            "receipt",
            "index",
            "type",
            "time",
            "entry",
            "leaf_hash",
            "inclusion_proof",
            "tree_size",
            "checkpoint",
            "tlog_proof",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
        assert_eq!(serde_json::from_value::<ReceiptAnswer>(v).unwrap(), r);
    }
}
