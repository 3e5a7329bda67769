//! Any bytes, framed into lines (and multi-line records) the way the pipeline does, through
//! the nginx-access parser with its default configuration.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    gatelog_fuzz::parse_all(gatelog_parsers::Format::NginxAccess, data);
    gatelog_fuzz::nginx_fast_prefix_agrees(data, &[]);
});
