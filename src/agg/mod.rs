//! Aggregation: timeline buckets and accumulators, histograms, top keys, fine series.

pub mod acc;
pub mod fine;
pub mod hist;
pub mod topkey;
