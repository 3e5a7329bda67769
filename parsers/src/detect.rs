//! Format detection by sniffing the first records of an input.
