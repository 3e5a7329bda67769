//! Aggregation: timeline buckets and accumulators, histograms, top keys, fine series, totals.

pub mod acc;
pub mod fine;
pub mod hist;
pub mod topkey;
pub mod totals;
