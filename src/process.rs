//! Process-wide settings made once at start-up, before the runtime starts any thread.

/// How many malloc arenas glibc may keep. Its default (8 per core) lets the start-up burst of
/// thousands of GUILD_CREATE payloads, parsed on several runtime threads, leave freed memory
/// spread over many arenas: 68–210 MiB from run to run at 10,000 servers, against ~58 MiB with
/// two arenas (BENCHMARKS.md). Two is what `deploy/attune.service` used to set by hand.
const MALLOC_ARENAS: i32 = 2;

/// Caps glibc's malloc arenas unless the host chose a number with `MALLOC_ARENA_MAX` (glibc
/// reads that itself). Does nothing on other C libraries.
pub fn cap_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: `mallopt` only sets an allocator parameter; it is called from `main` before
        // any other thread exists, as glibc asks for parameter changes.
        #[allow(unsafe_code)]
        let ok = unsafe { libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS) };
        debug_assert_eq!(ok, 1, "mallopt(M_ARENA_MAX) is supported by glibc");
    }
}
