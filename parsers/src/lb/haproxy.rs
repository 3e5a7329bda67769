use crate::{Format, LineParser, ParseError, Record};

#[derive(Clone, Default)]
pub struct HaproxyParser {}

impl HaproxyParser {
    pub fn new() -> Self {
        Self::default()
    }
}

impl LineParser for HaproxyParser {
    fn format(&self) -> Format {
        Format::Haproxy
    }
    fn parse<'a>(&mut self, _rec: &'a [u8]) -> Result<Record<'a>, ParseError> {
        Err(ParseError::not_this_format(0))
    }
    fn clone_box(&self) -> Box<dyn LineParser> {
        Box::new(self.clone())
    }
}
