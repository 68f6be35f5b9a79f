//! The process's memory, as `/metrics` reports it: resident set and the allocator's
//! view of it.
//!
//! Owns: reading `VmRSS`/`VmHWM` (Linux `/proc/self/status`) and glibc's `mallinfo2`
//! (bytes handed out by `malloc`, bytes it holds free). With the storage engine's own
//! figures ([`crate::storage::Store::memory`]) they attribute the resident memory: the
//! engine's bounded caches, what the rest of the process allocated, and what the
//! allocator keeps without use (fragmentation). Elsewhere, or when a figure cannot be
//! read, it is left out rather than reported as zero.

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
}
