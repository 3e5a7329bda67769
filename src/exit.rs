//! Exit statuses (SPEC "Exit status").

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// Usage or I/O error, with a message naming the file and what to do.
    Error = 1,
    /// `--strict` and some lines were rejected.
    Rejected = 2,
    /// A `--fail-on` rule held.
    RuleHeld = 3,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// An error for the user: one line, naming the input and what to do.
#[derive(Debug)]
pub struct UserError(pub String);

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for UserError {
    fn from(s: String) -> Self {
        UserError(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn codes_match_the_spec() {
        assert_eq!(Exit::Ok.code(), 0);
        assert_eq!(Exit::Error.code(), 1);
        assert_eq!(Exit::Rejected.code(), 2);
        assert_eq!(Exit::RuleHeld.code(), 3);
    }
}
