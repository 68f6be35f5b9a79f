//! Ed25519 cosignatures (C2SP tlog-cosignature, `cosignature/v1`, key type 0x04).
//!
//! Owns: witness verifier keys ([`WitnessKey`]), cosigner signing keys
//! ([`CosignerKey`]), the signed message and key ID of `cosignature/v1`, and adding
//! cosignature lines to a signed checkpoint ([`add_cosignatures`]). Does not own:
//! deciding whether enough witnesses cosigned (`tlog_policy`, `open`).

use super::{malformed, truncate, Checkpoint, CheckpointError};
use crate::note::VerifierKey;
use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use sha2::{Digest, Sha256};
use std::fmt;

/// The C2SP tlog-cosignature key type byte of Ed25519 `cosignature/v1` keys ("Format").
pub const COSIGNATURE_ALG: u8 = 0x04;

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

/// One parsed signature line `— <name> base64(key ID ‖ rest)`.
fn parse_signature_line(line: &str) -> Result<signed_note::Signature, CheckpointError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    if line.contains('\n') {
        return Err(malformed("signature line holds a newline"));
    }
    signed_note::Signature::from_bytes(line.as_bytes())
        .map_err(|_| malformed(format!("bad signature line {:?}", truncate(line))))
}

/// Appends cosignature lines (e.g. a witness's `add-checkpoint` response) to a signed
/// checkpoint. Each element of `lines` holds one or more newline-terminated signature
/// lines (the final newline may be left out). A line whose key (name and key ID)
/// already signs the note, or came earlier in `lines`, is dropped: the existing line is
/// kept, so an unverified line can never displace a good one. Nothing is verified here:
/// open the result with [`super::open_checkpoint`].
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
