use clap::Parser;

fn main() {
    let cli = match gatelog::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => std::process::exit(gatelog::cli::usage_error(&e)),
    };
    let code = gatelog::cmd::run(cli);
    std::process::exit(code.code());
}
