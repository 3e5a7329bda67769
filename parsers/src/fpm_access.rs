//! php-fpm access logs: an `access.format` string compiled into a parser.
use crate::LineParser;

pub fn build(_formats: &[String]) -> Result<Box<dyn LineParser>, String> {
    Err("fpm-access parser not implemented yet".into())
}
