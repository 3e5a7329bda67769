//! `gatelog detect`: the detected format of each input and why.

use crate::cli::DetectArgs;
use crate::exit::{Exit, UserError};
use crate::ingest::pipeline::{self, RunOptions};
use crate::read::input;

pub fn run(a: DetectArgs) -> Result<Exit, UserError> {
    let opts = RunOptions {
        parser_opts: super::parser_options(&a.fmt)?,
        ..Default::default()
    };
    let (all, per) = super::parse_formats(&a.fmt.format);
    let opts = RunOptions {
        force_all: all,
        force_path: per,
        ..opts
    };
    let (inputs, problems) = input::discover(&a.inputs);
    let mut out = String::new();
    let mut code = Exit::Ok;
    for p in &problems {
        eprintln!("gatelog: error: {}: {}", p.name, p.message);
        code = Exit::Error;
    }
    let ctx = crate::read::run_ctx::RunCtx::new();
    for inp in &inputs {
        let d = pipeline::detect_input(inp, &opts, &ctx);
        match d.format {
            Some(f) => {
                out.push_str(&format!("{}\t{}\t{}\n", inp.name, f, d.reason));
                if let Some(lf) = &d.log_format {
                    if gatelog_parsers::fpm_access::is_access_format(lf) {
                        eprintln!(
                            "gatelog: note: {}: php-fpm access.format inferred from its first lines; pin it with: --format {}=fpm-access --log-format '{lf}'",
                            inp.name, inp.name
                        );
                    } else {
                        eprintln!(
                            "gatelog: note: {}: nginx log_format inferred from its first lines; pin it with: --log-format '{lf}'",
                            inp.name
                        );
                    }
                }
            }
            None if inp.size == 0 && matches!(inp.source, input::Source::File(_)) => {
                // an empty file is not an error (as in `analyze`): there is nothing to misread
                out.push_str(&format!(
                    "{}\tempty\tempty file: nothing to recognise\n",
                    inp.name
                ));
            }
            None => {
                out.push_str(&format!("{}\tunknown\t{}\n", inp.name, d.reason));
                if inp.explicit {
                    code = Exit::Error;
                }
            }
        }
    }
    super::emit(&out)?;
    Ok(code)
}
