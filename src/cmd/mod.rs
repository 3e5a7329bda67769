//! One module per subcommand.

pub mod analyze;
pub mod detect;
pub mod exports;
pub mod formats;
pub mod live;

use std::io::{self, Write};

use crate::cli::{Cli, Command, FormatArgs, FormatChoice};
use crate::exit::{Exit, UserError};
use gatelog_parsers::{Format, ParserOptions};

pub fn run(cli: Cli) -> Exit {
    let r = match cli.cmd {
        Command::Analyze(a) => analyze::run(a),
        Command::Live(a) => live::run(a),
        Command::Formats => formats::run(),
        Command::Detect(d) => detect::run(d),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gatelog: error: {e}");
            Exit::Error
        }
    }
}

/// Write to stdout; a closed pipe ends quietly.
pub fn emit(s: &str) -> Result<(), UserError> {
    let mut out = io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(UserError(format!("cannot write to stdout: {e}"))),
    }
}

/// `--format` values (typed by clap): the format for every input, and those for one path.
pub fn parse_formats(v: &[FormatChoice]) -> (Option<Format>, Vec<(String, Format)>) {
    let mut all = None;
    let mut per = Vec::new();
    for c in v {
        match &c.path {
            Some(p) => per.push((p.clone(), c.format)),
            None => all = Some(c.format),
        }
    }
    (all, per)
}

/// Parser options from `--log-format` and `--nginx-conf`.
pub fn parser_options(a: &FormatArgs) -> Result<ParserOptions, UserError> {
    // A --log-format that does not compile is a usage error naming the problem (else every
    // input would only say "unknown format").
    let (all, per) = parse_formats(&a.format);
    let fpm = all == Some(Format::FpmAccess) || per.iter().any(|(_, f)| *f == Format::FpmAccess);
    for f in &a.log_format {
        let one = std::slice::from_ref(f);
        if let Err(e) = gatelog_parsers::nginx_access::build(one) {
            match gatelog_parsers::fpm_access::build(one) {
                Err(fe) if fpm => return Err(UserError(format!("--log-format '{f}': {fe}"))),
                Ok(_) if fpm => {}
                _ => return Err(UserError(format!("--log-format '{f}': {e}"))),
            }
        }
    }
    let mut formats = a.log_format.clone();
    for conf in &a.nginx_conf {
        formats.extend(analyze::nginx_conf_formats(conf)?);
    }
    Ok(ParserOptions {
        log_formats: formats,
        ..Default::default()
    })
}
