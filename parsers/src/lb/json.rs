//! A small zero-copy scanner for flat JSON objects (one log record): yields each top-level
//! key and value as raw slices of the input (strings still escaped, nested objects and arrays
//! as their raw text). No allocation, no recursion, never panics.

use memchr::memchr2;

/// A JSON value as a raw slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val<'a> {
    /// String contents without the quotes, escapes left as written.
    Str(&'a [u8]),
    /// Number as written.
    Num(&'a [u8]),
    Bool(bool),
    Null,
    /// `{...}` including the braces.
    Obj(&'a [u8]),
    /// `[...]` including the brackets.
    Arr(&'a [u8]),
}

impl<'a> Val<'a> {
    /// The value's bytes for scalar use: string contents, number text, `true`/`false`;
    /// empty for null; the raw text for objects and arrays.
    pub fn bytes(self) -> &'a [u8] {
        match self {
            Val::Str(s) | Val::Num(s) | Val::Obj(s) | Val::Arr(s) => s,
            Val::Bool(true) => b"true",
            Val::Bool(false) => b"false",
            Val::Null => b"",
        }
    }
    /// A string or number value (what log exporters write for scalars).
    pub fn scalar(self) -> Option<&'a [u8]> {
        match self {
            Val::Str(s) | Val::Num(s) => Some(s),
            _ => None,
        }
    }
}

/// Index of the first non-whitespace byte at or after `i`.
#[inline]
pub fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        i += 1;
    }
    i
}

/// `b[i]` is `"`: index of the closing quote.
#[inline]
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        let k = j + memchr2(b'"', b'\\', b.get(j..)?)?;
        if b.get(k) == Some(&b'\\') {
            j = k + 2;
        } else {
            return Some(k);
        }
    }
}

/// `b[i]` is `{` or `[`: index just past the matching close.
fn nested_end(b: &[u8], i: usize) -> Option<usize> {
    let mut depth: usize = 0;
    let mut j = i;
    while let Some(&c) = b.get(j) {
        match c {
            b'"' => j = string_end(b, j)?,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
    None
}

/// Parse one value at `i` (no leading whitespace); returns it and the index after it.
pub fn value(b: &[u8], i: usize) -> Option<(Val<'_>, usize)> {
    match *b.get(i)? {
        b'"' => {
            let e = string_end(b, i)?;
            Some((Val::Str(b.get(i + 1..e)?), e + 1))
        }
        b'{' => {
            let e = nested_end(b, i)?;
            Some((Val::Obj(b.get(i..e)?), e))
        }
        b'[' => {
            let e = nested_end(b, i)?;
            Some((Val::Arr(b.get(i..e)?), e))
        }
        b't' if b.get(i..i + 4) == Some(b"true") => Some((Val::Bool(true), i + 4)),
        b'f' if b.get(i..i + 5) == Some(b"false") => Some((Val::Bool(false), i + 5)),
        b'n' if b.get(i..i + 4) == Some(b"null") => Some((Val::Null, i + 4)),
        b'-' | b'0'..=b'9' => {
            let mut e = i + 1;
            while matches!(
                b.get(e),
                Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
            ) {
                e += 1;
            }
            Some((Val::Num(b.get(i..e)?), e))
        }
        _ => None,
    }
}

/// Scan the object starting at `start` (after optional whitespace), calling `f` for each
/// top-level member in order. Returns the index just past the closing `}`, or the byte
/// position where the JSON is malformed.
pub fn scan_object<'a>(
    b: &'a [u8],
    start: usize,
    mut f: impl FnMut(&'a [u8], Val<'a>),
) -> Result<usize, usize> {
    let mut i = skip_ws(b, start);
    if b.get(i) != Some(&b'{') {
        return Err(i);
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return Ok(i + 1);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return Err(i);
        }
        let ke = string_end(b, i).ok_or(i)?;
        let key = b.get(i + 1..ke).ok_or(i)?;
        i = skip_ws(b, ke + 1);
        if b.get(i) != Some(&b':') {
            return Err(i);
        }
        i = skip_ws(b, i + 1);
        let (v, e) = value(b, i).ok_or(i)?;
        f(key, v);
        i = skip_ws(b, e);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return Ok(i + 1),
            _ => return Err(i),
        }
    }
}

/// Find the string value of `key` in the object at `start` (first occurrence).
pub fn get_str<'a>(b: &'a [u8], start: usize, key: &[u8]) -> Option<&'a [u8]> {
    let mut out = None;
    scan_object(b, start, |k, v| {
        if out.is_none() && k == key {
            out = v.scalar();
        }
    })
    .ok()?;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_members() {
        let s =
            br#" { "a" : "x\"y", "b":12.5e3,"c":{"d":[1,"]}"]},"e":[],"f":null,"g":true } tail"#;
        let mut got = Vec::new();
        let end = scan_object(s, 0, |k, v| got.push((k, v))).unwrap();
        assert_eq!(&s[end..], b" tail");
        assert_eq!(got.len(), 6);
        assert_eq!(got[0], (&b"a"[..], Val::Str(br#"x\"y"#)));
        assert_eq!(got[1], (&b"b"[..], Val::Num(b"12.5e3")));
        assert_eq!(got[2].1, Val::Obj(br#"{"d":[1,"]}"]}"#));
        assert_eq!(got[3].1, Val::Arr(b"[]"));
        assert_eq!(got[4].1, Val::Null);
        assert_eq!(got[5].1, Val::Bool(true));
        assert_eq!(get_str(s, 0, b"b"), Some(&b"12.5e3"[..]));
    }

    #[test]
    fn malformed_never_panics() {
        for s in [
            &b"{"[..],
            b"{\"a\"",
            b"{\"a\":",
            b"{\"a\":\"x",
            b"{\"a\":1,",
            b"{\"a\":{\"b\":[}",
            b"{\"a\" 1}",
            b"{\"a\":tru}",
            b"{\"a\":\"\\",
            b"",
            b"[]",
        ] {
            assert!(scan_object(s, 0, |_, _| {}).is_err(), "{:?}", s);
        }
        assert_eq!(scan_object(b"{}", 0, |_, _| {}), Ok(2));
    }
}
