//! The `attune` binary: everything lives in the library (`attune::cli`).

fn main() -> std::process::ExitCode {
    attune::process::cap_malloc_arenas();
    attune::cli::main()
}
