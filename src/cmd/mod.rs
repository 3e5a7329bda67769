//! One module per subcommand.

pub mod analyze;
pub mod detect;
pub mod formats;
pub mod live;

use std::io::{self, Write};

use crate::cli::{Cli, Command, FormatArgs};
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

/// `--format` values: `FMT` for every input, or `PATH=FMT`.
pub fn parse_formats(v: &[String]) -> Result<(Option<Format>, Vec<(String, Format)>), UserError> {
    let mut all = None;
    let mut per = Vec::new();
    for s in v {
        let (path, id) = match s.rsplit_once('=') {
            Some((p, f)) => (Some(p.to_string()), f),
            None => (None, s.as_str()),
        };
        let f = Format::from_id(id).ok_or_else(|| {
            let ids: Vec<&str> = Format::ALL.iter().map(|f| f.id()).collect();
            UserError(format!(
                "unknown format '{id}' in --format {s}; known formats: {}",
                ids.join(", ")
            ))
        })?;
        match path {
            Some(p) => per.push((p, f)),
            None => all = Some(f),
        }
    }
    Ok((all, per))
}

/// Parser options from `--log-format` and `--nginx-conf`.
pub fn parser_options(a: &FormatArgs) -> Result<ParserOptions, UserError> {
    let mut formats = a.log_format.clone();
    for conf in &a.nginx_conf {
        formats.extend(analyze::nginx_conf_formats(conf)?);
    }
    Ok(ParserOptions {
        log_formats: formats,
    })
}
