//! gatelog: input, analysis, reports and exports.
