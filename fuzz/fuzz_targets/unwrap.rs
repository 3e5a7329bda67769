//! Any bytes as a container log: every line unwrapped as CRI, Docker json-file and
//! timestamped, pieces joined per stream, wrapper sniffed, and klog recognised.
#![no_main]
use gatelog_parsers::wrap::{self, Joiner, Wrapper};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lines = gatelog_fuzz::lines(data);
    let _ = wrap::sniff(&lines);
    let mut scratch = Vec::new();
    for w in Wrapper::ALL {
        let mut j = Joiner::new(4096);
        for (i, l) in lines.iter().enumerate() {
            let _ = wrap::is_klog(l);
            if let Ok(p) = wrap::unwrap(w, l, &mut scratch) {
                j.push(&p, i as u64 + 1, 0, &mut |x| {
                    assert!(x.body.len() <= 4096 || !x.too_long);
                });
            }
        }
        j.finish(&mut |_| {});
    }
});
