//! Fuzz target: see `gatelog_fuzz::nginx_conf` (fuzz/src/lib.rs).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    gatelog_fuzz::nginx_conf(data);
});
