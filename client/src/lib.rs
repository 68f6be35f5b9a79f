//! # urne-client: the urne protocol
//!
//! Every format and every rule of urne, with no server and no storage engine: the log
//! server, the voter's tool and the union's monitor all decide validity with this one
//! library. Pure functions over bytes; no async, no I/O in the core.
//!
//! # Layout
//!
//! From the foundations up: a module uses only modules listed above it, never one
//! below (`python3 scripts/layers.py` checks it, and that no two modules import each
//! other).
//!
//! - [`note`]: C2SP signed notes with Ed25519 (keys, key IDs, signing, opening).
//! - [`tree`]: RFC 6962 hashing (also as an `rs_merkle::Hasher`), inclusion and
//!   consistency proofs (RFC 9162), the stored-hash index arithmetic.
//! - [`api`]: the JSON bodies of the log's HTTP API, typed once (server writes,
//!   clients read).
//! - [`checkpoint`]: one file per C2SP spec: tlog-checkpoint (the note text),
//!   tlog-cosignature (`cosignature/v1` keys and lines), tlog-policy (the one witness
//!   policy type, [`checkpoint::WitnessPolicy`]: a policy file or "k of these n
//!   witness keys"), opening a signed checkpoint, and tlog-proof (offline receipts).
//! - [`subtree`]: subtrees and their consistency proofs (draft-ietf-plants-merkle-tree-certs
//!   §4), as C2SP tlog-mirror packages carry them.
//! - [`tlog_mirror`]: the C2SP tlog-mirror wire format (`add-entries` header and
//!   packages, the mirror-info answer).
//! - [`tiles`]: C2SP tlog-tiles paths (`x001/x234/067`, `.p/W`) and entry bundles.
//! - [`compact`]: a compact range, the O(log n) incremental root a monitor runs.
//! - [`statement`]: the typed statements of urne: their values, their strict,
//!   canonical text (parse beside format), signed statements, who may sign which
//!   type (the roles), the authorities' signing.
//! - [`rules`]: the election rules as a pure state machine over a small state trait;
//!   [`rules::check`] dispatches each statement to its family's judge.
//! - [`signature_batch`]: Ed25519 batch verification with the single verification's
//!   verdicts (the monitor's audit): which signatures may be batched, the batch
//!   equation, the fallback, the residual.
//! - [`ballot_rate`]: the ballot-rate alarm (ballots far below their recent level
//!   while open and not suspended), its threshold and the open periods it judges.
//! - [`receipt`]: receipt codes in the voting systems' own encodings (hex, Belenios's
//!   base64 tracker).
//! - [`seal`]: the automatic seal of an election (R.211-572): which cosigned
//!   checkpoint seals it.
//! - [`authoring`]: fields of each statement type, building and co-signing statements
//!   (the authorities' side).
//! - [`gossip`]: checkpoint gossip bodies and equivocation evidence.
//! - [`consistency`]: the one decision about a new checkpoint (consistent, quorum
//!   not met, rollback, fork, equivocation), its evidence and dedup key.
//! - [`thresholds`]: the alarm thresholds (reissue bursts, a ballot soon after a
//!   reissue), defined once for the monitor, `alerts` and the web page.
//! - [`voter`]: what a voter's history means (helpdesk, batch and other reissues,
//!   revocations, a ballot soon after a reissue) and its French words.
//! - [`test_kit`] (cargo feature `test-kit`): authority keys and builders of signed
//!   statements for tests, benchmarks and `urne demo`; never for a real election.
//!
//! # Where a statement goes
//!
//! - **Parsed**: [`statement::SignedStatement::parse`] (the signed note) and
//!   [`statement::Statement::parse_text`] (the text, in `statement/text.rs`).
//! - **Judged**: [`rules::check`] (in `rules/judge.rs`), after
//!   [`rules::check_signature_block`] and [`rules::verify_signatures`]; the same
//!   code on the log before it appends and in every monitor that re-checks history.
//! - **Appended**: by the log server (crate `urne`: `sequencer` and `append`), never
//!   here.
//! - **Proved**: [`tree`] (inclusion and consistency proofs), checked against a
//!   checkpoint opened by [`checkpoint::open_checkpoint`]; offline, a
//!   [`checkpoint::TlogProof`].
//! - **Served**: by the log server (`api`), in the bodies of [`api`] and the tiles of
//!   [`tiles`].

#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod api;
pub mod authoring;
pub mod ballot_rate;
pub mod checkpoint;
pub mod compact;
pub mod consistency;
pub mod gossip;
pub mod note;
pub mod receipt;
pub mod rules;
pub mod seal;
pub mod signature_batch;
pub mod statement;
pub mod subtree;
#[cfg(any(feature = "test-kit", doc))]
pub mod test_kit;
pub mod thresholds;
pub mod tiles;
pub mod tlog_mirror;
pub mod tree;
pub mod voter;
