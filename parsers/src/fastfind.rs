//! Substring search for the short fixed needles of the line parsers (`", "`, `" while "`,
//! `"client: "`...), with the results of `memchr::memmem`'s `find`, `rfind` and `find_iter`.
//! `memmem`'s one-shot functions build a searcher (a SIMD prefilter and a Two-Way table) on
//! every call: for needles this short that construction cost more than the search (9% of the
//! nginx error parser under callgrind). Here: `memchr` for the needle's first non-space byte
//! (spaces are everywhere in a log line), then a compare. Needles are a few bytes, so the
//! worst case stays linear in the haystack.

/// The byte to look for and its offset in the needle.
#[inline(always)]
fn anchor(needle: &[u8]) -> (u8, usize) {
    match needle.iter().position(|&c| c != b' ') {
        Some(i) => (needle[i], i),
        None => (b' ', 0),
    }
}

/// First occurrence of `needle` in `hay` (as `memchr::memmem::find`).
#[inline]
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    find_from(hay, needle, 0)
}

#[inline]
fn find_from(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return (from <= hay.len()).then_some(from);
    }
    let (b, off) = anchor(needle);
    let mut i = from + off; // position of the anchor byte
    loop {
        let j = i + memchr::memchr(b, hay.get(i..)?)?;
        let start = j - off;
        if hay.get(start..).is_some_and(|h| h.starts_with(needle)) {
            return Some(start);
        }
        i = j + 1;
    }
}

/// Last occurrence of `needle` in `hay` (as `memchr::memmem::rfind`).
#[inline]
pub fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(hay.len());
    }
    if needle.len() > hay.len() {
        return None;
    }
    let (b, off) = anchor(needle);
    // the anchor of a match starting at or before hay.len() - needle.len()
    let mut end = hay.len() - needle.len() + off + 1;
    loop {
        let j = memchr::memrchr(b, hay.get(..end)?)?;
        // an anchor closer to the start than its offset cannot begin a match (nor can any
        // before it)
        let start = j.checked_sub(off)?;
        if hay.get(start..).is_some_and(|h| h.starts_with(needle)) {
            return Some(start);
        }
        end = j;
    }
}

/// Non-overlapping occurrences of `needle` in `hay`, left to right (as
/// `memchr::memmem::find_iter`; `needle` must not be empty).
pub fn find_iter<'a>(hay: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    debug_assert!(!needle.is_empty());
    let mut from = 0;
    std::iter::from_fn(move || {
        if needle.is_empty() {
            return None;
        }
        let i = find_from(hay, needle, from)?;
        from = i + needle.len();
        Some(i)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use memchr::memmem;

    /// The same answers as `memchr::memmem` on every needle the parsers use and on
    /// overlapping, repeated and edge-placed needles, over many haystacks.
    #[test]
    fn agrees_with_memmem() {
        let needles: &[&[u8]] = &[
            b", ",
            b": ",
            b" while ",
            b"\" while ",
            b" HTTP/",
            b"failed (",
            b"client: ",
            b"  ",
            b" ",
            b"aa",
            b"aba",
            b"x",
            b", , ",
        ];
        let mut hays: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b", ".to_vec(),
            b"upstream timed out (110: Connection timed out) while reading response header from upstream, client: 1.2.3.4, server: a, request: \"GET / HTTP/1.1\", upstream: \"fastcgi://10.0.1.11:9000\", host: \"x\"".to_vec(),
            b"aaaa abab ababa , , , ,  while  while\" while ".to_vec(),
        ];
        // every short string over a small alphabet
        let alpha = b", a:bw\" ";
        let mut x: u64 = 7;
        for _ in 0..4000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = (x % 24) as usize;
            let h: Vec<u8> = (0..n)
                .map(|k| alpha[((x >> (k * 2 % 60)) as usize + k) % alpha.len()])
                .collect();
            hays.push(h);
        }
        for h in &hays {
            for n in needles {
                assert_eq!(find(h, n), memmem::find(h, n), "{h:?} {n:?}");
                assert_eq!(rfind(h, n), memmem::rfind(h, n), "{h:?} {n:?}");
                let a: Vec<usize> = find_iter(h, n).collect();
                let b: Vec<usize> = memmem::find_iter(h, n).collect();
                assert_eq!(a, b, "{h:?} {n:?}");
            }
        }
    }
}
