//! The C2SP tlog-mirror wire format: the `add-entries` request body (a header, then
//! entry packages aligned to 256 entries, each with its subtree consistency proof) and
//! the `text/x.tlog.mirror-info` answer (pending size, next entry, ticket).
//!
//! Owns: the canonical package sequence of an upload ([`packages`]), encoding the
//! header and a package (the log, pushing), parsing them from a growing buffer (the
//! mirror, streaming: [`parse_header`], [`parse_package`] say "not yet" until the
//! bytes are there and never look past what they need), the mirror-info text, and
//! the bounds ([`MAX_PROOF_HASHES`], [`max_package_bytes`]).
//! Does not own: subtree proofs ([`crate::subtree`]), what a mirror does with a package
//! (the server's `mirror_push`), checkpoints ([`crate::checkpoint`]).
//!
//! Spec: <https://c2sp.org/tlog-mirror> (C2SP/C2SP `tlog-mirror.md`, 2026 text).

use crate::tree::{Hash, HASH_SIZE};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

/// Entries per package, aligned to the entry bundles of C2SP tlog-tiles.
pub const PACKAGE_WIDTH: u64 = 256;

/// The most hashes of a package's proof (and of an add-checkpoint proof).
pub const MAX_PROOF_HASHES: usize = 63;

/// The most packages a log sends in one request (the spec's advice for hosting
/// platforms' body limits: 32 packages, 8192 entries).
pub const MAX_PACKAGES_PER_REQUEST: usize = 32;

/// The `Content-Type` of a 409 or 202 answer.
pub const MIRROR_INFO_TYPE: &str = "text/x.tlog.mirror-info";

/// A malformed body.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The bytes are not what the spec says.
    #[error("malformed add-entries body: {0}")]
    Malformed(String),
    /// An entry longer than the receiver accepts.
    #[error("an entry of {size} bytes, more than the {max} accepted")]
    EntryTooLarge {
        /// Its declared length.
        size: usize,
        /// The bound.
        max: usize,
    },
}

fn malformed(why: impl Into<String>) -> WireError {
    WireError::Malformed(why.into())
}

/// One package of the canonical sequence: entries `[start, end)` are sent; the proof
/// is for the subtree `[proof_start, end)` (`proof_start` is the aligned bundle
/// boundary, at or before `start`: a mirror holding the first entries of a bundle
/// rebuilds the subtree from them and the ones sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackageRange {
    /// First entry sent.
    pub start: u64,
    /// One past the last entry sent.
    pub end: u64,
    /// First entry of the subtree the proof is for.
    pub proof_start: u64,
}

impl PackageRange {
    /// Entries sent in this package.
    pub fn count(&self) -> u64 {
        self.end - self.start
    }
}

/// The canonical sequence of packages of an upload of `[upload_start, upload_end)`
/// (empty when they are equal).
pub fn packages(upload_start: u64, upload_end: u64) -> impl Iterator<Item = PackageRange> {
    let rounded_start = upload_start / PACKAGE_WIDTH * PACKAGE_WIDTH;
    let rounded_end = upload_end.div_ceil(PACKAGE_WIDTH) * PACKAGE_WIDTH;
    let n = if upload_start >= upload_end {
        0
    } else {
        (rounded_end - rounded_start) / PACKAGE_WIDTH
    };
    (0..n).map(move |i| {
        let proof_start = rounded_start + i * PACKAGE_WIDTH;
        PackageRange {
            start: upload_start.max(proof_start),
            end: upload_end.min(proof_start + PACKAGE_WIDTH),
            proof_start,
        }
    })
}

/// The bytes a package of `count` entries takes at most, with entries of at most
/// `max_entry` bytes.
pub fn max_package_bytes(count: u64, max_entry: usize) -> usize {
    count as usize * (2 + max_entry) + 1 + MAX_PROOF_HASHES * HASH_SIZE
}

/// The header of an `add-entries` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The log's origin.
    pub origin: String,
    /// First entry uploaded.
    pub upload_start: u64,
    /// The size of the pending checkpoint the packages are proven against.
    pub upload_end: u64,
    /// The mirror's opaque ticket (empty when none).
    pub ticket: Vec<u8>,
}

impl Header {
    /// Encodes the header.
    ///
    /// # Errors
    /// An origin or ticket longer than 65535 bytes.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let o = u16::try_from(self.origin.len()).map_err(|_| malformed("origin too long"))?;
        let t = u16::try_from(self.ticket.len()).map_err(|_| malformed("ticket too long"))?;
        let mut out = Vec::with_capacity(22 + self.origin.len() + self.ticket.len());
        out.extend_from_slice(&o.to_be_bytes());
        out.extend_from_slice(self.origin.as_bytes());
        out.extend_from_slice(&self.upload_start.to_be_bytes());
        out.extend_from_slice(&self.upload_end.to_be_bytes());
        out.extend_from_slice(&t.to_be_bytes());
        out.extend_from_slice(&self.ticket);
        Ok(out)
    }
}

fn take<'a>(buf: &'a [u8], at: &mut usize, n: usize) -> Option<&'a [u8]> {
    let s = buf.get(*at..at.checked_add(n)?)?;
    *at += n;
    Some(s)
}

fn be_u16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    u64::from_be_bytes(a)
}

/// Parses the header at the start of `buf`: `Ok(None)` while incomplete, else the
/// header and the bytes it took.
///
/// # Errors
/// An origin that is not UTF-8.
pub fn parse_header(buf: &[u8]) -> Result<Option<(Header, usize)>, WireError> {
    let mut at = 0;
    let Some(n) = take(buf, &mut at, 2) else {
        return Ok(None);
    };
    let Some(origin) = take(buf, &mut at, usize::from(be_u16(n))) else {
        return Ok(None);
    };
    let origin = std::str::from_utf8(origin)
        .map_err(|_| malformed("the origin is not UTF-8"))?
        .to_string();
    let (Some(s), Some(e), Some(t)) = (
        take(buf, &mut at, 8),
        take(buf, &mut at, 8),
        take(buf, &mut at, 2),
    ) else {
        return Ok(None);
    };
    let (upload_start, upload_end, tn) = (be_u64(s), be_u64(e), usize::from(be_u16(t)));
    let Some(ticket) = take(buf, &mut at, tn) else {
        return Ok(None);
    };
    Ok(Some((
        Header {
            origin,
            upload_start,
            upload_end,
            ticket: ticket.to_vec(),
        },
        at,
    )))
}

/// A package read: its entries and its proof.
#[derive(Clone, Debug, PartialEq)]
pub struct Package {
    /// The entries, in order.
    pub entries: Vec<Vec<u8>>,
    /// The subtree consistency proof.
    pub proof: Vec<Hash>,
}

/// Encodes a package (entries with their 2-byte length, the hash count, the hashes).
///
/// # Errors
/// An entry longer than 65535 bytes, or more than [`MAX_PROOF_HASHES`] hashes.
pub fn encode_package(
    entries: &[Vec<u8>],
    proof: &[Hash],
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    for e in entries {
        let n = u16::try_from(e.len()).map_err(|_| malformed("entry longer than 65535 bytes"))?;
        out.extend_from_slice(&n.to_be_bytes());
        out.extend_from_slice(e);
    }
    if proof.len() > MAX_PROOF_HASHES {
        return Err(malformed("more than 63 proof hashes"));
    }
    out.push(proof.len() as u8);
    for h in proof {
        out.extend_from_slice(&h.0);
    }
    Ok(())
}

/// Parses a package of `count` entries at the start of `buf`: `Ok(None)` while
/// incomplete, else the package and the bytes it took.
///
/// # Errors
/// An entry longer than `max_entry`, or more than [`MAX_PROOF_HASHES`] hashes.
pub fn parse_package(
    buf: &[u8],
    count: u64,
    max_entry: usize,
) -> Result<Option<(Package, usize)>, WireError> {
    let mut at = 0;
    let mut entries = Vec::new();
    for _ in 0..count {
        let Some(n) = take(buf, &mut at, 2) else {
            return Ok(None);
        };
        let n = usize::from(be_u16(n));
        if n > max_entry {
            return Err(WireError::EntryTooLarge {
                size: n,
                max: max_entry,
            });
        }
        let Some(e) = take(buf, &mut at, n) else {
            return Ok(None);
        };
        entries.push(e.to_vec());
    }
    let Some(k) = take(buf, &mut at, 1) else {
        return Ok(None);
    };
    let k = usize::from(k[0]);
    if k > MAX_PROOF_HASHES {
        return Err(malformed(format!("{k} proof hashes, more than 63")));
    }
    let mut proof = Vec::with_capacity(k);
    for _ in 0..k {
        let Some(h) = take(buf, &mut at, HASH_SIZE) else {
            return Ok(None);
        };
        let mut a = [0u8; HASH_SIZE];
        a.copy_from_slice(h);
        proof.push(Hash(a));
    }
    Ok(Some((Package { entries, proof }, at)))
}

/// The body of a 409 or 202 answer (`text/x.tlog.mirror-info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MirrorInfo {
    /// The size of a valid pending checkpoint.
    pub pending_size: u64,
    /// The mirror's next entry.
    pub next_entry: u64,
    /// The opaque ticket to send back.
    pub ticket: Vec<u8>,
}

impl MirrorInfo {
    /// The three lines, each ending with a newline.
    pub fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.pending_size,
            self.next_entry,
            BASE64.encode(&self.ticket)
        )
    }

    /// Parses the three lines.
    ///
    /// # Errors
    /// Anything but two decimals and a base64 line, each ending with a newline.
    pub fn parse(text: &str) -> Result<Self, WireError> {
        let lines: Vec<&str> = text.split('\n').collect();
        let [size, next, ticket, ""] = lines.as_slice() else {
            return Err(malformed(format!("mirror info {text:?}: want three lines")));
        };
        let num = |s: &str| {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u64>().ok())
                .flatten()
                .ok_or_else(|| malformed(format!("mirror info: {s:?} is not a size")))
        };
        Ok(MirrorInfo {
            pending_size: num(size)?,
            next_entry: num(next)?,
            ticket: BASE64
                .decode(ticket)
                .map_err(|_| malformed("mirror info: the ticket is not base64"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_sequence_follows_the_spec_formula() {
        assert_eq!(packages(5, 5).count(), 0);
        let p: Vec<_> = packages(0, 10_000).collect();
        assert_eq!(p.len(), 40);
        assert_eq!(
            p[0],
            PackageRange {
                start: 0,
                end: 256,
                proof_start: 0
            }
        );
        assert_eq!(
            p[39],
            PackageRange {
                start: 9984,
                end: 10_000,
                proof_start: 9984
            }
        );
        let p: Vec<_> = packages(300, 700).collect();
        assert_eq!(
            p,
            vec![
                PackageRange {
                    start: 300,
                    end: 512,
                    proof_start: 256
                },
                PackageRange {
                    start: 512,
                    end: 700,
                    proof_start: 512
                },
            ]
        );
        let p: Vec<_> = packages(10, 20).collect();
        assert_eq!(
            p,
            vec![PackageRange {
                start: 10,
                end: 20,
                proof_start: 0
            }]
        );
    }

    #[test]
    fn header_and_package_round_trip_and_wait_for_their_bytes() {
        let h = Header {
            origin: "example.org/log".into(),
            upload_start: 300,
            upload_end: 700,
            ticket: vec![1, 2, 3],
        };
        let bytes = h.encode().unwrap();
        for cut in 0..bytes.len() {
            assert_eq!(parse_header(&bytes[..cut]).unwrap(), None);
        }
        assert_eq!(parse_header(&bytes).unwrap(), Some((h, bytes.len())));

        let entries = vec![b"one".to_vec(), Vec::new(), b"three".to_vec()];
        let proof = vec![Hash([7; 32]), Hash([9; 32])];
        let mut p = Vec::new();
        encode_package(&entries, &proof, &mut p).unwrap();
        for cut in 0..p.len() {
            assert_eq!(parse_package(&p[..cut], 3, 100).unwrap(), None);
        }
        p.extend_from_slice(b"next");
        let (got, used) = parse_package(&p, 3, 100).unwrap().unwrap();
        assert_eq!(used, p.len() - 4);
        assert_eq!(got, Package { entries, proof });
        assert!(parse_package(&p, 3, 4).is_err(), "entry over the bound");
        let mut bad = vec![0u8, 0, 64];
        bad.extend_from_slice(&[0; 64 * 32]);
        assert!(parse_package(&bad, 1, 10).is_err(), "64 hashes");
    }

    #[test]
    fn mirror_info_is_three_lines() {
        let i = MirrorInfo {
            pending_size: 10_000,
            next_entry: 512,
            ticket: Vec::new(),
        };
        assert_eq!(i.to_text(), "10000\n512\n\n");
        assert_eq!(MirrorInfo::parse(&i.to_text()).unwrap(), i);
        assert!(MirrorInfo::parse("1\n2\n").is_err());
        assert!(MirrorInfo::parse("1\n-2\n\n").is_err());
        assert!(MirrorInfo::parse("1\n2\n!!\n").is_err());
    }
}
