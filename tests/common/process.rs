//! A started `urne` process (log, mirror, witness) as the tests read it: the address
//! and key it prints on standard output, then its output drained so that it never
//! blocks on a full pipe. Written once for every test that starts the binary.

use std::io::{BufRead, BufReader};
use std::process::Child;

/// Reads `child`'s standard output (piped) up to its `serving on:` line, then keeps
/// draining it in a thread. Returns the address it serves, without a trailing `/` or
/// a witness's `/add-checkpoint` (`None` if the output ended first: the process
/// refused to start), and the text of its `verifier key:` line if it printed one.
///
/// # Panics
/// If the child's standard output was not piped.
pub fn serving(child: &mut Child) -> (Option<String>, Option<String>) {
    let out = child.stdout.take().expect("the child's stdout is piped");
    let mut lines = BufReader::new(out).lines();
    let (mut url, mut key) = (None, None);
    for line in lines.by_ref().map_while(Result::ok) {
        if let Some(k) = line.trim().strip_prefix("verifier key:") {
            key = Some(k.trim().to_string());
        }
        if let Some(rest) = line.trim().strip_prefix("serving on:") {
            let u = rest.split_whitespace().next().unwrap_or("");
            url = Some(
                u.trim_end_matches("/add-checkpoint")
                    .trim_end_matches('/')
                    .to_string(),
            );
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (url, key)
}
