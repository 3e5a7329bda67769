//! Any bytes, framed into lines (and multi-line records) the way the pipeline does, through
//! the caddy parser with its default configuration.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    gatelog_fuzz::parse_all(gatelog_parsers::Format::Caddy, data);
});
