//! Shared pieces of the grammars that are off the hot path (the `log_format` and
//! `access.format` compilers, the nginx configuration reader): nom parsers whose failures carry
//! the input left where the offending element starts, so that every error names its position
//! (byte offset, line and column) instead of only what went wrong.

use nom::error::{ErrorKind, ParseError as NomParseError};

/// Why a grammar failed, and the input left where the offending element starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fail<I> {
    pub rest: I,
    pub why: String,
}

impl<I> NomParseError<I> for Fail<I> {
    fn from_error_kind(rest: I, kind: ErrorKind) -> Self {
        Fail {
            rest,
            why: format!("unexpected input ({})", kind.description()),
        }
    }
    fn append(_: I, _: ErrorKind, other: Self) -> Self {
        other
    }
}

/// The result of one grammar element.
pub type PResult<I, T> = nom::IResult<I, T, Fail<I>>;

/// A hard failure (no backtracking) at `rest`.
pub fn fail<I, T>(rest: I, why: impl Into<String>) -> PResult<I, T> {
    Err(nom::Err::Failure(Fail {
        rest,
        why: why.into(),
    }))
}

/// The failure inside a nom result (`Incomplete` cannot happen with the `complete` parsers
/// used here; it is reported at the end of the input).
pub fn into_fail<I: nom::Input>(e: nom::Err<Fail<I>>, end: I) -> Fail<I> {
    match e {
        nom::Err::Error(f) | nom::Err::Failure(f) => f,
        nom::Err::Incomplete(_) => Fail {
            rest: end.take_from(end.input_len()),
            why: "unexpected end".into(),
        },
    }
}

/// A position in a grammar's source text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pos {
    /// Byte offset from the start (from 0).
    pub byte: usize,
    /// Line (from 1).
    pub line: usize,
    /// Column in characters (UTF-8 sequences count once; from 1) within the line.
    pub col: usize,
}

impl Pos {
    /// The position of the suffix `rest_len` bytes long of `src`.
    pub fn of(src: &[u8], rest_len: usize) -> Pos {
        let byte = src.len().saturating_sub(rest_len);
        let head = src.get(..byte).unwrap_or(src);
        let line_start = head.iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
        let line = 1 + head.iter().filter(|&&c| c == b'\n').count();
        let col = 1 + head
            .get(line_start..)
            .unwrap_or_default()
            .iter()
            .filter(|&&c| c & 0xC0 != 0x80)
            .count();
        Pos { byte, line, col }
    }

    /// `at byte N (column C)`, for one-line sources such as a format string.
    pub fn at(&self) -> String {
        format!("at byte {} (column {})", self.byte, self.col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let src = "ab\ncdé$x".as_bytes();
        // `$x` starts after "é" (2 bytes)
        assert_eq!(
            Pos::of(src, 2),
            Pos {
                byte: 7,
                line: 2,
                col: 4
            }
        );
        assert_eq!(
            Pos::of(src, src.len()),
            Pos {
                byte: 0,
                line: 1,
                col: 1
            }
        );
        assert_eq!(Pos::of(src, 0).at(), "at byte 9 (column 6)");
    }
}
