use clap::Parser;

fn main() {
    // A closed stdout (`gatelog ... | head`) is not an error.
    let cli = gatelog::cli::Cli::parse();
    let code = gatelog::cmd::run(cli);
    std::process::exit(code.code());
}
