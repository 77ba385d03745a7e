// mimalloc: see Cargo.toml for why (allocation was a quarter of `validate`'s CPU).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(trestle::cli::run(std::env::args_os().collect()));
}
