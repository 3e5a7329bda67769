use clap::Parser;

fn main() {
    let cli = match gatelog::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // --help and --version print and succeed; any other usage error exits 1 (SPEC:
            // 2 is reserved for --strict).
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let code = gatelog::cmd::run(cli);
    std::process::exit(code.code());
}
