//! Checkpoints, witness cosignatures, witness policies and offline proofs.
//!
//! Owns: the checkpoint note text (C2SP tlog-checkpoint), Ed25519 cosignatures
//! (C2SP tlog-cosignature, `cosignature/v1`, key type 0x04) with witness keys, opening a
//! signed checkpoint against a log key and a witness policy, the C2SP tlog-policy file
//! format and its quorum evaluation, and the C2SP tlog-proof offline receipt format.
//! Does not own: the signed-note envelope and Ed25519 note keys ([`crate::note`]), Merkle
//! hashing and consistency proofs ([`crate::tree`]), nor any I/O (fetching checkpoints,
//! talking to witnesses).
//!
//! Why hand-written rather than `tlog_tiles::Checkpoint`: that type keeps extensions as
//! one string, accepts a size with a leading `+` sign only by accident of `u64::from_str`
//! then re-checks it, and has no cosignature or policy support; urne needs exact refusal
//! of every malformed variant and typed errors, so the few lines of parsing live here.
//! ML-DSA-44 cosignatures (type 0x06) are not supported: urne's witnesses use Ed25519.

use crate::note::{self, NoteError, SignerKey, VerifierKey};
use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use sha2::{Digest, Sha256};
use std::fmt;
use tlog_tiles::Hash;

/// The C2SP tlog-cosignature key type byte of Ed25519 `cosignature/v1` keys ("Format").
pub const COSIGNATURE_ALG: u8 = 0x04;

/// The first line of a C2SP tlog-proof ("Format").
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The largest checkpoint text accepted (checkpoints are three short lines; extension
/// lines are NOT RECOMMENDED by tlog-checkpoint).
pub const MAX_CHECKPOINT_TEXT: usize = 64 * 1024;

/// The most hashes an inclusion proof can hold: one per level of a tree of 2^64 leaves.
pub const MAX_PROOF_HASHES: usize = 64;

/// Errors about checkpoints, cosignatures, policies and proofs.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum CheckpointError {
    /// The input does not follow the format (checkpoint, note, cosignature line, proof).
    #[error("malformed: {0}")]
    Malformed(String),
    /// The note carries no valid signature by the log key.
    #[error("no valid signature by the log key")]
    BadLogSignature,
    /// The checkpoint origin is not the log key's name.
    #[error("checkpoint origin {origin:?} is not the log key name {expected:?}")]
    WrongOrigin {
        /// The origin line of the checkpoint.
        origin: String,
        /// The name of the log key (and of the policy's log).
        expected: String,
    },
    /// A cosignature line by a policy witness does not verify.
    #[error("invalid cosignature by {0}")]
    BadCosignature(String),
    /// Too few policy witnesses cosigned: `have` verified, at least `need` required.
    #[error("witness quorum not met: {have} valid cosignatures, at least {need} needed")]
    QuorumNotMet {
        /// Distinct policy witnesses whose cosignature verified.
        have: usize,
        /// The fewest witnesses that could satisfy the policy.
        need: usize,
    },
    /// A key string (witness verifier key, cosigner signer key) is malformed.
    #[error("bad key: {0}")]
    BadKey(String),
    /// A tlog-policy file is invalid.
    #[error("policy line {line}: {reason}")]
    BadPolicy {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// An inclusion proof does not verify against the checkpoint.
    #[error("inclusion proof does not verify: {0}")]
    BadProof(String),
}

fn malformed(what: impl Into<String>) -> CheckpointError {
    CheckpointError::Malformed(what.into())
}

// ---------------------------------------------------------------------------------------
// Checkpoint text
// ---------------------------------------------------------------------------------------

/// A checkpoint: the signed tree head of a log (C2SP tlog-checkpoint, "Note text").
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The log identity; urne requires it to equal the log key name.
    pub origin: String,
    /// The number of leaves in the tree.
    pub size: u64,
    /// The RFC 6962 root hash of the tree at `size`.
    pub root: Hash,
    /// Opaque extension lines, each non-empty, without their newline.
    pub extensions: Vec<String>,
}

// `tlog_tiles::Hash` has a total `PartialEq` (byte equality) but does not derive `Eq`.
impl Eq for Checkpoint {}

/// Parses a decimal with no sign and no leading zeros (unless it is `0`), as C2SP
/// tlog-checkpoint ("tree size"), tlog-witness and tlog-proof require.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Parses one base64 hash of exactly 32 bytes, in canonical standard base64.
fn parse_hash(s: &str) -> Option<Hash> {
    let raw = BASE64.decode(s).ok()?;
    let bytes: [u8; 32] = raw.try_into().ok()?;
    // The decoder refuses non-zero trailing bits and bad padding, so the encoding is
    // unique; checked again because a second encoding would be a malleability hole.
    if BASE64.encode(bytes) != s {
        return None;
    }
    Some(Hash(bytes))
}

/// Checks that a note text has no control character but newline (C2SP signed-note).
fn check_text_chars(text: &str) -> Result<(), CheckpointError> {
    if let Some(c) = text.chars().find(|&c| c < ' ' && c != '\n') {
        return Err(malformed(format!("control character {c:?}")));
    }
    Ok(())
}

impl Checkpoint {
    /// Parses a checkpoint note text, strictly (C2SP tlog-checkpoint, "Note text"):
    /// `<origin>\n<size>\n<base64 root>\n` then optional non-empty extension lines, each
    /// ending in a newline. The origin is non-empty; the size is decimal with no leading
    /// zero; the root is canonical base64 of exactly 32 bytes; no control characters
    /// (so no CR) anywhere.
    ///
    /// # Errors
    /// [`CheckpointError::Malformed`] naming the first problem.
    pub fn parse_text(text: &str) -> Result<Self, CheckpointError> {
        if text.len() > MAX_CHECKPOINT_TEXT {
            return Err(malformed("checkpoint too large"));
        }
        check_text_chars(text)?;
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| malformed("checkpoint does not end with a newline"))?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(malformed("checkpoint has fewer than three lines"));
        };
        if origin.is_empty() {
            return Err(malformed("empty origin"));
        }
        let size = parse_decimal(size).ok_or_else(|| malformed(format!("bad size {size:?}")))?;
        let root = parse_hash(root).ok_or_else(|| malformed(format!("bad root hash {root:?}")))?;
        let mut extensions = Vec::new();
        for line in lines {
            if line.is_empty() {
                return Err(malformed("empty extension line"));
            }
            extensions.push(line.to_string());
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }

    /// Formats the checkpoint note text (C2SP tlog-checkpoint), ending in a newline.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n{}\n{}\n", self.origin, self.size, self.root);
        for e in &self.extensions {
            out.push_str(e);
            out.push('\n');
        }
        out
    }

    /// Checks that the fields format to a text [`Checkpoint::parse_text`] accepts back
    /// unchanged (no newline or control character in the origin or an extension, no
    /// empty line).
    ///
    /// # Errors
    /// [`CheckpointError::Malformed`] naming the first problem.
    pub fn validate(&self) -> Result<(), CheckpointError> {
        match Checkpoint::parse_text(&self.to_text()) {
            Ok(back) if back == *self => Ok(()),
            Ok(_) => Err(malformed("a field holds a newline")),
            Err(e) => Err(e),
        }
    }

    /// Signs the checkpoint with the log key, returning the signed note: text, blank
    /// line, the log's signature line (C2SP tlog-checkpoint, "Signatures"; signed-note).
    ///
    /// The caller keeps the fields valid ([`Checkpoint::validate`]) and the key name
    /// equal to the origin; a log signs only checkpoints it built itself.
    pub fn sign(&self, log_key: &SignerKey) -> String {
        debug_assert!(self.validate().is_ok(), "signing an invalid checkpoint");
        let text = self.to_text();
        let mut out = String::with_capacity(text.len() + 120);
        out.push_str(&text);
        out.push('\n');
        out.push_str(&log_key.signature_line(text.as_bytes()));
        out
    }
}

// ---------------------------------------------------------------------------------------
// Cosignatures (C2SP tlog-cosignature, Ed25519 cosignature/v1)
// ---------------------------------------------------------------------------------------

/// Computes the `cosignature/v1` key ID: SHA-256(name ‖ "\n" ‖ 0x04 ‖ public key)[:4]
/// (C2SP tlog-cosignature, "Format").
fn cosignature_key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([COSIGNATURE_ALG]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Builds the signed message `cosignature/v1\ntime <timestamp>\n` ‖ checkpoint text
/// (C2SP tlog-cosignature, "Ed25519 signed message").
fn cosigned_message(checkpoint_text: &str, timestamp: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{checkpoint_text}").into_bytes()
}

/// The largest timestamp a cosignature may carry: 2^63 − 1 (C2SP tlog-cosignature).
pub const MAX_COSIGNATURE_TIMESTAMP: u64 = i64::MAX as u64;

/// A witness's public key for `cosignature/v1` (key type 0x04).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct WitnessKey {
    name: String,
    id: u32,
    public_key: [u8; 32],
}

impl WitnessKey {
    /// Parses a witness verifier key `<name>+<8 hex key ID>+<base64(0x04 ‖ public key)>`
    /// (C2SP tlog-cosignature, "Format"; signed-note verifier keys). Keys of type 0x01
    /// are refused: convert them explicitly with [`WitnessKey::from_note_key`].
    ///
    /// # Errors
    /// [`CheckpointError::BadKey`] if malformed, of another type, not an Ed25519 point,
    /// or if the key ID does not match.
    pub fn parse(vkey: &str) -> Result<Self, CheckpointError> {
        let bad = |why: &str| {
            CheckpointError::BadKey(format!(
                "{why}: {}",
                vkey.chars().take(120).collect::<String>()
            ))
        };
        let (name, id, public_key) =
            crate::note::split_key_string(vkey, COSIGNATURE_ALG).map_err(|why| {
                bad(if why == "wrong key algorithm or length" {
                    "not a 0x04 Ed25519 cosignature key"
                } else {
                    why
                })
            })?;
        let key = WitnessKey::from_public_key(name, public_key)?;
        if key.id != id {
            return Err(bad("key ID does not match"));
        }
        Ok(key)
    }

    /// Builds the witness key of `name` for an Ed25519 public key.
    ///
    /// # Errors
    /// [`CheckpointError::BadKey`] for an invalid name or a non-point.
    pub fn from_public_key(name: &str, public_key: [u8; 32]) -> Result<Self, CheckpointError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(CheckpointError::BadKey(format!(
                "invalid key name {name:?}"
            )));
        }
        ed25519_dalek::VerifyingKey::from_bytes(&public_key)
            .map_err(|_| CheckpointError::BadKey(format!("{name}: not an Ed25519 point")))?;
        Ok(WitnessKey {
            id: cosignature_key_id(name, &public_key),
            name: name.to_string(),
            public_key,
        })
    }

    /// Converts an Ed25519 note key (type 0x01) of a witness into its `cosignature/v1`
    /// key: same name and public key, key ID recomputed with type 0x04 (as Go's
    /// `VKeyToCosignatureV1` of transparency-dev/formats does).
    pub fn from_note_key(key: &VerifierKey) -> Self {
        WitnessKey {
            name: key.name().to_string(),
            id: cosignature_key_id(key.name(), key.public_key()),
            public_key: *key.public_key(),
        }
    }

    /// Returns the key name (the witness name in signature lines).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the 4-byte `cosignature/v1` key ID.
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// Returns the raw Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public_key
    }

    /// Verifies a cosignature of `checkpoint_text` (the note text, with its final
    /// newline, without signature lines) and returns its timestamp.
    ///
    /// `sig_line_payload` is the base64-decoded part of the signature line: either the
    /// whole `key ID ‖ timestamp ‖ signature` (76 bytes, the key ID must be this key's)
    /// or `timestamp ‖ signature` (72 bytes, as `signed_note::Signature::signature`
    /// returns it) (C2SP tlog-cosignature, "Format" and "Ed25519 signed message").
    /// Returns `None` if it does not verify or its timestamp exceeds 2^63 − 1.
    pub fn verify_cosignature(
        &self,
        checkpoint_text: &str,
        sig_line_payload: &[u8],
    ) -> Option<u64> {
        let payload = match sig_line_payload.len() {
            76 => {
                let (id, rest) = sig_line_payload.split_at(4);
                if id != self.id.to_be_bytes() {
                    return None;
                }
                rest
            }
            72 => sig_line_payload,
            _ => return None,
        };
        let (ts, sig) = payload.split_at(8);
        let timestamp = u64::from_be_bytes(ts.try_into().ok()?);
        if timestamp > MAX_COSIGNATURE_TIMESTAMP {
            return None;
        }
        let sig = ed25519_dalek::Signature::from_bytes(&sig.try_into().ok()?);
        let key = ed25519_dalek::VerifyingKey::from_bytes(&self.public_key).ok()?;
        // Plain (cofactorless, canonical-S) verification, as Go's crypto/ed25519 and
        // `signed_note` do, so every implementation accepts the same cosignatures.
        use ed25519_dalek::Verifier as _;
        key.verify(&cosigned_message(checkpoint_text, timestamp), &sig)
            .ok()?;
        Some(timestamp)
    }
}

impl fmt::Display for WitnessKey {
    /// Formats the verifier key `<name>+<hex8>+<base64(0x04 ‖ key)>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::note::write_key_string(f, &self.name, self.id, COSIGNATURE_ALG, &self.public_key)
    }
}

impl fmt::Debug for WitnessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WitnessKey({self})")
    }
}

impl std::str::FromStr for WitnessKey {
    type Err = CheckpointError;
    fn from_str(s: &str) -> Result<Self, CheckpointError> {
        WitnessKey::parse(s)
    }
}

/// A witness's (or mirror's) signing key for `cosignature/v1`. `Debug` hides the secret.
#[derive(Clone)]
pub struct CosignerKey {
    signing_key: ed25519_dalek::SigningKey,
    verifier: WitnessKey,
}

impl CosignerKey {
    /// Generates a fresh key for `name` from the operating system's CSPRNG.
    ///
    /// # Errors
    /// [`CheckpointError::BadKey`] for an invalid key name.
    pub fn generate(name: &str) -> Result<Self, CheckpointError> {
        Self::from_signing_key(
            name,
            ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng),
        )
    }

    /// Builds a cosigner from a name and a 32-byte Ed25519 seed.
    ///
    /// # Errors
    /// [`CheckpointError::BadKey`] for an invalid key name.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, CheckpointError> {
        Self::from_signing_key(name, ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    fn from_signing_key(
        name: &str,
        signing_key: ed25519_dalek::SigningKey,
    ) -> Result<Self, CheckpointError> {
        let verifier = WitnessKey::from_public_key(name, signing_key.verifying_key().to_bytes())?;
        Ok(CosignerKey {
            signing_key,
            verifier,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex8>+<base64(0x04 ‖ seed)>`, the signer-key form of
    /// signed-note with the cosignature key type; the key ID is the 0x04 one.
    ///
    /// # Errors
    /// [`CheckpointError::BadKey`] if malformed or the key ID does not match.
    pub fn parse(skey: &str) -> Result<Self, CheckpointError> {
        let bad = || CheckpointError::BadKey("malformed cosigner key".to_string());
        let rest = skey
            .trim_end_matches('\n')
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(bad)?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id16), Some(key64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let raw = BASE64.decode(key64).map_err(|_| bad())?;
        if raw.len() != 33 || raw[0] != COSIGNATURE_ALG || id16.len() != 8 {
            return Err(bad());
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&raw[1..]);
        let key = Self::from_seed(name, seed).map_err(|_| bad())?;
        if format!("{:08x}", key.verifier.id) != id16 {
            return Err(bad());
        }
        Ok(key)
    }

    /// Formats the signer key string (secret: store it with mode 0600, never log it).
    pub fn to_signer_string(&self) -> String {
        let mut raw = [0u8; 33];
        raw[0] = COSIGNATURE_ALG;
        raw[1..].copy_from_slice(&self.signing_key.to_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.verifier.name,
            self.verifier.id,
            BASE64.encode(raw)
        )
    }

    /// Returns the key name.
    pub fn name(&self) -> &str {
        &self.verifier.name
    }

    /// Returns the matching witness verifier key.
    pub fn verifier(&self) -> WitnessKey {
        self.verifier.clone()
    }

    /// Cosigns a checkpoint text (with its final newline, without signature lines) at
    /// `timestamp` (POSIX seconds), returning the signature line
    /// `— <name> base64(key ID ‖ 8-byte BE timestamp ‖ Ed25519 signature)\n` over
    /// `cosignature/v1\ntime <timestamp>\n` ‖ text (C2SP tlog-cosignature).
    ///
    /// The caller (a witness) has checked the log signature and consistency first, and
    /// passes a timestamp at most 2^63 − 1, or the cosignature will not verify.
    pub fn cosign(&self, checkpoint_text: &str, timestamp: u64) -> String {
        use ed25519_dalek::Signer as _;
        debug_assert!(timestamp <= MAX_COSIGNATURE_TIMESTAMP);
        let sig = self
            .signing_key
            .sign(&cosigned_message(checkpoint_text, timestamp));
        let mut raw = Vec::with_capacity(76);
        raw.extend_from_slice(&self.verifier.id.to_be_bytes());
        raw.extend_from_slice(&timestamp.to_be_bytes());
        raw.extend_from_slice(&sig.to_bytes());
        format!("\u{2014} {} {}\n", self.verifier.name, BASE64.encode(raw))
    }
}

impl fmt::Debug for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CosignerKey({}, secret elided)", self.verifier)
    }
}

// ---------------------------------------------------------------------------------------
// Witness policies
// ---------------------------------------------------------------------------------------

/// The simple witness policy: at least `quorum` distinct keys of `witnesses` cosigned.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct WitnessPolicy {
    /// The trusted witness keys.
    pub witnesses: Vec<WitnessKey>,
    /// How many distinct witnesses must cosign ("k of these n"); 0 requires none.
    pub quorum: usize,
}

impl WitnessPolicy {
    /// Returns the policy that requires no cosignature (C2SP tlog-policy `quorum none`).
    pub fn none() -> Self {
        WitnessPolicy::default()
    }

    /// Counts the distinct policy witnesses among `cosigners`.
    pub fn count(&self, cosigners: &[WitnessKey]) -> usize {
        let mut seen: Vec<&WitnessKey> = Vec::new();
        for c in cosigners {
            if self.witnesses.contains(c) && !seen.contains(&c) {
                seen.push(c);
            }
        }
        seen.len()
    }

    /// Reports whether `cosigners` (keys whose cosignatures verified) meet the quorum.
    pub fn is_satisfied(&self, cosigners: &[WitnessKey]) -> bool {
        self.count(cosigners) >= self.quorum
    }

    fn check(&self, cosigners: &[WitnessKey]) -> Result<(), CheckpointError> {
        let have = self.count(cosigners);
        if have >= self.quorum {
            Ok(())
        } else {
            Err(CheckpointError::QuorumNotMet {
                have,
                need: self.quorum,
            })
        }
    }
}

/// A named member of a tlog-policy group: a witness or an earlier group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyMember {
    /// Index into [`TlogPolicy::witnesses`].
    Witness(usize),
    /// Index into [`TlogPolicy::groups`].
    Group(usize),
}

/// A witness line of a tlog-policy file: `witness <name> <vkey> [<url>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyWitness {
    /// The policy-local name.
    pub name: String,
    /// The witness key.
    pub key: WitnessKey,
    /// The submission prefix URL, if given.
    pub url: Option<String>,
}

/// A log line of a tlog-policy file: `log <vkey> [<url>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyLog {
    /// The log key; its name is the log's origin.
    pub key: VerifierKey,
    /// The log URL, if given.
    pub url: Option<String>,
}

/// A group line of a tlog-policy file: `group <name> <k>|any|all <member>...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyGroup {
    /// The policy-local name.
    pub name: String,
    /// How many members must have witnessed (1 ≤ k ≤ members).
    pub threshold: usize,
    /// The members, each a witness or an earlier group.
    pub members: Vec<PolicyMember>,
}

/// A C2SP tlog-policy: known logs, named witnesses, groups and the quorum rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogPolicy {
    /// The accepted logs (any one of them may sign).
    pub logs: Vec<PolicyLog>,
    /// The named witnesses.
    pub witnesses: Vec<PolicyWitness>,
    /// The groups, each referring only to earlier names.
    pub groups: Vec<PolicyGroup>,
    /// The quorum: `None` for `quorum none`, or the witness or group required.
    pub quorum: Option<PolicyMember>,
}

impl TlogPolicy {
    /// Parses a tlog-policy file (C2SP tlog-policy, "Policy file syntax and structure"):
    /// `log`, `witness`, `group` and exactly one `quorum` line; items separated by spaces
    /// or tabs; blank and `#` comment lines ignored; names defined before use, unique,
    /// `none` reserved, each name a group member at most once; no duplicate log or
    /// witness public keys; only tab, newline and printable octets. Names must be UTF-8
    /// (the spec allows opaque octets; urne's tools only write UTF-8).
    ///
    /// # Errors
    /// [`CheckpointError::BadPolicy`] with the line number and the reason.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let mut p = TlogPolicy {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: None,
        };
        let mut saw_quorum = false;
        let mut used_as_member: Vec<PolicyMember> = Vec::new();
        for (i, line) in text.split('\n').enumerate() {
            let n = i + 1;
            let bad = |reason: String| CheckpointError::BadPolicy { line: n, reason };
            if let Some(b) = line
                .bytes()
                .find(|&b| b != b'\t' && (b < 0x20 || b == 0x7f))
            {
                return Err(bad(format!("forbidden control character 0x{b:02x}")));
            }
            let words: Vec<&str> = line.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
            let Some((&keyword, args)) = words.split_first() else {
                continue;
            };
            if keyword.starts_with('#') {
                continue;
            }
            match keyword {
                "log" => {
                    let (vkey, url) = match args {
                        [k] => (k, None),
                        [k, u] => (k, Some(u.to_string())),
                        _ => return Err(bad("log takes a vkey and an optional URL".into())),
                    };
                    let key = VerifierKey::parse(vkey).map_err(|e| bad(e.to_string()))?;
                    if p.logs
                        .iter()
                        .any(|l| l.key.public_key() == key.public_key())
                    {
                        return Err(bad("duplicate log key".into()));
                    }
                    p.logs.push(PolicyLog { key, url });
                }
                "witness" => {
                    let (name, vkey, url) = match args {
                        [nm, k] => (nm, k, None),
                        [nm, k, u] => (nm, k, Some(u.to_string())),
                        _ => {
                            return Err(bad(
                                "witness takes a name, a vkey and an optional URL".into()
                            ))
                        }
                    };
                    p.check_new_name(name).map_err(bad)?;
                    let key = WitnessKey::parse(vkey).map_err(|e| bad(e.to_string()))?;
                    if p.witnesses
                        .iter()
                        .any(|w| w.key.public_key == key.public_key)
                    {
                        return Err(bad("duplicate witness key".into()));
                    }
                    p.witnesses.push(PolicyWitness {
                        name: name.to_string(),
                        key,
                        url,
                    });
                }
                "group" => {
                    let [name, k, members @ ..] = args else {
                        return Err(bad("group takes a name, a threshold and members".into()));
                    };
                    p.check_new_name(name).map_err(bad)?;
                    if members.is_empty() {
                        return Err(bad("a group needs at least one member".into()));
                    }
                    let mut resolved = Vec::with_capacity(members.len());
                    for m in members {
                        let member = p
                            .lookup(m)
                            .ok_or_else(|| bad(format!("undefined name {m:?}")))?;
                        if used_as_member.contains(&member) {
                            return Err(bad(format!("{m:?} is already a group member")));
                        }
                        used_as_member.push(member.clone());
                        resolved.push(member);
                    }
                    let threshold = match *k {
                        "all" => resolved.len(),
                        "any" => 1,
                        k => parse_decimal(k)
                            .and_then(|k| usize::try_from(k).ok())
                            .filter(|&k| k >= 1 && k <= resolved.len())
                            .ok_or_else(|| bad(format!("bad threshold {k:?}")))?,
                    };
                    p.groups.push(PolicyGroup {
                        name: name.to_string(),
                        threshold,
                        members: resolved,
                    });
                }
                "quorum" => {
                    let [name] = args else {
                        return Err(bad("quorum takes one name".into()));
                    };
                    if saw_quorum {
                        return Err(bad("more than one quorum line".into()));
                    }
                    saw_quorum = true;
                    p.quorum = if *name == "none" {
                        None
                    } else {
                        Some(
                            p.lookup(name)
                                .ok_or_else(|| bad(format!("undefined name {name:?}")))?,
                        )
                    };
                }
                other => return Err(bad(format!("unknown keyword {other:?}"))),
            }
        }
        if !saw_quorum {
            return Err(CheckpointError::BadPolicy {
                line: text.split('\n').count(),
                reason: "no quorum line".into(),
            });
        }
        Ok(p)
    }

    fn check_new_name(&self, name: &str) -> Result<(), String> {
        if name == "none" {
            return Err("the name none is reserved".into());
        }
        if self.lookup(name).is_some() {
            return Err(format!("name {name:?} defined twice"));
        }
        Ok(())
    }

    fn lookup(&self, name: &str) -> Option<PolicyMember> {
        if let Some(i) = self.witnesses.iter().position(|w| w.name == name) {
            return Some(PolicyMember::Witness(i));
        }
        self.groups
            .iter()
            .position(|g| g.name == name)
            .map(PolicyMember::Group)
    }

    /// Builds the tlog-policy equivalent of "`k` of these witnesses" for one log
    /// (witnesses named `w1`, `w2`, …, in a group `quorum`).
    pub fn from_simple(log: &VerifierKey, simple: &WitnessPolicy) -> Self {
        let witnesses: Vec<PolicyWitness> = simple
            .witnesses
            .iter()
            .enumerate()
            .map(|(i, k)| PolicyWitness {
                name: format!("w{}", i + 1),
                key: k.clone(),
                url: None,
            })
            .collect();
        let (groups, quorum) = if simple.quorum == 0 {
            (Vec::new(), None)
        } else {
            (
                vec![PolicyGroup {
                    name: "quorum".into(),
                    threshold: simple.quorum,
                    members: (0..witnesses.len()).map(PolicyMember::Witness).collect(),
                }],
                Some(PolicyMember::Group(0)),
            )
        };
        TlogPolicy {
            logs: vec![PolicyLog {
                key: log.clone(),
                url: None,
            }],
            witnesses,
            groups,
            quorum,
        }
    }

    /// Formats the policy in the tlog-policy text format ([`TlogPolicy::parse`] reads
    /// it back to an equal value).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for l in &self.logs {
            out.push_str(&format!("log {}", l.key));
            if let Some(u) = &l.url {
                out.push_str(&format!(" {u}"));
            }
            out.push('\n');
        }
        for w in &self.witnesses {
            out.push_str(&format!("witness {} {}", w.name, w.key));
            if let Some(u) = &w.url {
                out.push_str(&format!(" {u}"));
            }
            out.push('\n');
        }
        for g in &self.groups {
            out.push_str(&format!("group {} {}", g.name, g.threshold));
            for m in &g.members {
                out.push(' ');
                out.push_str(self.member_name(m));
            }
            out.push('\n');
        }
        match &self.quorum {
            None => out.push_str("quorum none\n"),
            Some(m) => out.push_str(&format!("quorum {}\n", self.member_name(m))),
        }
        out
    }

    fn member_name(&self, m: &PolicyMember) -> &str {
        match m {
            PolicyMember::Witness(i) => self.witnesses.get(*i).map_or("?", |w| &w.name),
            PolicyMember::Group(i) => self.groups.get(*i).map_or("?", |g| &g.name),
        }
    }

    /// Returns the policy's log whose key name is `origin`, if any.
    pub fn log_for_origin(&self, origin: &str) -> Option<&VerifierKey> {
        self.logs
            .iter()
            .map(|l| &l.key)
            .find(|k| k.name() == origin)
    }

    /// Returns every witness key of the policy.
    pub fn witness_keys(&self) -> Vec<WitnessKey> {
        self.witnesses.iter().map(|w| w.key.clone()).collect()
    }

    /// Reports whether the member has witnessed, given the verified cosigners
    /// (C2SP tlog-policy, "Defining a witness group": at least k of n members).
    fn witnessed(&self, m: &PolicyMember, cosigners: &[WitnessKey], depth: usize) -> bool {
        // Groups only refer to earlier groups, so depth is bounded by the group count;
        // the guard only protects against hand-built cyclic values.
        if depth > self.groups.len() {
            return false;
        }
        match m {
            PolicyMember::Witness(i) => self
                .witnesses
                .get(*i)
                .is_some_and(|w| cosigners.contains(&w.key)),
            PolicyMember::Group(i) => self.groups.get(*i).is_some_and(|g| {
                g.members
                    .iter()
                    .filter(|m| self.witnessed(m, cosigners, depth + 1))
                    .count()
                    >= g.threshold
            }),
        }
    }

    /// Returns the fewest witnesses whose cosignatures could satisfy the member.
    fn min_needed(&self, m: &PolicyMember, depth: usize) -> usize {
        if depth > self.groups.len() {
            return usize::MAX;
        }
        match m {
            PolicyMember::Witness(_) => 1,
            PolicyMember::Group(i) => self.groups.get(*i).map_or(usize::MAX, |g| {
                let mut costs: Vec<usize> = g
                    .members
                    .iter()
                    .map(|m| self.min_needed(m, depth + 1))
                    .collect();
                costs.sort_unstable();
                costs
                    .iter()
                    .take(g.threshold)
                    .fold(0usize, |a, &c| a.saturating_add(c))
            }),
        }
    }

    /// Reports whether the verified cosigners satisfy the quorum (C2SP tlog-policy).
    pub fn is_satisfied(&self, cosigners: &[WitnessKey]) -> bool {
        match &self.quorum {
            None => true,
            Some(q) => self.witnessed(q, cosigners, 0),
        }
    }

    fn check(&self, cosigners: &[WitnessKey]) -> Result<(), CheckpointError> {
        if self.is_satisfied(cosigners) {
            return Ok(());
        }
        let have = self
            .witnesses
            .iter()
            .filter(|w| cosigners.contains(&w.key))
            .count();
        let need = self.quorum.as_ref().map_or(0, |q| self.min_needed(q, 0));
        Err(CheckpointError::QuorumNotMet { have, need })
    }
}

// ---------------------------------------------------------------------------------------
// Opening signed checkpoints
// ---------------------------------------------------------------------------------------

/// A checkpoint whose log signature and witness quorum verified.
#[derive(Clone, Debug)]
pub struct SignedCheckpoint {
    /// The parsed checkpoint.
    pub checkpoint: Checkpoint,
    /// The whole signed note as received (text, blank line, every signature line).
    pub note: String,
    /// The policy witnesses whose cosignature verified, with their timestamps, in note
    /// order, each once.
    pub cosigners: Vec<(WitnessKey, u64)>,
}

/// Opens a signed checkpoint: the log signature must verify, the origin must equal the
/// log key name, every cosignature line by a policy witness must verify (unknown lines
/// are ignored, C2SP signed-note), and the policy quorum must be met.
///
/// # Errors
/// [`CheckpointError::Malformed`], [`CheckpointError::BadLogSignature`],
/// [`CheckpointError::WrongOrigin`], [`CheckpointError::BadCosignature`],
/// [`CheckpointError::QuorumNotMet`].
pub fn open_checkpoint(
    note: &[u8],
    log_key: &VerifierKey,
    policy: &WitnessPolicy,
) -> Result<SignedCheckpoint, CheckpointError> {
    open_inner(
        note,
        std::slice::from_ref(log_key),
        &policy.witnesses,
        |c| policy.check(c),
    )
}

/// Opens a signed checkpoint against a C2SP tlog-policy: signed by any listed log whose
/// key name is the origin, cosignatures checked as in [`open_checkpoint`], then the
/// policy's quorum rule evaluated.
///
/// # Errors
/// As [`open_checkpoint`]; [`CheckpointError::WrongOrigin`] if no policy log has the
/// checkpoint's origin as its name.
pub fn open_checkpoint_with_policy(
    note: &[u8],
    policy: &TlogPolicy,
) -> Result<SignedCheckpoint, CheckpointError> {
    let logs: Vec<VerifierKey> = policy.logs.iter().map(|l| l.key.clone()).collect();
    open_inner(note, &logs, &policy.witness_keys(), |c| policy.check(c))
}

fn open_inner(
    note_bytes: &[u8],
    log_keys: &[VerifierKey],
    witnesses: &[WitnessKey],
    check_quorum: impl Fn(&[WitnessKey]) -> Result<(), CheckpointError>,
) -> Result<SignedCheckpoint, CheckpointError> {
    let note_str = std::str::from_utf8(note_bytes).map_err(|_| malformed("note is not UTF-8"))?;
    // The checkpoint is parsed before any signature is checked, so that garbage is
    // refused as malformed and the origin picks the log key.
    let parsed = signed_note::Note::from_bytes(note_bytes).map_err(|_| malformed("bad note"))?;
    let text = std::str::from_utf8(parsed.text()).map_err(|_| malformed("note is not UTF-8"))?;
    let checkpoint = Checkpoint::parse_text(text)?;
    let log_key: Vec<VerifierKey> = log_keys
        .iter()
        .filter(|k| k.name() == checkpoint.origin)
        .cloned()
        .collect();
    if log_key.is_empty() {
        return Err(CheckpointError::WrongOrigin {
            origin: checkpoint.origin,
            expected: log_keys
                .iter()
                .map(|k| k.name().to_string())
                .collect::<Vec<_>>()
                .join(" or "),
        });
    }
    let opened = note::open(note_bytes, &log_key).map_err(|e| match e {
        NoteError::InvalidSignature(_) | NoteError::Unverified => CheckpointError::BadLogSignature,
        other => malformed(other.to_string()),
    })?;
    let mut cosigners: Vec<(WitnessKey, u64)> = Vec::new();
    for sig in &opened.unverified {
        let Some(w) = witnesses
            .iter()
            .find(|w| w.name == sig.name() && w.id == sig.id())
        else {
            continue;
        };
        let ts = w
            .verify_cosignature(&opened.text, sig.signature())
            .ok_or_else(|| CheckpointError::BadCosignature(format!("{}+{:08x}", w.name, w.id)))?;
        if !cosigners.iter().any(|(k, _)| k == w) {
            cosigners.push((w.clone(), ts));
        }
    }
    let keys: Vec<WitnessKey> = cosigners.iter().map(|(k, _)| k.clone()).collect();
    check_quorum(&keys)?;
    Ok(SignedCheckpoint {
        checkpoint,
        note: note_str.to_string(),
        cosigners,
    })
}

/// One parsed signature line `— <name> base64(key ID ‖ rest)`.
fn parse_signature_line(line: &str) -> Result<signed_note::Signature, CheckpointError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    if line.contains('\n') {
        return Err(malformed("signature line holds a newline"));
    }
    signed_note::Signature::from_bytes(line.as_bytes())
        .map_err(|_| malformed(format!("bad signature line {:?}", truncate(line))))
}

fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}

/// Appends cosignature lines (e.g. a witness's `add-checkpoint` response) to a signed
/// checkpoint. Each element of `lines` holds one or more newline-terminated signature
/// lines (the final newline may be left out). A line whose key (name and key ID)
/// already signs the note, or came earlier in `lines`, is dropped: the existing line is
/// kept, so an unverified line can never displace a good one. Nothing is verified here:
/// open the result with [`open_checkpoint`].
///
/// # Errors
/// [`CheckpointError::Malformed`] if the note or its text is not a signed checkpoint, a
/// line is not a signature line, or the result would exceed the signed-note limit of 100
/// signatures.
pub fn add_cosignatures(signed_note: &str, lines: &[String]) -> Result<String, CheckpointError> {
    let note = signed_note::Note::from_bytes(signed_note.as_bytes())
        .map_err(|_| malformed("bad signed note"))?;
    let text = std::str::from_utf8(note.text()).map_err(|_| malformed("note is not UTF-8"))?;
    Checkpoint::parse_text(text)?;
    let sig_block = &signed_note[text.len() + 1..];
    let mut keys: Vec<(String, u32)> = Vec::new();
    for l in sig_block.lines() {
        let s = parse_signature_line(l)?;
        keys.push((s.name().to_string(), s.id()));
    }
    let mut out = signed_note.to_string();
    for chunk in lines {
        let body = chunk.strip_suffix('\n').unwrap_or(chunk);
        for l in body.split('\n') {
            let s = parse_signature_line(l)?;
            let key = (s.name().to_string(), s.id());
            if keys.contains(&key) {
                continue;
            }
            keys.push(key);
            out.push_str(l);
            out.push('\n');
        }
    }
    if keys.len() > 100 {
        return Err(malformed("more than 100 signatures"));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Offline proofs (C2SP tlog-proof)
// ---------------------------------------------------------------------------------------

/// An offline receipt: an entry index, its inclusion proof, and the signed checkpoint
/// the proof leads to (C2SP tlog-proof, "Format").
#[derive(Clone, Debug, PartialEq)]
pub struct TlogProof {
    /// Optional opaque extra data (the `extra` line); never authenticated.
    pub extra: Option<Vec<u8>>,
    /// The zero-based index of the entry.
    pub index: u64,
    /// The RFC 6962 inclusion proof, from the leaf's sibling up to the root's child.
    pub proof: Vec<Hash>,
    /// The signed (and possibly cosigned) checkpoint note, verbatim.
    pub checkpoint: String,
}

// Byte equality of hashes is total; see the same impl for `Checkpoint`.
impl Eq for TlogProof {}

impl TlogProof {
    /// Parses a tlog-proof: `c2sp.org/tlog-proof@v1`, optional `extra <base64>`,
    /// `index <N>`, zero or more base64 hashes, an empty line, then a signed checkpoint
    /// (C2SP tlog-proof, "Format"). The checkpoint must parse and the index must be
    /// below its size; no signature is checked here (see [`TlogProof::verify`]).
    ///
    /// # Errors
    /// [`CheckpointError::Malformed`] naming the first problem.
    pub fn parse(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let s = std::str::from_utf8(bytes).map_err(|_| malformed("proof is not UTF-8"))?;
        let (head, checkpoint) = s
            .split_once("\n\n")
            .ok_or_else(|| malformed("proof has no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(TLOG_PROOF_HEADER) {
            return Err(malformed("first line is not c2sp.org/tlog-proof@v1"));
        }
        let mut line = lines.next().ok_or_else(|| malformed("no index line"))?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            let data = BASE64
                .decode(b64)
                .map_err(|_| malformed("bad base64 in extra line"))?;
            if data.is_empty() {
                return Err(malformed("empty extra line"));
            }
            extra = Some(data);
            line = lines.next().ok_or_else(|| malformed("no index line"))?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or_else(|| malformed(format!("bad index line {:?}", truncate(line))))?;
        let mut proof = Vec::new();
        for l in lines {
            if proof.len() == MAX_PROOF_HASHES {
                return Err(malformed("too many proof hashes"));
            }
            proof.push(parse_hash(l).ok_or_else(|| malformed(format!("bad proof hash {l:?}")))?);
        }
        let note = signed_note::Note::from_bytes(checkpoint.as_bytes())
            .map_err(|_| malformed("bad checkpoint note"))?;
        let text = std::str::from_utf8(note.text()).map_err(|_| malformed("bad checkpoint"))?;
        let cp = Checkpoint::parse_text(text)?;
        if index >= cp.size {
            return Err(malformed("index not below the checkpoint size"));
        }
        Ok(TlogProof {
            extra,
            index,
            proof,
            checkpoint: checkpoint.to_string(),
        })
    }

    /// An urne receipt: the proof of the entry at `index`, carrying the entry itself
    /// in the `extra` line (its application-specific data), so that the receipt is
    /// checked without the log: the entry's leaf hash must then lead to the signed
    /// root ([`TlogProof::entry`]).
    pub fn with_entry(index: u64, proof: Vec<Hash>, checkpoint: String, entry: Vec<u8>) -> Self {
        TlogProof {
            extra: (!entry.is_empty()).then_some(entry),
            index,
            proof,
            checkpoint,
        }
    }

    /// The entry an urne receipt carries (its `extra` line), unauthenticated until its
    /// leaf hash is proved in the checkpoint ([`TlogProof::verify`] with
    /// [`crate::tree::record_hash`] of it).
    pub fn entry(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }

    /// Formats the proof; [`TlogProof::parse`] reads it back to an equal value.
    pub fn to_text(&self) -> String {
        let mut out = String::from(TLOG_PROOF_HEADER);
        out.push('\n');
        if let Some(extra) = &self.extra {
            out.push_str("extra ");
            out.push_str(&BASE64.encode(extra));
            out.push('\n');
        }
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.proof {
            out.push_str(&h.to_string());
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// Verifies the receipt offline: opens the checkpoint against the log key and the
    /// witness policy, then checks that the entry with `record_hash` (RFC 6962 leaf hash,
    /// SHA-256(0x00 ‖ entry)) is at `index` in that tree (RFC 9162, 2.1.3.2).
    ///
    /// # Errors
    /// Those of [`open_checkpoint`], and [`CheckpointError::BadProof`].
    pub fn verify(
        &self,
        record_hash: &Hash,
        log_key: &VerifierKey,
        policy: &WitnessPolicy,
    ) -> Result<SignedCheckpoint, CheckpointError> {
        let signed = open_checkpoint(self.checkpoint.as_bytes(), log_key, policy)?;
        let cp = &signed.checkpoint;
        if self.index >= cp.size || self.proof.len() > MAX_PROOF_HASHES {
            return Err(CheckpointError::BadProof(
                "index not below tree size".into(),
            ));
        }
        tlog_tiles::check_record(&self.proof, cp.size, cp.root, self.index, *record_hash)
            .map_err(|e| CheckpointError::BadProof(e.to_string()))?;
        Ok(signed)
    }
}
