//! Process-wide settings made once at start-up: the allocator's arenas (before the runtime
//! starts any thread) and the one TLS provider.

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

/// Installs rustls' ring provider as the process default, once. matrix-sdk compiles in
/// aws-lc-rs next to our ring, and with two providers rustls cannot choose one and panics at
/// the first TLS connection; a later call (or a provider already installed) changes nothing.
pub fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
