// mimalloc: the request path allocates a lot of small, short-lived objects; measured in
// docs/benchmarks.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rapport::cli::main()
}
