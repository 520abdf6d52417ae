//! Settings of the allocator the binaries use (mimalloc: see the workspace `Cargo.toml`).

/// `mi_option_purge_delay`: its place in mimalloc v3's `mi_option_e` (`mimalloc.h`), which
/// `libmimalloc-sys` declares no constant for. The tests check it is the option whose default is v3's
/// purge delay (1,000 ms).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps the memory the process frees for its own reuse rather than returning it to the OS, for a process
/// that serves reports (the API function, `lucid serve`). mimalloc returns freed memory a second after it
/// was freed, on whichever allocation comes next: after the matcher's refresh (which parses hundreds of
/// megabytes of rows) that was the next report, which then also faulted the pages back in. In the match
/// bench the first report after a refresh went from p50 / p95 16–18 / 43–45 ms to 10–13 / 14–15 ms
/// (`bench/match-results.md`, session 10). The process keeps its high-water mark instead: the refresh's,
/// within the API's 512 MB.
pub fn keep_freed_memory() {
    // SAFETY: sets one of mimalloc's integer options, which it reads when it schedules a purge; -1 is the
    // documented "never purge".
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // SAFETY: reads an option.
        let get = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(get(), 1000, "not mimalloc v3's purge delay");
        }
        keep_freed_memory();
        assert_eq!(get(), -1);
    }
}
