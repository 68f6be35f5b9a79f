//! Batch verification of Ed25519 signatures: many signatures checked with one
//! multiscalar multiplication, with the verdict of the single verification
//! ([`VerifierKey::verify`]) for each one, and its use for many statements at once
//! ([`verify_statements`]: the monitor's audit).
//!
//! Owns: which signatures may be batched, the batch equation and its random
//! coefficients, the batch size ([`BATCH_SIZE`]), the fallback that names exactly the
//! signatures the single verification rejects, and the two modes ([`Mode`]). Does not
//! own: the single verification (`note`), which lines a statement needs and who may
//! sign them (`rules`).
//!
//! # What every party checks
//!
//! The log, `urne-client` and the monitor verify each signature with ed25519-dalek's
//! `VerifyingKey::verify`, the browsers with WebCrypto: both cofactorless. A signature
//! `(R, s)` of message `M` by key `A` is valid iff `s < ℓ` and the encoding of
//! `[s]B − [h]A` is the 32 bytes `R`, with `h = SHA-512(R ‖ A ‖ M) mod ℓ`.
//!
//! # The batch equation
//!
//! For signatures `i` in a batch, with `z_i` independent random 128-bit scalars drawn
//! from the operating system's generator for each batch:
//!
//! `Σ z_i R_i − (Σ z_i s_i) B + Σ_A (Σ_{i by A} z_i h_i) A == identity` (cofactorless,
//! as ed25519-dalek's own `verify_batch`).
//!
//! The terms of one key are merged: an election has a few authorities (the platform
//! signs every ballot, the registrar every credential), so the multiscalar
//! multiplication has one point per signature (its `R`) plus one per distinct key and
//! the base point, about half the size of ed25519-dalek's `verify_batch` (which adds
//! one `A` per signature), and the `R` terms carry 128-bit scalars (half the
//! additions). The coefficients are never derived from the data: a log that could
//! predict them could craft an invalid signature that passes.
//!
//! # Which signatures are batched
//!
//! A signature enters a batch only if its `s` is canonical (`< ℓ`), its `R` bytes are
//! the canonical encoding of a curve point, and its key is torsion-free (checked once
//! per key and call). Anything else is checked alone by [`VerifierKey::verify`]. Then
//! a signature valid for the single verification satisfies its own term exactly
//! (`R = [s]B − [h]A` as points), so a batch of valid signatures always passes: **no
//! false alert**.
//!
//! **When a batch fails, each of its signatures is verified alone**, so the verdicts
//! (and the monitor's alerts) name exactly the signatures the single verification
//! rejects. Bisecting would be cheaper for a batch with one bad signature, and dearer
//! for one with many: alone, a failed batch costs at most its single verifications
//! plus one batch, whatever a log puts in it.
//!
//! # The residual (what a batch cannot see)
//!
//! Let `T` be a point of small order (the curve has eight). A signature whose `R` is
//! `[r]B + T` and whose `s` is `r + h·a` (`a` the secret key) satisfies RFC 8032's
//! cofactored equation `[8][s]B = [8]R + [8][h]A` but not the single verification,
//! which rejects it. In a batch its term is `z_i·T`, the identity whenever `z_i` is a
//! multiple of `T`'s order: it passes with probability 1/2 (`T` of order 2) down to
//! 1/8. Making one needs the secret key, as any signature valid for the cofactored
//! check does; nobody else can turn a valid signature into one (changing `R` changes
//! `h`). So no statement can be forged or altered this way: only an authority can
//! write a deliberately malformed signature of its own statement that a batch may
//! accept, which the log would have refused (it verifies every statement alone)
//! and the browsers reject. Each audit (each monitor, each re-run) draws fresh
//! coefficients: two audits both miss it with probability 1/4 at most. Excluding it
//! would cost a torsion check per `R`, a scalar multiplication, as much as the
//! single verification. [`Mode::Each`] verifies every signature alone: exact
//! agreement with the log's and the browsers' verifiers, slower (`urne-client
//! monitor --verify-each`).

use crate::note::VerifierKey;
use crate::rules::{self, Refusal, Verified};
use crate::statement::{Role, SignedStatement};
use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use rand::RngCore;
use sha2::{Digest, Sha512};

/// Signatures per batch equation. Measured on the project's 2-core machine
/// (`cargo bench -p urne-client --bench audit -- ed25519/`, BENCHMARKS.md): per
/// signature, 19 µs in batches of 16, 12 at 64, 10.6 at 256, 8.3 at 1,024 (36 alone):
/// still falling at 1,024, where a failed batch (1,024 single verifications) costs a
/// monitor 37 ms. The monitor hands each core 2,048 statements at a time.
pub const BATCH_SIZE: usize = 1024;

/// How signatures are checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Batches of [`BATCH_SIZE`], each signature of a failed batch checked alone
    /// (see the module's header for the residual).
    #[default]
    Batch,
    /// Every signature alone, as the log and the browsers check it.
    Each,
}

/// One signature to check: `sig` over `msg` by `key`.
#[derive(Clone, Copy, Debug)]
pub struct Signed<'a> {
    /// The signer's key.
    pub key: &'a VerifierKey,
    /// The signed message.
    pub msg: &'a [u8],
    /// The signature bytes (64 for Ed25519; anything else is invalid).
    pub sig: &'a [u8],
}

/// A key met in one call: its point and whether it may be batched.
struct KeyInfo {
    public_key: [u8; 32],
    point: EdwardsPoint,
    torsion_free: bool,
}

/// A signature admitted to a batch, decoded.
struct Term {
    /// Its position in the caller's slice.
    at: usize,
    /// Index of its key in the call's key list.
    key: usize,
    r: EdwardsPoint,
    s: Scalar,
    h: Scalar,
}

/// Returns whether each signature is valid, as [`VerifierKey::verify`] says (in
/// [`Mode::Batch`], up to the residual of the module's header).
pub fn verify_signatures(sigs: &[Signed<'_>], mode: Mode) -> Vec<bool> {
    match mode {
        Mode::Each => sigs.iter().map(|x| x.key.verify(x.msg, x.sig)).collect(),
        Mode::Batch => verify_batched(sigs, BATCH_SIZE),
    }
}

/// [`verify_signatures`] in batches of at most `max` signatures (for the benchmark
/// that chose [`BATCH_SIZE`]).
pub fn verify_batched(sigs: &[Signed<'_>], max: usize) -> Vec<bool> {
    let max = max.max(1);
    let mut ok = vec![false; sigs.len()];
    let mut keys: Vec<KeyInfo> = Vec::new();
    let mut batch: Vec<Term> = Vec::with_capacity(max.min(sigs.len()));
    for (at, x) in sigs.iter().enumerate() {
        match admit(at, x, &mut keys) {
            Some(t) => {
                batch.push(t);
                if batch.len() == max {
                    settle(&batch, &keys, sigs, &mut ok);
                    batch.clear();
                }
            }
            None => ok[at] = x.key.verify(x.msg, x.sig),
        }
    }
    settle(&batch, &keys, sigs, &mut ok);
    ok
}

/// Decodes a signature for a batch, or `None` if it must be checked alone: not 64
/// bytes, `s` not canonical, `R` not a canonical point encoding, key not
/// torsion-free.
fn admit(at: usize, x: &Signed<'_>, keys: &mut Vec<KeyInfo>) -> Option<Term> {
    let sig: &[u8; 64] = x.sig.try_into().ok()?;
    let (r_bytes, s_bytes) = sig.split_at(32);
    let r_bytes: [u8; 32] = r_bytes.try_into().ok()?;
    let s: Scalar = Option::from(Scalar::from_canonical_bytes(s_bytes.try_into().ok()?))?;
    if !is_canonical_encoding(&r_bytes) {
        return None;
    }
    let r = CompressedEdwardsY(r_bytes).decompress()?;
    let a = x.key.public_key();
    let key = match keys.iter().rposition(|k| &k.public_key == a) {
        Some(k) => k,
        None => {
            let point = x.key.verifying_key().to_edwards();
            keys.push(KeyInfo {
                public_key: *a,
                point,
                torsion_free: point.is_torsion_free(),
            });
            keys.len() - 1
        }
    };
    if !keys[key].torsion_free {
        return None;
    }
    let mut d = Sha512::new();
    d.update(r_bytes);
    d.update(a);
    d.update(x.msg);
    let h = Scalar::from_bytes_mod_order_wide(&d.finalize().into());
    Some(Term { at, key, r, s, h })
}

/// Whether 32 bytes are the canonical encoding of a field element `y` and a sign
/// bit: `y < p = 2^255 − 19`, and no sign bit on the two points whose `x` is 0
/// (`y = 1` and `y = p − 1`), which decompression accepts and compression never
/// writes. For the bytes of a curve point, exactly the encodings that decompress and
/// compress back to themselves (tested below), without the field inversion of a
/// compression.
fn is_canonical_encoding(b: &[u8; 32]) -> bool {
    let high = b[31] & 0x7f;
    let middle_all_ones = b[1..31].iter().all(|&x| x == 0xff);
    // y ≥ p: 0x7f, then 30 bytes of 0xff, then a first byte ≥ 0xed.
    if high == 0x7f && middle_all_ones && b[0] >= 0xed {
        return false;
    }
    if b[31] & 0x80 != 0 {
        let is_one = b[0] == 1 && b[1..31].iter().all(|&x| x == 0) && high == 0;
        let is_minus_one = b[0] == 0xec && middle_all_ones && high == 0x7f;
        if is_one || is_minus_one {
            return false;
        }
    }
    true
}

/// Checks one batch: sets `ok` for its signatures, from the batch equation if it
/// holds, else from each signature checked alone.
fn settle(batch: &[Term], keys: &[KeyInfo], sigs: &[Signed<'_>], ok: &mut [bool]) {
    let alone = |ok: &mut [bool]| {
        for t in batch {
            let x = &sigs[t.at];
            ok[t.at] = x.key.verify(x.msg, x.sig);
        }
    };
    // One signature: the single verification is cheaper than a batch of one.
    if batch.len() < 2 {
        return alone(ok);
    }
    let mut random = vec![0u8; 16 * batch.len()];
    // No coefficients from the system: no batch (never predictable ones).
    if rand::rngs::OsRng.try_fill_bytes(&mut random).is_err() {
        return alone(ok);
    }
    let mut scalars: Vec<Scalar> = Vec::with_capacity(batch.len() + 8);
    let mut points: Vec<EdwardsPoint> = Vec::with_capacity(batch.len() + 8);
    // The base point's coefficient first, then one per distinct key (merged).
    scalars.push(Scalar::ZERO);
    points.push(ED25519_BASEPOINT_POINT);
    let mut key_slot: Vec<(usize, usize)> = Vec::new();
    let mut sum_zs = Scalar::ZERO;
    let mut zs: Vec<Scalar> = Vec::with_capacity(batch.len());
    for (t, z16) in batch.iter().zip(random.chunks_exact(16)) {
        let mut z = [0u8; 32];
        z[..16].copy_from_slice(z16);
        let z = Scalar::from_bytes_mod_order(z);
        sum_zs += z * t.s;
        let slot = match key_slot.iter().rev().find(|(k, _)| *k == t.key) {
            Some(&(_, slot)) => slot,
            None => {
                scalars.push(Scalar::ZERO);
                points.push(keys[t.key].point);
                key_slot.push((t.key, scalars.len() - 1));
                scalars.len() - 1
            }
        };
        scalars[slot] += z * t.h;
        zs.push(z);
    }
    scalars[0] = -sum_zs;
    scalars.extend(zs);
    points.extend(batch.iter().map(|t| t.r));
    let sum = EdwardsPoint::vartime_multiscalar_mul(&scalars, &points);
    if sum.is_identity() {
        for t in batch {
            ok[t.at] = true;
        }
    } else {
        alone(ok);
    }
}

/// The signature check of one statement under an election's keys, as
/// [`rules::verify_signatures_under`] takes it.
#[derive(Clone, Copy, Debug)]
pub struct StatementCheck<'a> {
    /// The statement.
    pub statement: &'a SignedStatement,
    /// The election's authorities.
    pub authorities: &'a [(Role, VerifierKey)],
    /// Its board quorum.
    pub quorum: u32,
    /// Its rules version.
    pub rules: u32,
}

/// Verifies the signatures of many statements, each with the verdict of
/// [`rules::verify_signatures_under`] (in [`Mode::Batch`], up to the residual of the
/// module's header): the block, roles and quorum are decided per statement, its
/// Ed25519 signatures are collected and checked in batches, and a statement with a
/// signature the batches reject is judged again by [`rules::verify_signatures_under`]
/// itself (the refusal it gives, word for word).
pub fn verify_statements(
    checks: &[StatementCheck<'_>],
    mode: Mode,
) -> Vec<Result<Verified, Refusal>> {
    let exact = |c: &StatementCheck<'_>| {
        rules::verify_signatures_under(c.statement, c.authorities, c.quorum, c.rules)
    };
    if mode == Mode::Each {
        return checks.iter().map(exact).collect();
    }
    let mut sigs: Vec<Signed<'_>> = Vec::with_capacity(checks.len());
    let mut owner: Vec<usize> = Vec::with_capacity(checks.len());
    let mut verdicts: Vec<Result<Verified, Refusal>> = Vec::with_capacity(checks.len());
    for (n, c) in checks.iter().enumerate() {
        // The verdict if every signature verifies; the signatures collected.
        verdicts.push(rules::verify_signatures_with(
            c.statement,
            c.authorities,
            c.quorum,
            c.rules,
            &mut |key, msg, sig| {
                sigs.push(Signed { key, msg, sig });
                owner.push(n);
                true
            },
        ));
    }
    let ok = verify_signatures(&sigs, Mode::Batch);
    let mut again = vec![false; checks.len()];
    for (good, n) in ok.into_iter().zip(owner) {
        if !good {
            again[n] = true;
        }
    }
    for (n, v) in verdicts.iter_mut().enumerate() {
        if again[n] {
            *v = exact(&checks[n]);
        }
    }
    verdicts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::SignerKey;
    use curve25519_dalek::constants::EIGHT_TORSION;

    /// ℓ, the order of the base point, little-endian.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];

    fn key(n: u8) -> SignerKey {
        SignerKey::from_seed(&format!("k{n}.test"), [n; 32]).unwrap()
    }

    /// The secret scalar of a seed (RFC 8032 §5.1.5), to build signatures no honest
    /// signer makes.
    fn secret(seed: [u8; 32]) -> Scalar {
        let h = Sha512::digest(seed);
        let mut a = [0u8; 32];
        a.copy_from_slice(&h[..32]);
        Scalar::from_bytes_mod_order(curve25519_dalek::scalar::clamp_integer(a))
    }

    fn challenge(r: &[u8; 32], a: &[u8; 32], msg: &[u8]) -> Scalar {
        let mut d = Sha512::new();
        d.update(r);
        d.update(a);
        d.update(msg);
        Scalar::from_bytes_mod_order_wide(&d.finalize().into())
    }

    /// `n` messages signed by keys 1 and 2 in turn.
    fn valid(n: usize) -> Vec<(VerifierKey, Vec<u8>, Vec<u8>)> {
        let (k1, k2) = (key(1), key(2));
        (0..n)
            .map(|i| {
                let k = if i % 3 == 0 { &k2 } else { &k1 };
                let msg = format!("statement {i}\n").into_bytes();
                let sig = k.sign_bytes(&msg).to_vec();
                (k.verifier().clone(), msg, sig)
            })
            .collect()
    }

    fn signed(v: &[(VerifierKey, Vec<u8>, Vec<u8>)]) -> Vec<Signed<'_>> {
        v.iter()
            .map(|(key, msg, sig)| Signed { key, msg, sig })
            .collect()
    }

    /// Checks `v` in both modes and at several batch sizes: every verdict must be the
    /// single verification's, and that one must be `want`.
    fn agree(v: &[(VerifierKey, Vec<u8>, Vec<u8>)], want: &[bool]) {
        let s = signed(v);
        let single: Vec<bool> = s.iter().map(|x| x.key.verify(x.msg, x.sig)).collect();
        assert_eq!(single, want, "the single verification");
        assert_eq!(verify_signatures(&s, Mode::Each), want);
        assert_eq!(verify_signatures(&s, Mode::Batch), want);
        for max in [2, 7, 64, 1024] {
            assert_eq!(verify_batched(&s, max), want, "batches of {max}");
        }
    }

    /// One bad signature among valid ones, at `at`.
    fn one_bad(at: usize, bad: impl FnOnce(&mut (VerifierKey, Vec<u8>, Vec<u8>))) {
        let mut v = valid(40);
        bad(&mut v[at]);
        let mut want = vec![true; 40];
        want[at] = false;
        agree(&v, &want);
    }

    #[test]
    fn valid_signatures_pass_in_every_batch_size() {
        let v = valid(300);
        agree(&v, &vec![true; 300]);
        agree(&[], &[]);
        agree(&v[..1], &[true]);
    }

    #[test]
    fn a_flipped_byte_of_s_is_rejected_alone() {
        one_bad(17, |x| x.2[40] ^= 1);
    }

    #[test]
    fn a_flipped_byte_of_r_is_rejected_alone() {
        // Most flips give another valid encoding of a point; any that does not decode
        // is checked alone.
        for byte in [0, 5, 31] {
            one_bad(3, |x| x.2[byte] ^= 4);
        }
    }

    #[test]
    fn s_not_below_l_is_rejected_even_if_s_minus_l_is_valid() {
        // s + ℓ has the same value mod ℓ: a batch that reduced s would accept it.
        one_bad(11, |x| {
            let mut carry = 0u16;
            for (b, l) in x.2[32..].iter_mut().zip(L) {
                let t = *b as u16 + l as u16 + carry;
                *b = t as u8;
                carry = t >> 8;
            }
            assert_eq!(carry, 0);
        });
    }

    #[test]
    fn a_signature_by_another_key_is_rejected() {
        let other = key(9);
        one_bad(0, |x| x.2 = other.sign_bytes(&x.1).to_vec());
        one_bad(39, |x| x.0 = other.verifier().clone());
    }

    #[test]
    fn a_signature_of_another_message_or_bad_length_is_rejected() {
        one_bad(20, |x| x.1.push(b'!'));
        one_bad(21, |x| {
            x.2.pop();
        });
        one_bad(22, |x| x.2.push(0));
    }

    /// A signature whose `R` is a non-canonical encoding of the point the equation
    /// gives: the single verification compares bytes and rejects it; a batch that
    /// took any encoding of the point would accept it.
    #[test]
    fn a_non_canonical_encoding_of_r_is_rejected() {
        let seed = [5u8; 32];
        let k = SignerKey::from_seed("k5.test", seed).unwrap();
        let a = secret(seed);
        assert_eq!(
            (ED25519_BASEPOINT_POINT * a).compress().to_bytes(),
            *k.verifier().public_key()
        );
        // R = identity: [s]B − [h]A = identity with s = h·a.
        let sign_with_r = |r: [u8; 32], msg: &[u8]| {
            let h = challenge(&r, k.verifier().public_key(), msg);
            let mut sig = r.to_vec();
            sig.extend_from_slice((h * a).as_bytes());
            sig
        };
        let canonical = {
            let mut r = [0u8; 32];
            r[0] = 1;
            r
        };
        let signed_sign_bit = {
            let mut r = canonical;
            r[31] = 0x80;
            r
        };
        // y = p + 1, read as y = 1 by decompression.
        let mut p_plus_1 = [0xffu8; 32];
        p_plus_1[0] = 0xee;
        p_plus_1[31] = 0x7f;
        for r in [signed_sign_bit, p_plus_1] {
            assert_eq!(
                CompressedEdwardsY(r).decompress().map(|p| p.is_identity()),
                Some(true)
            );
            let mut v = valid(30);
            let msg = b"statement odd\n".to_vec();
            let sig = sign_with_r(r, &msg);
            v.insert(9, (k.verifier().clone(), msg, sig));
            let mut want = vec![true; 31];
            want[9] = false;
            agree(&v, &want);
        }
        // The canonical encoding of the same R is a valid (odd) signature.
        let mut v = valid(30);
        let msg = b"statement even\n".to_vec();
        let sig = sign_with_r(canonical, &msg);
        v.insert(4, (k.verifier().clone(), msg, sig));
        agree(&v, &[true; 31]);
    }

    /// The byte test of canonical encodings is exactly "decompresses and compresses
    /// back to the same bytes", on every edge and on random bytes.
    #[test]
    fn canonical_encoding_is_decompress_compress_identity() {
        let roundtrip = |b: [u8; 32]| {
            CompressedEdwardsY(b)
                .decompress()
                .is_some_and(|p| p.compress().to_bytes() == b)
        };
        let mut edges: Vec<[u8; 32]> = Vec::new();
        for low in 0..=255u8 {
            for sign in [0u8, 0x80] {
                // y near p (0x7fff…ff xx), and small y.
                let mut b = [0xffu8; 32];
                b[0] = low;
                b[31] = 0x7f | sign;
                edges.push(b);
                let mut b = [0u8; 32];
                b[0] = low;
                b[31] = sign;
                edges.push(b);
            }
        }
        for t in EIGHT_TORSION {
            let b = t.compress().to_bytes();
            edges.push(b);
            let mut n = b;
            n[31] ^= 0x80;
            edges.push(n);
        }
        let mut rng = rand::rngs::OsRng;
        for _ in 0..2000 {
            let mut b = [0u8; 32];
            rng.fill_bytes(&mut b);
            edges.push(b);
            // A valid point, and the same with the other sign.
            let p = ED25519_BASEPOINT_POINT * Scalar::from_bytes_mod_order(b);
            let c = p.compress().to_bytes();
            edges.push(c);
            let mut n = c;
            n[31] ^= 0x80;
            edges.push(n);
        }
        for b in edges {
            if CompressedEdwardsY(b).decompress().is_some() {
                assert_eq!(is_canonical_encoding(&b), roundtrip(b), "{b:02x?}");
            }
        }
    }

    /// A key with a torsion component is never batched: a signature that ignores it
    /// is rejected by the single verification and would pass a batch half of the
    /// time (its term is `z·h·T`, `T` of order 2).
    #[test]
    fn a_key_with_torsion_is_checked_alone() {
        let seed = [6u8; 32];
        let a = secret(seed);
        let t2 = EIGHT_TORSION[4];
        let bad_a = ED25519_BASEPOINT_POINT * a + t2;
        let bad =
            VerifierKey::from_public_key("torsion.test", bad_a.compress().to_bytes()).unwrap();
        for round in 0..40u32 {
            let mut v = valid(20);
            // Sign with the secret of the torsion-free part until h is odd.
            let (msg, sig) = (0u32..)
                .find_map(|j| {
                    let msg = format!("torsion {round} {j}\n").into_bytes();
                    let r = Scalar::from_bytes_mod_order_wide(&Sha512::digest(&msg).into());
                    let r_bytes = (ED25519_BASEPOINT_POINT * r).compress().to_bytes();
                    let h = challenge(&r_bytes, bad.public_key(), &msg);
                    if h.as_bytes()[0] & 1 == 0 {
                        return None;
                    }
                    let mut sig = r_bytes.to_vec();
                    sig.extend_from_slice((r + h * a).as_bytes());
                    Some((msg, sig))
                })
                .unwrap();
            v.insert(7, (bad.clone(), msg, sig));
            let mut want = vec![true; 21];
            want[7] = false;
            agree(&v, &want);
        }
        // A valid signature by such a key (R absorbs h·T) is accepted, checked alone.
        let (msg, sig) = (0u32..)
            .find_map(|j| {
                let msg = format!("torsion valid {j}\n").into_bytes();
                let r = Scalar::from_bytes_mod_order_wide(&Sha512::digest(&msg).into());
                // R = [r]B − T (T of order 2: −T = T) needs h odd.
                let r_bytes = (ED25519_BASEPOINT_POINT * r + t2).compress().to_bytes();
                let h = challenge(&r_bytes, bad.public_key(), &msg);
                if h.as_bytes()[0] & 1 == 0 {
                    return None;
                }
                let mut sig = r_bytes.to_vec();
                sig.extend_from_slice((r + h * a).as_bytes());
                Some((msg, sig))
            })
            .unwrap();
        let mut v = valid(20);
        v.insert(2, (bad, msg, sig));
        agree(&v, &[true; 21]);
    }

    /// The documented residual: a signature made with the key's secret whose `R` is
    /// `[r]B + T`, `T` of order 2 (valid under RFC 8032's cofactored equation, not
    /// the single verification's) is rejected alone, and a batch lets it through
    /// about half of the time, with fresh coefficients each time (never always,
    /// never never).
    #[test]
    fn the_residual_is_a_small_order_r_component_caught_at_random() {
        let seed = [1u8; 32];
        let k = key(1);
        let a = secret(seed);
        let msg = b"statement residual\n".to_vec();
        let r = Scalar::from_bytes_mod_order_wide(&Sha512::digest(&msg).into());
        let r_bytes = (ED25519_BASEPOINT_POINT * r + EIGHT_TORSION[4])
            .compress()
            .to_bytes();
        let h = challenge(&r_bytes, k.verifier().public_key(), &msg);
        let mut sig = r_bytes.to_vec();
        sig.extend_from_slice((r + h * a).as_bytes());
        let mut v = valid(10);
        v.push((k.verifier().clone(), msg, sig));
        let s = signed(&v);
        assert!(!s[10].key.verify(s[10].msg, s[10].sig));
        assert!(!verify_signatures(&s, Mode::Each)[10]);
        let caught = (0..64)
            .filter(|_| {
                let ok = verify_signatures(&s, Mode::Batch);
                // Whatever the batch says of it, the valid ones stay valid.
                assert!(ok[..10].iter().all(|&x| x));
                !ok[10]
            })
            .count();
        assert!(caught > 0 && caught < 64, "caught {caught} of 64");
    }

    /// Statements: the verdicts of `verify_signatures_under`, refusal text included.
    #[test]
    fn statements_get_the_verdicts_of_the_single_check() {
        use crate::statement::{Body, Statement, Tag, Time};
        let platform = key(3);
        let registrar = key(4);
        let auth = vec![
            (Role::Platform, platform.verifier().clone()),
            (Role::Registrar, registrar.verifier().clone()),
        ];
        let texts: Vec<String> = (0..100u8)
            .map(|i| {
                let by = if i == 50 { &registrar } else { &platform };
                let mut t = Statement {
                    election: "e".into(),
                    time: Time(1_796_000_000 + i as i64),
                    body: Body::Ballot {
                        scrutin: "s".into(),
                        credential: Tag([i; 32]),
                        receipt: Tag([i ^ 0xff; 32]),
                    },
                }
                .sign(&[by])
                .unwrap();
                if i == 70 {
                    // A flipped bit of s, inside the base64 of the signature line.
                    let at = t.len() - 10;
                    let c = t.as_bytes()[at];
                    let d = if c == b'A' { "B" } else { "A" };
                    t.replace_range(at..at + 1, d);
                }
                t
            })
            .collect();
        let stmts: Vec<SignedStatement> = texts
            .iter()
            .map(|t| SignedStatement::parse(t.as_bytes()).unwrap())
            .collect();
        for rules in [1, rules::RULES_VERSION] {
            let checks: Vec<StatementCheck<'_>> = stmts
                .iter()
                .map(|statement| StatementCheck {
                    statement,
                    authorities: &auth,
                    quorum: 1,
                    rules,
                })
                .collect();
            let want: Vec<String> = checks
                .iter()
                .map(|c| {
                    format!(
                        "{:?}",
                        rules::verify_signatures_under(c.statement, &auth, 1, rules)
                    )
                })
                .collect();
            for mode in [Mode::Batch, Mode::Each] {
                let got: Vec<String> = verify_statements(&checks, mode)
                    .iter()
                    .map(|v| format!("{v:?}"))
                    .collect();
                assert_eq!(got, want, "rules {rules}, {mode:?}");
            }
            let bad: Vec<usize> = (0..100).filter(|&i| !want[i].starts_with("Ok")).collect();
            assert_eq!(bad, [50, 70], "rules {rules}: {want:?}");
            assert!(want[70].contains("does not verify"), "{}", want[70]);
        }
    }
}
