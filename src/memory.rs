//! The process's memory, as `/metrics` reports it: resident set and the allocator's
//! view of it.
//!
//! Owns: reading `VmRSS`/`VmHWM` (Linux `/proc/self/status`) and glibc's `mallinfo2`
//! (bytes handed out by `malloc`, bytes it holds free). With the storage engine's own
//! figures ([`crate::storage::Store::memory`]) they attribute the resident memory: the
//! engine's bounded caches, what the rest of the process allocated, and what the
//! allocator keeps without use (fragmentation). Elsewhere, or when a figure cannot be
//! read, it is left out rather than reported as zero. Also owns trimming that free
//! memory ([`start_trimming`]), which bounds the log's resident set.

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
/// blocks included) and `heap_free_held` (freed bytes the allocator keeps in its
/// arenas instead of returning them to the system).
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

/// No allocator figures outside glibc.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn heap() -> Vec<Figure> {
    Vec::new()
}

/// How often [`start_trimming`] returns the allocator's free memory to the system.
pub const TRIM_PERIOD: std::time::Duration = std::time::Duration::from_secs(10);
/// Free memory the allocator may keep before [`start_trimming`] trims it.
pub const TRIM_ABOVE_BYTES: u64 = 16 << 20;

/// Starts (once per process) a thread that returns the allocator's free memory to the
/// system every [`TRIM_PERIOD`] when it holds more than [`TRIM_ABOVE_BYTES`].
///
/// Why: filled to a million entries over HTTP, the log's memory in use stayed flat
/// (about 100 MiB: the block cache, the memtables and 15 MiB of the rest) while glibc
/// kept a growing amount of freed memory in its per-thread arenas (tokio's workers, the
/// blocking pool that reads tiles and receipts, RocksDB's threads: up to eight arenas
/// per core), and only trims the top of each heap by itself: the resident set followed
/// the largest each arena had ever been (BENCHMARKS.md, "One million entries in one
/// run"). `malloc_trim` releases the free pages inside every arena.
pub fn start_trimming() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static STARTED: std::sync::Once = std::sync::Once::new();
        STARTED.call_once(|| {
            let spawned = std::thread::Builder::new()
                .name("malloc-trim".into())
                .spawn(|| loop {
                    std::thread::sleep(TRIM_PERIOD);
                    let free = heap()
                        .iter()
                        .find(|f| f.0 == "heap_free_held")
                        .map_or(0, |f| f.1);
                    if free > TRIM_ABOVE_BYTES {
                        // SAFETY: malloc_trim only takes the allocator's own locks.
                        unsafe { libc::malloc_trim(0) };
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!("could not start the allocator trimming thread: {e}");
            }
        });
    }
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
        let block = vec![1u8; 64 << 20];
        let after = super::heap();
        let in_use = |v: &[super::Figure]| v.iter().find(|f| f.0 == "heap_in_use").unwrap().1;
        assert!(in_use(&after) >= in_use(&before) + (32 << 20));
        drop(block);
    }
}
