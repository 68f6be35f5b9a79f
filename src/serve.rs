//! The HTTP server loop shared by the log, its mirrors and its witnesses: what a
//! hostile client can hold, and for how long.
//!
//! Owns: accepting connections under a global and a per-address cap, the header and
//! body deadlines, the graceful stop with a deadline, raising the soft descriptor
//! limit, and the descriptor budget that keeps sockets away from RocksDB's files.
//! Does not own: the routes (`api`, `mirror`, `witness`), how a handler reads its body
//! up to a size ([`crate::http::body`]).
//!
//! # Why not `axum::serve`
//!
//! `axum::serve` accepts every connection the kernel hands it and sets no deadline:
//! on main (716ba0e), 1,100 idle connections took every descriptor of a log with the
//! usual limit of 1,024, so no new client got in and RocksDB could not open its next
//! WAL file (the sequencer then stopped for good); and a stop by SIGTERM waited
//! forever for one client holding a half-sent request. Here:
//! - a connection is accepted only under [`Limits::max_connections`] (computed from the
//!   descriptor limit minus a reserve for RocksDB and the process's own files, see
//!   [`descriptor_budget`]), so sockets can never take the descriptors a commit needs;
//!   past the cap, new connections wait in the kernel's backlog;
//! - one address holds at most [`Limits::max_connections_per_ip`]; more are closed as
//!   soon as they are accepted;
//! - a request's headers must arrive within [`Limits::header_timeout`] (hyper's timer,
//!   which also closes a kept-alive connection idle that long), its body within
//!   [`Limits::body_timeout`] of the headers (a body read past it fails with
//!   [`BodyTimeout`], answered 408 `body_timeout`);
//! - a stop lets requests in flight finish for at most [`Limits::shutdown_timeout`],
//!   then closes what remains.
//!
//! Regression tests: `tests/adversarial_peers.rs` (`idle_sockets_*`, `sigterm_*`).

use axum::body::Bytes;
use axum::Router;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

/// Descriptors kept for the process itself beyond RocksDB: standard streams, the
/// runtime's epoll and event descriptors, the key and high-water mark files, outgoing
/// connections to witnesses and peers, a second small RocksDB (gossip evidence).
pub const PROCESS_FILES: u64 = 128;

/// The limits of one server; see [`crate::config::Config`] for their defaults.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Connections open at once, all addresses together.
    pub max_connections: usize,
    /// Connections open at once from one IP address.
    pub max_connections_per_ip: usize,
    /// The longest a request's headers may take to arrive, counted from the opening of
    /// the connection or the end of the previous answer (so also the idle timeout).
    pub header_timeout: Duration,
    /// The longest a request's body may take to arrive after its headers.
    pub body_timeout: Duration,
    /// The longest a stop waits for requests in flight before closing them.
    pub shutdown_timeout: Duration,
}

impl Limits {
    /// The defaults for a server whose other descriptors are `reserve` (computed from
    /// the current soft descriptor limit).
    pub fn with_reserve(reserve: u64) -> Limits {
        Limits::under(nofile_limit(), reserve)
    }

    /// The defaults under a descriptor limit of `nofile` (a unit's `LimitNOFILE`, say),
    /// `reserve` of them kept for files.
    pub fn under(nofile: u64, reserve: u64) -> Limits {
        let max = connections_under(nofile, reserve);
        Limits {
            max_connections: max,
            max_connections_per_ip: (max / 4).max(1),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// Raises the soft limit on open descriptors to the hard limit (as nginx's
/// `worker_rlimit_nofile` and Go's runtime do) and returns the soft limit in force.
#[allow(clippy::unnecessary_cast)] // `rlim_t` is u64 on Linux, not on every target
pub fn raise_nofile_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        lim.rlim_cur as u64
    }
}

/// Returns the soft limit on open descriptors now in force.
#[allow(clippy::unnecessary_cast)]
pub fn nofile_limit() -> u64 {
    // SAFETY: getrlimit only writes the struct passed.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        lim.rlim_cur as u64
    }
}

/// Returns the connections that fit in the descriptor limit once `reserve`
/// descriptors are kept for files (at least 8).
pub fn descriptor_budget(reserve: u64) -> usize {
    connections_under(nofile_limit(), reserve)
}

/// Returns the connections that fit in a descriptor limit of `limit` once `reserve`
/// descriptors are kept for files (at least 8).
pub fn connections_under(limit: u64, reserve: u64) -> usize {
    let n = limit.saturating_sub(reserve).max(8);
    usize::try_from(n).unwrap_or(usize::MAX).min(1 << 20)
}

/// Returns the table files RocksDB may keep open under a descriptor limit of `limit`
/// with `configured` asked: at most a quarter of the limit, at least 16.
pub fn rocksdb_files(limit: u64, configured: i32) -> i32 {
    let quarter = i32::try_from(limit / 4).unwrap_or(i32::MAX);
    configured.min(quarter).max(16)
}

/// A body read past its deadline.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTimeout(pub Duration);

/// A request body that fails once its deadline passes (see the module doc).
struct DeadlineBody<B> {
    inner: B,
    deadline: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
}

impl<B> HttpBody for DeadlineBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(self.limit)))));
        }
        Pin::new(&mut self.inner)
            .poll_frame(cx)
            .map(|f| f.map(|r| r.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Counts connections per address; a slot is given back when its guard drops.
#[derive(Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

struct IpSlot(Arc<PerIp>, IpAddr);

impl PerIp {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot(self.clone(), ip))
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut m = self.0 .0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.1);
            }
        }
    }
}

/// Serves `router` on `listener` under `limits` until `shutdown` resolves, then stops
/// accepting, lets requests in flight finish for at most `limits.shutdown_timeout`,
/// closes what remains and returns.
///
/// # Errors
/// None today (accept errors are logged and retried); kept for the callers' `?`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // What the operator checks a unit's LimitNOFILE against (docs/operations.md).
    tracing::info!(
        nofile = nofile_limit(),
        max_connections = limits.max_connections,
        max_connections_per_ip = limits.max_connections_per_ip,
        "descriptor budget"
    );
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_ip = Arc::new(PerIp::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut conns = tokio::task::JoinSet::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let http = Arc::new(http);
    tokio::pin!(shutdown);
    loop {
        // A slot first: past the cap, connections wait in the kernel's backlog and
        // take no descriptor of ours.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, addr) = tokio::select! {
            () = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: wait for descriptors to come back rather than
                    // spin; the connections in the backlog are taken later.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(ip_slot) = per_ip.take(addr.ip(), limits.max_connections_per_ip) else {
            tracing::debug!(peer = %addr, "connection refused: too many from this address");
            drop(stream);
            continue;
        };
        while conns.try_join_next().is_some() {}
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let body_timeout = limits.body_timeout;
        let http = http.clone();
        let mut stop = stop_rx.clone();
        conns.spawn(async move {
            let _held = (permit, ip_slot);
            let svc =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let req = req.map(|b| {
                        axum::body::Body::new(DeadlineBody {
                            inner: b,
                            deadline: Box::pin(tokio::time::sleep(body_timeout)),
                            limit: body_timeout,
                        })
                    });
                    router.clone().oneshot(req)
                });
            let conn = http.serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            // On stop: finish the request in flight, then close (the caller aborts
            // this task at the stop deadline).
            let mut stopping = false;
            loop {
                tokio::select! {
                    _ = conn.as_mut() => break,
                    _ = stop.changed(), if !stopping => {
                        stopping = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        });
    }
    // Stop accepting (the listening socket closes), ask every connection to finish its
    // request in flight, and close them all at the deadline.
    drop(listener);
    let _ = stop_tx.send(true);
    let all_done = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_timeout, all_done)
        .await
        .is_err()
    {
        tracing::warn!(
            open = conns.len(),
            "stop: connections still open after {:?} are closed",
            limits.shutdown_timeout
        );
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
    Ok(())
}
