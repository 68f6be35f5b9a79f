//! A man in the middle between a client and the log, rewriting answers in transit.

use std::time::{Duration, Instant};

/// Rewrites the body of an answer of the log, given the request path.
pub type Tamper = std::sync::Arc<dyn Fn(&str, &mut Vec<u8>) + Send + Sync>;

/// A man in the middle on 127.0.0.1: forwards each request to the current upstream
/// log (which the test may switch, to show one client several logs behind one URL)
/// and lets a [`Tamper`] rewrite each answer's body in transit.
pub struct Proxy {
    pub url: String,
    pub upstream: std::sync::Arc<std::sync::Mutex<String>>,
    /// `GET /checkpoint` requests served (a follower's polls).
    pub polls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Proxy {
    pub fn start(upstream: &str, tamper: Tamper) -> Proxy {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let up = Arc::new(Mutex::new(upstream.to_string()));
        let polls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (up2, polls2) = (up.clone(), polls.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut c) = conn else { continue };
                let (up, polls, tamper) = (up2.clone(), polls2.clone(), tamper.clone());
                std::thread::spawn(move || {
                    // One request per connection: read the head, then the body.
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 8192];
                    let end = loop {
                        let n = c.read(&mut chunk).unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(e) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break e;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                    let mut first = head.lines().next().unwrap_or("").split_whitespace();
                    let (method, path) = (
                        first.next().unwrap_or("GET").to_string(),
                        first.next().unwrap_or("/").to_string(),
                    );
                    let header = |name: &str| {
                        head.lines().find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.trim()
                                .eq_ignore_ascii_case(name)
                                .then(|| v.trim().to_string())
                        })
                    };
                    let len: usize = header("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = buf[end + 4..].to_vec();
                    while body.len() < len {
                        let n = c.read(&mut chunk).unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        body.extend_from_slice(&chunk[..n]);
                    }
                    if path == "/checkpoint" {
                        polls.fetch_add(1, Ordering::SeqCst);
                    }
                    let target = format!("{}{path}", up.lock().unwrap());
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .build()
                        .into();
                    let answer = if method == "POST" {
                        agent
                            .post(&target)
                            .header(
                                "Content-Type",
                                header("content-type").unwrap_or("text/plain".into()),
                            )
                            .send(&body[..])
                    } else {
                        agent.get(&target).call()
                    };
                    let (status, ctype, mut out) = match answer {
                        Ok(mut r) => (
                            r.status().as_u16(),
                            r.headers()
                                .get("content-type")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("application/octet-stream")
                                .to_string(),
                            r.body_mut()
                                .with_config()
                                .limit(64 << 20)
                                .read_to_vec()
                                .unwrap_or_default(),
                        ),
                        Err(_) => (502, "text/plain".into(), b"upstream down".to_vec()),
                    };
                    if status == 200 {
                        tamper(&path, &mut out);
                    }
                    let _ = write!(
                        c,
                        "HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        out.len()
                    );
                    let _ = c.write_all(&out);
                });
            }
        });
        Proxy {
            url,
            upstream: up,
            polls,
        }
    }

    /// A proxy that changes nothing.
    pub fn honest(upstream: &str) -> Proxy {
        Proxy::start(upstream, std::sync::Arc::new(|_: &str, _: &mut Vec<u8>| {}))
    }

    /// Points the proxy at another log.
    pub fn switch(&self, upstream: &str) {
        *self.upstream.lock().unwrap() = upstream.to_string();
    }

    /// Waits until a follower has polled the checkpoint `n` more times.
    pub fn wait_polls(&self, n: usize) {
        use std::sync::atomic::Ordering;
        let target = self.polls.load(Ordering::SeqCst) + n;
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.polls.load(Ordering::SeqCst) < target {
            assert!(Instant::now() < deadline, "the follower stopped polling");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Replaces the first occurrence of `from` after `marker` in `body` by `to`.
pub fn flip_after(body: &mut [u8], marker: &[u8]) -> bool {
    match body.windows(marker.len()).position(|w| w == marker) {
        Some(p) if p + marker.len() < body.len() => {
            let i = p + marker.len();
            // A hex digit becomes another hex digit: the entry still parses.
            body[i] = if body[i] == b'0' { b'1' } else { b'0' };
            true
        }
        _ => false,
    }
}
