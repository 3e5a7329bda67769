//! A small mergeable log-linear latency histogram (microseconds), about 6% relative error.

const SUB_BITS: u32 = 3;
const SUB: usize = 1 << SUB_BITS;
/// 40 octaves of microseconds cover more than 12 days.
const OCTAVES: usize = 40;
pub const SLOTS: usize = OCTAVES * SUB;

#[derive(Clone, Debug)]
pub struct Hist {
    counts: Box<[u32; SLOTS]>,
    total: u64,
}

impl Default for Hist {
    fn default() -> Self {
        Hist {
            counts: Box::new([0; SLOTS]),
            total: 0,
        }
    }
}

#[inline]
fn slot(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros(); // >= SUB_BITS
    let shift = msb - SUB_BITS;
    let sub = ((v >> shift) as usize) & (SUB - 1);
    let s = ((shift as usize + 1) << SUB_BITS) + sub;
    s.min(SLOTS - 1)
}

/// The representative (midpoint) value of a slot.
fn slot_value(s: usize) -> u64 {
    if s < SUB {
        return s as u64;
    }
    let shift = (s >> SUB_BITS) as u32 - 1;
    let sub = (s & (SUB - 1)) as u64;
    let lo = (SUB as u64 + sub) << shift;
    let width = 1u64 << shift;
    lo + width / 2
}

impl Hist {
    #[inline]
    pub fn add(&mut self, v_us: u64) {
        let s = slot(v_us);
        self.counts[s] = self.counts[s].saturating_add(1);
        self.total += 1;
    }

    pub fn merge(&mut self, o: &Hist) {
        for (a, b) in self.counts.iter_mut().zip(o.counts.iter()) {
            *a = a.saturating_add(*b);
        }
        self.total += o.total;
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// The q-quantile (0..=1) in microseconds, or None when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (s, &c) in self.counts.iter().enumerate() {
            seen += c as u64;
            if seen >= rank {
                return Some(slot_value(s));
            }
        }
        Some(slot_value(SLOTS - 1))
    }

    /// The count of each slot (sliding windows of histograms add and remove these).
    pub fn slot_counts(&self) -> &[u32; SLOTS] {
        &self.counts
    }

    /// The q-quantile (0..=1) in microseconds of slot counts such as a sum of
    /// [`Hist::slot_counts`], or None when empty; the same answer as [`Hist::quantile`].
    pub fn quantile_of_counts(counts: &[u64], q: f64) -> Option<u64> {
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (s, &c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(slot_value(s));
            }
        }
        Some(slot_value(counts.len().saturating_sub(1)))
    }

    /// Non-empty slots as (upper bound in µs, count), for exports.
    pub fn count_above(&self, v_us: u64) -> u64 {
        let s0 = slot(v_us);
        self.counts[s0 + 1..].iter().map(|&c| c as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_within_error() {
        let mut h = Hist::default();
        for v in 1..=10_000u64 {
            h.add(v * 100);
        }
        for (q, want) in [(0.5, 500_000.0), (0.95, 950_000.0), (0.99, 990_000.0)] {
            let got = h.quantile(q).unwrap() as f64;
            assert!((got - want).abs() / want < 0.07, "q{q}: {got} vs {want}");
        }
        let mut h2 = Hist::default();
        h2.add(5_000_000);
        h.merge(&h2);
        assert_eq!(h.total(), 10_001);
        assert!(h.quantile(1.0).unwrap() > 4_500_000);
        assert_eq!(Hist::default().quantile(0.5), None);
        // slots are monotonic
        let mut last = 0;
        for v in [0u64, 1, 7, 8, 9, 15, 16, 100, 1000, 123_456, u64::MAX] {
            let s = slot(v);
            assert!(s >= last);
            last = s;
        }
    }
}
