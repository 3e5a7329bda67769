//! Reading `log_format` directives out of nginx configuration text (no I/O here: the caller
//! resolves `include` paths and feeds their text).
