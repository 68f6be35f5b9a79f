//! `--peer`: comparing the log's checkpoint with what other parties were shown.
//!
//! Owns: pulling each peer's `GET /v1/gossip` (mirrors, witnesses, monitors, or the
//! log itself) and `GET /v1/gossip/equivocations`, and checking every checkpoint of
//! this log found there against the one this run verified: a consistency proof in
//! whichever direction is needed (from the log for a smaller one, from the peer or
//! else the log for a larger one). A split view (two checkpoints of one log that
//! cannot both be true) or verified equivocation evidence held by a peer is
//! [`Kind::Inconsistent`]. A peer that cannot be reached is reported, not fatal: the
//! check proves less, and says so. Also owns [`serve`]: the monitor's own
//! `GET /v1/gossip` and `GET /v1/gossip/equivocations` (`monitor --gossip ADDR`), so
//! that mirrors, witnesses and other monitors can compare with what this monitor
//! verified and check the evidence it found. Does not own: the evidence check
//! (`urne_client::gossip`), the evidence file (`evidence.rs`), the consistency
//! decision (`urne_client::consistency::decide`, through `trust::check_consistent`).

use crate::fail::{Fail, Kind, Res};
use crate::http::Log;
use crate::trust::{check_consistent, Trust};
use serde::Serialize;
use urne_client::checkpoint::SignedCheckpoint;
use urne_client::consistency::Shown;
use urne_client::gossip::{Equivocation, Gossip};

/// What one peer showed.
#[derive(Debug, Clone, Serialize)]
pub struct PeerSeen {
    /// The peer's base URL.
    pub peer: String,
    /// Sizes of the checkpoints of this log the peer holds, all checked consistent.
    pub sizes: Vec<u64>,
    /// Why the peer could not be checked, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<String>,
}

/// Checks `current` against every peer. Returns what each peer showed.
///
/// # Errors
/// [`Kind::Inconsistent`] with both checkpoints (or the peer's verified evidence) when
/// a peer holds a checkpoint of this log that contradicts `current`.
pub fn check(
    log: &Log,
    trust: &Trust,
    current: &SignedCheckpoint,
    peers: &[String],
) -> Res<Vec<PeerSeen>> {
    peers
        .iter()
        .map(|p| check_one(log, trust, current, p))
        .collect()
}

fn check_one(log: &Log, trust: &Trust, current: &SignedCheckpoint, p: &str) -> Res<PeerSeen> {
    let peer = Log::new(p);
    let mut seen = PeerSeen {
        peer: peer.base().to_string(),
        sizes: Vec::new(),
        unreachable: None,
    };
    let origin = trust.log_key.name();
    // Evidence the peer already holds: anyone with the log key can check it.
    match peer.get_json("v1/gossip/equivocations") {
        Ok(Some(v)) => {
            let list: Vec<Equivocation> = serde_json::from_value(v).map_err(|e| {
                Fail::new(
                    Kind::Network,
                    format!("{}/v1/gossip/equivocations: {e}", peer.base()),
                )
            })?;
            for ev in list.iter().filter(|e| e.origin == origin) {
                if ev.verify(&trust.log_key).is_ok() {
                    return Err(Fail::new(
                        Kind::Inconsistent,
                        format!(
                            "EQUIVOCATION: peer {} holds proof, signed by the log key, that the log showed two histories ({})",
                            peer.base(),
                            ev.reason
                        ),
                    )
                    .with_evidence(serde_json::to_value(ev).unwrap_or_default()));
                }
            }
        }
        Ok(None) => {}
        Err(f) => {
            seen.unreachable = Some(f.msg);
            return Ok(seen);
        }
    }
    let gossip: Gossip = match peer.get_json("v1/gossip") {
        Ok(Some(v)) => serde_json::from_value(v)
            .map_err(|e| Fail::new(Kind::Network, format!("{}/v1/gossip: {e}", peer.base())))?,
        Ok(None) => {
            seen.unreachable = Some(format!("{}/v1/gossip: not found", peer.base()));
            return Ok(seen);
        }
        Err(f) => {
            seen.unreachable = Some(f.msg);
            return Ok(seen);
        }
    };
    for g in gossip.checkpoints.iter().filter(|g| g.origin == origin) {
        // Only what the log signed counts; anything else is the peer's noise.
        let Ok(theirs) = trust.open_log_only(&g.checkpoint) else {
            continue;
        };
        let shown = Shown::Elsewhere(peer.base());
        let r = if theirs.checkpoint.size <= current.checkpoint.size {
            check_consistent(log, trust, current, &theirs, shown)
        } else {
            // The peer saw more: it (a mirror, or the log) proves the extension; the
            // log is asked if the peer serves no proofs (a witness).
            check_consistent(&peer, trust, current, &theirs, shown).or_else(|f| match f.kind {
                Kind::Network => check_consistent(log, trust, current, &theirs, shown),
                _ => Err(f),
            })
        };
        match r {
            Ok(()) => seen.sizes.push(theirs.checkpoint.size),
            Err(f) if f.kind == Kind::Inconsistent => {
                return Err(Fail::new(
                    Kind::Inconsistent,
                    format!(
                        "EQUIVOCATION: peer {} was shown a checkpoint of {} entries that contradicts the log's checkpoint of {} entries shown here: {}",
                        peer.base(),
                        theirs.checkpoint.size,
                        current.checkpoint.size,
                        f.msg
                    ),
                )
                .with_evidence(serde_json::json!({
                    "kind": "equivocation",
                    "peer": peer.base(),
                    "peer_checkpoint": theirs.note,
                    "log_checkpoint": current.note,
                    "detail": f.evidence,
                })));
            }
            Err(f) => seen.unreachable = Some(f.msg),
        }
    }
    Ok(seen)
}

/// The latest checkpoint a monitor verified, shared with its gossip server.
pub type Latest = std::sync::Arc<std::sync::Mutex<Option<(String, u64)>>>;

/// Serves on `addr` from a thread: `GET /v1/gossip`, the latest checkpoint in `latest`
/// (origin `origin`), and `GET /v1/gossip/equivocations`, the verifiable records of
/// `evidence` (the library's [`Equivocation`] list, as mirrors and witnesses serve
/// it). Returns the address bound.
///
/// # Errors
/// [`Kind::Other`] if `addr` cannot be bound.
pub fn serve(
    addr: &str,
    origin: String,
    latest: Latest,
    evidence: crate::evidence::Evidence,
) -> Res<std::net::SocketAddr> {
    let server = tiny_http::Server::http(addr)
        .map_err(|e| Fail::new(Kind::Other, format!("--gossip {addr}: {e}")))?;
    let bound = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| Fail::new(Kind::Other, format!("--gossip {addr}: not an IP address")))?;
    std::thread::spawn(move || {
        for req in server.incoming_requests() {
            let json = |code: u16, body: String| {
                tiny_http::Response::from_string(body)
                    .with_status_code(code)
                    .with_header(
                        tiny_http::Header::from_bytes("Content-Type", "application/json")
                            .expect("static header"),
                    )
            };
            let resp = match (req.method(), req.url()) {
                (tiny_http::Method::Get, "/v1/gossip") => {
                    let held = latest.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    let g = Gossip {
                        checkpoints: held
                            .map(|(note, size)| urne_client::gossip::GossipCheckpoint {
                                origin: origin.clone(),
                                size,
                                checkpoint: note,
                            })
                            .into_iter()
                            .collect(),
                        rollback_attempts: None,
                    };
                    json(200, serde_json::to_string(&g).unwrap_or_default())
                }
                (tiny_http::Method::Get, "/v1/gossip/equivocations") => json(
                    200,
                    serde_json::to_string(&evidence.verifiable()).unwrap_or_default(),
                ),
                _ => json(
                    404,
                    r#"{"error":"not_found","detail":"this monitor serves GET /v1/gossip and GET /v1/gossip/equivocations only"}"#
                        .into(),
                ),
            };
            let _ = req.respond(resp);
        }
    });
    Ok(bound)
}
