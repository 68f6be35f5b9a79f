//! The process's memory, as `/metrics` reports it: resident set and the allocator's
//! view of it.
//!
//! Owns: reading `VmRSS`/`VmHWM` (Linux `/proc/self/status`) and glibc's `mallinfo2`
//! (bytes handed out by `malloc`, bytes it holds free). With the storage engine's own
//! figures ([`crate::storage::Store::memory`]) they attribute the resident memory: the
//! engine's bounded caches, what the rest of the process allocated, and what the
//! allocator keeps without use (fragmentation). Elsewhere, or when a figure cannot be
//! read, it is left out rather than reported as zero.
//!
//! Also owns giving that freed memory back ([`trim_freed_memory`]): glibc keeps what
//! the HTTP workers and the blocking threads free in one arena per thread, and a
//! verification storm on a 10-million-entry log left 213 MiB of it held (404 MiB
//! resident against 189 before the storm; BENCHMARKS.md, "Ten million entries in one
//! run"). Every [`TRIM_INTERVAL`], if more than [`TRIM_ABOVE`] is held, `malloc_trim`
//! returns its whole free pages to the system. Why not cap the arenas instead: two
//! arenas cost 15 % more CPU per receipt served, measured. Why a minute: trimming
//! every 10 s left the log 51 MiB smaller after 50,000 receipts but measured 7 to
//! 12 % more CPU per receipt (two rounds on a loaded machine, within its noise but
//! in the same direction both times); once a minute gives the memory back as soon
//! after a burst and walks the free lists six times less often during one.

use std::time::Duration;

/// How often [`trim_freed_memory`] looks at the allocator's freed memory.
pub const TRIM_INTERVAL: Duration = Duration::from_secs(60);

/// Freed bytes the allocator may keep before [`trim_freed_memory`] gives them back:
/// below it, a trim is not worth its walk of the free lists.
pub const TRIM_ABOVE: u64 = 32 << 20;

/// One memory figure: a metric label and its value in bytes.
pub type Figure = (&'static str, u64);

/// The process's resident set (`resident`) and its peak (`resident_peak`), in bytes.
pub fn resident() -> Vec<Figure> {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return Vec::new();
    };
    let kib = |field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|k| k * 1024)
    };
    [("resident", "VmRSS:"), ("resident_peak", "VmHWM:")]
        .into_iter()
        .filter_map(|(name, field)| kib(field).map(|v| (name, v)))
        .collect()
}

/// The allocator's figures: `heap_in_use` (bytes allocated and not freed, mmapped
/// blocks included) and `heap_free_held` (freed bytes in the allocator's arenas,
/// whether or not [`trim_freed_memory`] has given their pages back).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn heap() -> Vec<Figure> {
    // SAFETY: mallinfo2 takes no argument and only reads the allocator's counters
    // under its own locks (glibc 2.33 and later).
    let m = unsafe { libc::mallinfo2() };
    vec![
        ("heap_in_use", (m.uordblks + m.hblkhd) as u64),
        ("heap_free_held", m.fordblks as u64),
    ]
}

/// Runs for ever: every [`TRIM_INTERVAL`], gives the allocator's freed memory back to
/// the system when it holds more than [`TRIM_ABOVE`] (see the module's header). The
/// caller aborts it with the server.
pub async fn trim_freed_memory() {
    let mut tick = tokio::time::interval(TRIM_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // The walk takes the arenas' locks: off the runtime's workers.
        if let Ok(Some(held)) = tokio::task::spawn_blocking(|| trim_if_held_over(TRIM_ABOVE)).await
        {
            tracing::debug!(held, "gave the allocator's freed memory back to the system");
        }
    }
}

/// If the allocator holds more than `limit` freed bytes, returns its whole free pages
/// to the system (`malloc_trim(0)`) and says how many bytes it held. (`heap_free_held`
/// does not fall after a trim: the chunks stay free in glibc's lists, only their pages
/// leave the resident set.)
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn trim_if_held_over(limit: u64) -> Option<u64> {
    // SAFETY: as in `heap`.
    let held = unsafe { libc::mallinfo2() }.fordblks as u64;
    if held <= limit {
        return None;
    }
    // SAFETY: malloc_trim takes the allocator's own locks; 0 keeps no extra padding.
    unsafe { libc::malloc_trim(0) };
    Some(held)
}

/// Nothing to trim outside glibc.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim_if_held_over(_limit: u64) -> Option<u64> {
    None
}

/// No allocator figures outside glibc.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn heap() -> Vec<Figure> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    #[test]
    fn resident_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let r = super::resident();
            let rss = r.iter().find(|(n, _)| *n == "resident").map(|f| f.1);
            assert!(rss.is_some_and(|b| b > 1 << 20), "{r:?}");
        }
    }

    #[test]
    fn heap_counts_an_allocation() {
        let before = super::heap();
        if before.is_empty() {
            return;
        }
        // black_box: an allocation never read could be removed by the optimiser.
        let block = std::hint::black_box(vec![1u8; 64 << 20]);
        let after = super::heap();
        let in_use = |v: &[super::Figure]| v.iter().find(|f| f.0 == "heap_in_use").unwrap().1;
        assert!(in_use(&after) >= in_use(&before) + (32 << 20));
        drop(block);
    }

    #[test]
    fn a_trim_gives_freed_memory_back() {
        if super::heap().is_empty() {
            return;
        }
        let rss = || {
            let r = super::resident();
            r.iter().find(|(n, _)| *n == "resident").unwrap().1
        };
        // 96 MiB in 1 KiB blocks (below glibc's mmap threshold: they come from an
        // arena), touched; then all freed but one in a hundred, which pins the arena's
        // top so that freeing alone cannot shrink it.
        let mut blocks: Vec<Vec<u8>> = (0..96 * 1024)
            .map(|i| std::hint::black_box(vec![i as u8; 1024]))
            .collect();
        let pinned: Vec<Vec<u8>> = blocks.iter_mut().step_by(100).map(std::mem::take).collect();
        drop(blocks);
        let before = rss();
        let held = super::trim_if_held_over(0);
        let after = rss();
        assert!(held.is_some_and(|h| h >= 64 << 20), "{held:?}");
        assert!(
            after + (48 << 20) <= before,
            "resident {before} before the trim, {after} after"
        );
        // Nothing to do under the limit.
        assert_eq!(super::trim_if_held_over(u64::MAX), None);
        drop(std::hint::black_box(pinned));
    }
}
