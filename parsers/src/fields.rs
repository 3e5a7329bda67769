//! Small byte-level helpers shared by the parsers.

use memchr::memchr;

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Bit 7 of each byte of the result is set where `w` has a byte equal to `b` (exact for the
/// lowest such byte, which is all the callers use).
#[inline(always)]
fn swar_eq(w: u64, b: u8) -> u64 {
    let x = w ^ (LO * b as u64);
    x.wrapping_sub(LO) & !x & HI
}

#[inline(always)]
pub(crate) fn word_at(h: &[u8], i: usize) -> Option<u64> {
    let s = h.get(i..i + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

/// The high bit of each byte of `w` that is `c` (exact: no borrow between bytes).
#[inline(always)]
fn eq_exact(w: u64, c: u8) -> u64 {
    const LOW7: u64 = LO * 0x7f;
    let v = w ^ (LO * c as u64);
    !(((v & LOW7) + LOW7) | v | LOW7)
}

/// The high bit of each byte of `w` that is not part of an `$upstream_*` value: not an ASCII
/// digit, `-`, or (`times`) `.`. Exact per byte, so the lowest set bit is the first such byte.
#[inline(always)]
pub(crate) fn not_list_value(w: u64, times: bool) -> u64 {
    const LOW7: u64 = LO * 0x7f;
    let low = w & LOW7;
    let digit = (low + LO * 0x50) & !(low + LO * 0x46) & !w & HI;
    let mut ok = digit | eq_exact(w, b'-');
    if times {
        ok |= eq_exact(w, b'.');
    }
    !ok & HI
}

/// Bit `k` set where byte `i + k` of `h` is `b`, for the 16 bytes at `i` (`None` when
/// fewer than 16 are left).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn mask16(h: &[u8], i: usize, b: u8) -> Option<u32> {
    use std::arch::x86_64::*;
    let a: &[u8; 16] = h.get(i..i.checked_add(16)?)?.try_into().ok()?;
    // SAFETY: SSE2 is part of the x86_64 baseline; the load reads the 16 bytes of `a`
    unsafe {
        let v = _mm_loadu_si128(a.as_ptr() as *const __m128i);
        Some(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8))) as u32)
    }
}

/// Position of the first `b` in `h`. Log fields are mostly short (up to a user agent's
/// hundred-odd bytes): sixteen bytes at a time in a register (SSE2, x86_64's baseline; eight
/// at a time elsewhere) for the first 256 bytes beats the set-up cost of a general search,
/// which takes over after that.
#[inline(always)]
pub fn find_byte(h: &[u8], b: u8) -> Option<usize> {
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    while i < 256 {
        match mask16(h, i, b) {
            Some(0) => i += 16,
            Some(m) => return Some(i + m.trailing_zeros() as usize),
            None => break,
        }
    }
    while i < 256 {
        match word_at(h, i) {
            Some(w) => {
                let t = swar_eq(w, b);
                if t != 0 {
                    return Some(i + (t.trailing_zeros() / 8) as usize);
                }
                i += 8;
            }
            None => {
                // fewer than 8 bytes left
                return h.get(i..)?.iter().position(|&c| c == b).map(|j| i + j);
            }
        }
    }
    memchr(b, h.get(i..)?).map(|j| j + i)
}

/// Whether `h` contains `a` or `b` (words; the last one overlaps the one before it).
#[inline(always)]
fn contains2(h: &[u8], a: u8, b: u8) -> bool {
    let n = h.len();
    if n < 8 {
        return h.iter().any(|&c| c == a || c == b);
    }
    let hit = |w: u64| swar_eq(w, a) | swar_eq(w, b) != 0;
    let mut i = 0;
    while i + 8 < n {
        if word_at(h, i).is_some_and(hit) {
            return true;
        }
        i += 8;
    }
    word_at(h, n - 8).is_some_and(hit)
}

/// `-` and empty both mean "not logged".
#[inline]
pub fn dash_empty(b: &[u8]) -> &[u8] {
    if b == b"-" {
        &[]
    } else {
        b
    }
}

/// Parse an unsigned decimal; `None` on empty, non-digit or overflow.
#[inline]
pub fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    if b.len() <= 19 {
        // 19 digits cannot overflow a u64: no checked arithmetic
        let mut v: u64 = 0;
        for &c in b {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v * 10 + d as u64;
        }
        return Some(v);
    }
    let mut v: u64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(d as u64)?;
    }
    Some(v)
}

/// An HTTP status: exactly three digits, 100..=999 (nginx writes 000 and 499 too; `0` for
/// some LBs). Returns `None` otherwise.
#[inline]
pub fn parse_status(b: &[u8]) -> Option<u16> {
    match b.len() {
        3 => {
            let v = crate::time::digits(b, 0, 3)?;
            Some(v as u16)
        }
        1 if b[0] == b'0' => Some(0),
        _ => None,
    }
}

/// Iterate over the entries of an nginx `$upstream_*` list: entries are separated by `, `
/// (servers tried in turn) or ` : ` (internal redirect to another upstream group).
/// Entries are trimmed; `-` entries are yielded as `-`.
pub fn upstream_list(b: &[u8]) -> impl Iterator<Item = &[u8]> {
    b.split(|&c| c == b',' || c == b':').filter_map(|e| {
        let e = trim(e);
        if e.is_empty() {
            None
        } else {
            Some(e)
        }
    })
}

/// The last entry of an upstream list (the server that gave the final answer). Addresses
/// such as `unix:/run/php.sock` and `127.0.0.1:9000` contain `:` themselves, so this splits on
/// `, ` and ` : ` (with their spaces) only. Searches backwards: usually one or two jumps.
#[inline(always)]
pub fn upstream_last(b: &[u8]) -> &[u8] {
    if !contains2(b, b',', b' ') {
        // one entry, nothing to split or trim (the usual case, inline at the caller)
        return b;
    }
    upstream_last_of_list(b)
}

/// [`upstream_last`] of a list (or of an entry to trim).
#[inline(never)]
fn upstream_last_of_list(b: &[u8]) -> &[u8] {
    if b.len() <= 48 {
        // short (the usual single address or time): a plain backward scan
        let mut i = b.len();
        while i > 0 {
            i -= 1;
            match b[i] {
                b',' if b.get(i + 1) == Some(&b' ') => return trim(&b[i + 1..]),
                b':' if i > 0 && b[i - 1] == b' ' && b.get(i + 1) == Some(&b' ') => {
                    return trim(&b[i + 1..])
                }
                _ => {}
            }
        }
        return trim(b);
    }
    let mut end = b.len();
    while let Some(i) = memchr::memrchr2(b',', b':', &b[..end]) {
        let sep = match b[i] {
            b',' => b.get(i + 1) == Some(&b' '),
            _ => i > 0 && b[i - 1] == b' ' && b.get(i + 1) == Some(&b' '),
        };
        if sep {
            return trim(&b[i + 1..]);
        }
        end = i;
    }
    trim(b)
}

/// Split an upstream address list into its entries (see [`upstream_last`] for separators).
pub fn upstream_entries(b: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b',' && b.get(i + 1) == Some(&b' ') {
            out.push(trim(&b[start..i]));
            i += 2;
            start = i;
        } else if b[i] == b' ' && b.get(i + 1) == Some(&b':') && b.get(i + 2) == Some(&b' ') {
            out.push(trim(&b[start..i]));
            i += 3;
            start = i;
        } else {
            i += 1;
        }
    }
    if start <= b.len() {
        out.push(trim(&b[start..]));
    }
    out.retain(|e| !e.is_empty());
    out
}

#[inline]
pub fn trim(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if last.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

/// Find the closing `"` of a quoted field that starts right after an opening quote at
/// `b[0]`, honouring backslash escapes (nginx `\x22`, `\"`). Returns the index of the closing
/// quote within `b`.
#[inline]
pub fn find_closing_quote(b: &[u8]) -> Option<usize> {
    // `-"` (a field not logged) is the most common short value
    if let [b'-', b'"', ..] = b {
        return Some(1);
    }
    let mut i = 0;
    loop {
        let j = i + find_byte(&b[i..], b'"')?;
        // count preceding backslashes
        let mut k = j;
        let mut n = 0;
        while k > i && b[k - 1] == b'\\' {
            n += 1;
            k -= 1;
        }
        if n % 2 == 0 {
            return Some(j);
        }
        i = j + 1;
    }
}

/// Split a request line `GET /path HTTP/1.1` into (method, target, protocol). Tolerates a
/// missing protocol (HTTP/0.9 or a truncated line) and garbage (everything is then the
/// target with empty method).
pub fn split_request_line(b: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let Some(sp1) = memchr(b' ', b) else {
        return (&[], b, &[]);
    };
    let method = &b[..sp1];
    if method.is_empty()
        || !method
            .iter()
            .all(|c| c.is_ascii_uppercase() || *c == b'-' || *c == b'_')
    {
        return (&[], b, &[]);
    }
    let rest = &b[sp1 + 1..];
    match memchr::memrchr(b' ', rest) {
        Some(sp2) if rest[sp2 + 1..].starts_with(b"HTTP/") => {
            (method, &rest[..sp2], &rest[sp2 + 1..])
        }
        _ => (method, rest, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time classifier agrees with a byte loop for every byte value in every
    /// position, next to every other kind of byte (a borrow between bytes would show here).
    #[test]
    fn not_list_value_is_exact_per_byte() {
        let reference = |w: [u8; 8], times: bool| -> u64 {
            let mut m = 0u64;
            for (i, &c) in w.iter().enumerate() {
                let ok = c.is_ascii_digit() || c == b'-' || (times && c == b'.');
                if !ok {
                    m |= 0x80 << (8 * i);
                }
            }
            m
        };
        let fillers = [
            b'0', b'9', b'.', b'-', b' ', b',', 0x00, 0x2f, 0x3a, 0x80, 0xff, 0xb0,
        ];
        for times in [false, true] {
            for pos in 0..8 {
                for c in 0..=255u8 {
                    for &f in &fillers {
                        let mut w = [f; 8];
                        w[pos] = c;
                        w[(pos + 3) % 8] = b'.';
                        let got = not_list_value(u64::from_le_bytes(w), times);
                        assert_eq!(got, reference(w, times), "{w:?} times={times}");
                    }
                }
            }
        }
    }

    #[test]
    fn upstream_lists() {
        let l = b"10.0.0.1:80, 10.0.0.2:80 : unix:/run/php.sock";
        assert_eq!(upstream_last(l), b"unix:/run/php.sock");
        assert_eq!(
            upstream_entries(l),
            vec![&b"10.0.0.1:80"[..], b"10.0.0.2:80", b"unix:/run/php.sock"]
        );
        assert_eq!(upstream_last(b"127.0.0.1:9000"), b"127.0.0.1:9000");
        assert_eq!(upstream_last(b"a:1, b:2"), b"b:2");
        assert_eq!(upstream_last(b" 0.5 "), b"0.5");
        let long = b"10.0.0.1:9000, 10.0.0.2:9000, 10.0.0.3:9000, 10.0.0.4:9000 : 10.0.0.5:9000";
        assert_eq!(upstream_last(long), b"10.0.0.5:9000");
        for n in 0..80 {
            let mut h = vec![b'x'; n];
            assert_eq!(find_byte(&h, b'y'), None, "len {n}");
            if n > 0 {
                h[n - 1] = b'y';
                assert_eq!(find_byte(&h, b'y'), Some(n - 1), "len {n}");
                h[n / 2] = b'y';
                assert_eq!(find_byte(&h, b'y'), Some(n / 2), "len {n}");
            }
        }
        // every length across the vector, word and general searches, every position
        for n in [
            0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 255, 256, 257, 263, 264, 300, 1000,
        ] {
            let h = vec![b'x'; n];
            assert_eq!(find_byte(&h, b'y'), None, "len {n}");
            for k in 0..n {
                let mut h = h.clone();
                h[k] = b'y';
                if k + 3 < n {
                    h[k + 3] = b'y';
                }
                assert_eq!(find_byte(&h, b'y'), Some(k), "len {n} at {k}");
                assert!(contains2(&h, b'y', b'z') && contains2(&h, b'z', b'y'));
                assert!(!contains2(&h, b'z', b'w'), "len {n}");
            }
        }
        // bytes above 0x80 and the searched byte's neighbours do not fool the word search
        assert_eq!(find_byte(b"\xff\x80\x21\x23\x22abc", b'"'), Some(4));
        assert_eq!(upstream_entries(b"-"), vec![&b"-"[..]]);
    }

    #[test]
    fn quotes_and_requests() {
        assert_eq!(find_closing_quote(br#"ab\"c" x"#), Some(5));
        assert_eq!(find_closing_quote(br#"ab\\" x"#), Some(4));
        assert_eq!(find_closing_quote(b"abc"), None);
        assert_eq!(
            split_request_line(b"GET /a b HTTP/1.1"),
            (&b"GET"[..], &b"/a b"[..], &b"HTTP/1.1"[..])
        );
        assert_eq!(
            split_request_line(b"\x16\x03\x01"),
            (&b""[..], &b"\x16\x03\x01"[..], &b""[..])
        );
        assert_eq!(parse_status(b"502"), Some(502));
        assert_eq!(parse_status(b"5x2"), None);
        assert_eq!(parse_u64(b"18446744073709551616"), None);
    }
}
