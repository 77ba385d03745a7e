fn main() {
    std::process::exit(trestle::cli::run(std::env::args_os().collect()));
}
