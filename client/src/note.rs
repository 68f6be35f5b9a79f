//! Signed notes (C2SP signed-note) with Ed25519 keys.
//!
//! Owns: key generation, signer and verifier key strings (`name+keyid+base64`), key
//! IDs, signing a text, and opening a note with several signature lines (known keys
//! verified, unknown ones kept aside, a bad signature by a known key an error).
//! Does not own: what the text means (statements, checkpoints) nor cosignatures
//! (`checkpoint/`).
//!
//! The note format and Ed25519 signer/verifier are Cloudflare's `signed_note` crate, a
//! port of Go's reference `golang.org/x/mod/sumdb/note`; this module only gives it the
//! shapes urne needs (a parsed [`VerifierKey`] that can be stored and compared, and
//! [`open`] returning which keys signed).

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
pub use signed_note::{Note, Signature};
use signed_note::{StandardVerifier, Verifier, VerifierList};
use std::fmt;

/// The Ed25519 algorithm byte of C2SP signed-note verifier keys.
pub const ALG_ED25519: u8 = 0x01;

/// Errors about keys and notes.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum NoteError {
    /// A verifier key string is not `name+hex8+base64(0x01‖key)` with a matching ID.
    #[error("malformed verifier key: {0}")]
    BadVerifierKey(String),
    /// A signer key string is not `PRIVATE+KEY+name+hex8+base64(0x01‖seed)`.
    #[error("malformed signer key")]
    BadSignerKey,
    /// The note is not a well-formed signed note (text, blank line, signature lines).
    #[error("malformed note")]
    Malformed,
    /// A signature line by a known key does not verify.
    #[error("invalid signature by {0}")]
    InvalidSignature(String),
    /// No signature by any known key.
    #[error("note has no signature by a known key")]
    Unverified,
    /// A key name is empty or holds spaces or '+'.
    #[error("invalid key name {0:?}")]
    BadName(String),
}

/// Computes the key ID of C2SP signed-note: the first 4 bytes of
/// SHA-256(name ‖ "\n" ‖ type byte ‖ public key), big-endian.
pub fn key_id(name: &str, alg: u8, public_key: &[u8]) -> u32 {
    let mut encoded = Vec::with_capacity(1 + public_key.len());
    encoded.push(alg);
    encoded.extend_from_slice(public_key);
    signed_note::key_id(name, &encoded)
}

/// Splits a verifier key string `<name>+<hex8>+<base64(alg ‖ key)>` (signed-note
/// keys, and C2SP cosignature keys with their own algorithm byte) into name, key ID
/// and public key, checking the syntax and the algorithm byte; the caller checks that
/// the ID matches. The error says what is wrong.
pub(crate) fn split_key_string(vkey: &str, alg: u8) -> Result<(&str, u32, [u8; 32]), &'static str> {
    let mut parts = vkey.splitn(3, '+');
    let (Some(name), Some(id16), Some(key64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("not name+id+key");
    };
    if !signed_note::is_key_name_valid(name) {
        return Err("invalid key name");
    }
    if id16.len() != 8
        || !id16
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err("key ID is not 8 lowercase hex digits");
    }
    let id = u32::from_str_radix(id16, 16).map_err(|_| "bad key ID")?;
    let raw = BASE64.decode(key64).map_err(|_| "bad base64")?;
    if raw.len() != 33 || raw[0] != alg {
        return Err("wrong key algorithm or length");
    }
    let mut public_key = [0u8; 32];
    public_key.copy_from_slice(&raw[1..]);
    Ok((name, id, public_key))
}

/// Writes a verifier key string `<name>+<hex8>+<base64(alg ‖ key)>`.
pub(crate) fn write_key_string(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    id: u32,
    alg: u8,
    public_key: &[u8; 32],
) -> fmt::Result {
    let mut raw = [0u8; 33];
    raw[0] = alg;
    raw[1..].copy_from_slice(public_key);
    write!(f, "{name}+{id:08x}+{}", BASE64.encode(raw))
}

/// An Ed25519 verifier key of a named signer, parsed from its key string.
///
/// The decompressed curve point is kept: decompressing it costs about a third of a
/// signature verification, and the log verifies every statement.
#[derive(Clone)]
pub struct VerifierKey {
    name: String,
    id: u32,
    public_key: [u8; 32],
    point: ed25519_dalek::VerifyingKey,
}

impl PartialEq for VerifierKey {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.id == other.id && self.public_key == other.public_key
    }
}

impl Eq for VerifierKey {}

impl std::hash::Hash for VerifierKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.id.hash(state);
        self.public_key.hash(state);
    }
}

impl VerifierKey {
    /// Parses a verifier key string `<name>+<8 hex key ID>+<base64(0x01 ‖ public key)>`.
    ///
    /// # Errors
    /// [`NoteError::BadVerifierKey`] if the string is malformed, not Ed25519, or its key
    /// ID does not match its name and key.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let bad = || NoteError::BadVerifierKey(vkey.chars().take(120).collect());
        let (name, id, public_key) = split_key_string(vkey, ALG_ED25519).map_err(|_| bad())?;
        if key_id(name, ALG_ED25519, &public_key) != id {
            return Err(bad());
        }
        // Reject points that are not valid Ed25519 public keys now, not at first use.
        let point = ed25519_dalek::VerifyingKey::from_bytes(&public_key).map_err(|_| bad())?;
        Ok(VerifierKey {
            name: name.to_string(),
            id,
            public_key,
            point,
        })
    }

    /// Builds the verifier key of `name` for an Ed25519 public key.
    ///
    /// # Errors
    /// [`NoteError::BadName`] for an invalid key name (empty, spaces, '+');
    /// [`NoteError::BadVerifierKey`] if the bytes are not an Ed25519 point.
    pub fn from_public_key(name: &str, public_key: [u8; 32]) -> Result<Self, NoteError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(NoteError::BadName(name.to_string()));
        }
        // Checked here so that `verifying_key` can never fail later.
        let point = ed25519_dalek::VerifyingKey::from_bytes(&public_key)
            .map_err(|_| NoteError::BadVerifierKey(format!("{name}: not an Ed25519 point")))?;
        Ok(VerifierKey {
            name: name.to_string(),
            id: key_id(name, ALG_ED25519, &public_key),
            public_key,
            point,
        })
    }

    /// Returns the key name (for a log: its origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the 4-byte key ID.
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// Returns the raw Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public_key
    }

    /// Returns an `ed25519_dalek` verifying key (valid by construction).
    pub fn verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        self.point
    }

    /// Reports whether `sig` is a valid Ed25519 signature of `msg` by this key.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        use ed25519_dalek::Verifier as _;
        let Ok(sig) = <[u8; 64]>::try_from(sig) else {
            return false;
        };
        self.point
            .verify(msg, &ed25519_dalek::Signature::from_bytes(&sig))
            .is_ok()
    }

    fn to_note_verifier(&self) -> Box<dyn Verifier> {
        Box::new(
            StandardVerifier::new(&self.to_string())
                .expect("a VerifierKey always encodes to a valid key string"),
        )
    }
}

impl fmt::Display for VerifierKey {
    /// Formats the verifier key string `<name>+<hex8>+<base64>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_key_string(f, &self.name, self.id, ALG_ED25519, &self.public_key)
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

impl std::str::FromStr for VerifierKey {
    type Err = NoteError;
    fn from_str(s: &str) -> Result<Self, NoteError> {
        VerifierKey::parse(s)
    }
}

/// An Ed25519 signing key of a named signer. Its `Debug` never prints the secret.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    signing_key: ed25519_dalek::SigningKey,
    verifier: VerifierKey,
}

impl SignerKey {
    /// Generates a fresh key for `name` from the operating system's CSPRNG.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        let signing_key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        Self::from_signing_key(name, signing_key)
    }

    /// Builds a signer from a name and a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        Self::from_signing_key(name, ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    fn from_signing_key(
        name: &str,
        signing_key: ed25519_dalek::SigningKey,
    ) -> Result<Self, NoteError> {
        let verifier = VerifierKey::from_public_key(name, signing_key.verifying_key().to_bytes())?;
        Ok(SignerKey {
            name: name.to_string(),
            signing_key,
            verifier,
        })
    }

    /// Parses a signer key string `PRIVATE+KEY+<name>+<hex8>+<base64(0x01 ‖ seed)>`, as
    /// written by Go's `note.GenerateKey`.
    pub fn parse(skey: &str) -> Result<Self, NoteError> {
        let skey = skey.trim_end_matches('\n');
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::BadSignerKey)?;
        let mut parts = rest.splitn(3, '+');
        let (name, id16, key64) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(i), Some(k)) => (n, i, k),
            _ => return Err(NoteError::BadSignerKey),
        };
        let raw = BASE64.decode(key64).map_err(|_| NoteError::BadSignerKey)?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 || id16.len() != 8 {
            return Err(NoteError::BadSignerKey);
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&raw[1..]);
        let key = Self::from_seed(name, seed).map_err(|_| NoteError::BadSignerKey)?;
        if format!("{:08x}", key.verifier.key_id()) != id16 {
            return Err(NoteError::BadSignerKey);
        }
        Ok(key)
    }

    /// Formats the signer key string (secret: store it with mode 0600, never log it).
    pub fn to_signer_string(&self) -> String {
        let mut raw = [0u8; 33];
        raw[0] = ALG_ED25519;
        raw[1..].copy_from_slice(&self.signing_key.to_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.verifier.key_id(),
            BASE64.encode(raw)
        )
    }

    /// Returns the key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the matching verifier key.
    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// Signs raw bytes (Ed25519, deterministic).
    pub fn sign_bytes(&self, msg: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer as _;
        self.signing_key.sign(msg).to_bytes()
    }

    /// Formats the signature line `— <name> <base64(key ID ‖ signature)>\n` of `text`.
    pub fn signature_line(&self, text: &[u8]) -> String {
        let mut raw = Vec::with_capacity(68);
        raw.extend_from_slice(&self.verifier.key_id().to_be_bytes());
        raw.extend_from_slice(&self.sign_bytes(text));
        format!("\u{2014} {} {}\n", self.name, BASE64.encode(raw))
    }
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignerKey({}, secret elided)", self.verifier)
    }
}

/// Signs `text` (which must end in a newline) with every signer, in order, returning
/// the signed note: text, blank line, one signature line per signer.
///
/// # Errors
/// [`NoteError::Malformed`] if the text is not a valid note text (not UTF-8, control
/// characters, no final newline).
pub fn sign(text: &str, signers: &[&SignerKey]) -> Result<String, NoteError> {
    Note::new(text.as_bytes(), &[]).map_err(|_| NoteError::Malformed)?;
    let mut out = String::with_capacity(text.len() + 1 + 100 * signers.len());
    out.push_str(text);
    out.push('\n');
    for s in signers {
        out.push_str(&s.signature_line(text.as_bytes()));
    }
    Ok(out)
}

/// A note opened against a set of known keys.
#[derive(Debug, Clone)]
pub struct OpenedNote {
    /// The note text, including its final newline.
    pub text: String,
    /// The known keys whose signatures verified, in the order of the note, without
    /// duplicates.
    pub verified: Vec<VerifierKey>,
    /// Signature lines by keys that are not known (kept aside, not checked).
    pub unverified: Vec<Signature>,
}

/// Opens a signed note: parses it, verifies every signature line by a known key, and
/// sets aside lines by unknown keys, as Go's `note.Open` does.
///
/// # Errors
/// [`NoteError::Malformed`] for a malformed note; [`NoteError::InvalidSignature`] if a
/// known key's signature does not verify; [`NoteError::Unverified`] if no known key
/// signed it.
pub fn open(msg: &[u8], known: &[VerifierKey]) -> Result<OpenedNote, NoteError> {
    let note = Note::from_bytes(msg).map_err(|_| NoteError::Malformed)?;
    // The same key listed twice is one key; `VerifierList` would call it ambiguous.
    let mut unique: Vec<&VerifierKey> = Vec::with_capacity(known.len());
    for k in known {
        if !unique.contains(&k) {
            unique.push(k);
        }
    }
    let list = VerifierList::new(unique.iter().map(|k| k.to_note_verifier()).collect());
    let (verified, unverified) = note.verify(&list).map_err(|e| match e {
        signed_note::NoteError::InvalidSignature { name, id } => {
            NoteError::InvalidSignature(format!("{name}+{id:08x}"))
        }
        signed_note::NoteError::UnverifiedNote => NoteError::Unverified,
        // Two different known keys with one name and key ID: the key set is unusable.
        signed_note::NoteError::VerificationError(
            signed_note::VerificationError::AmbiguousKey { name, id },
        ) => NoteError::BadVerifierKey(format!("ambiguous key {name}+{id:08x}")),
        _ => NoteError::Malformed,
    })?;
    let verified = verified
        .iter()
        .filter_map(|s| {
            known
                .iter()
                .find(|k| k.name() == s.name() && k.key_id() == s.id())
                .cloned()
        })
        .collect();
    let text = String::from_utf8(note.text().to_vec()).map_err(|_| NoteError::Malformed)?;
    Ok(OpenedNote {
        text,
        verified,
        unverified,
    })
}

impl serde::Serialize for VerifierKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for VerifierKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        VerifierKey::parse(&s).map_err(serde::de::Error::custom)
    }
}
