//! Incidents found at a fine resolution whatever the display width: a sparse series of
//! requests and failures per layer in 10-second cells (only the cells that have lines), kept
//! beside the display timeline, which coarsens to about 300 rows over the whole span (days of
//! logs, or inputs days apart, give 30-minute rows in which a 10-minute incident drowns).
//! Bounded: past [`MAX_CELLS`] cells the series coarsens (60 s, 300 s, ...), a few MB at most.

/// Cell widths (seconds) the series may have; each divides the next.
pub const WIDTHS: [i64; 8] = [10, 30, 60, 300, 1800, 3600, 21600, 86400];
/// The most cells kept before the series coarsens (about 3.5 MB; 7.5 days of 10 s cells).
pub const MAX_CELLS: usize = 1 << 16;
/// The coarsest width incidents are detected at when the cells allow (start and end within
/// a minute of the truth).
pub const DETECT_MAX_S: i64 = 60;
/// A run of more empty detection buckets than this (inputs that do not overlap in time) is
/// shortened to [`GAP_KEEP`]: a gap with no data is not a zero-error baseline, and keeps the
/// series' length bounded by its cells.
const GAP_MAX: i64 = 1000;
const GAP_KEEP: i64 = 4;

/// One cell: per layer (lb, proxy, app) requests, 5xx and 429; error-log counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cell {
    pub requests: [u32; 3],
    pub err5xx: [u32; 3],
    pub s429: [u32; 3],
    /// `client sent too long header line` events (a refused request, like a 429).
    pub header_too_big: u32,
    /// Error events (as `analysis::error_events`): the signal of error-log-only runs.
    pub errors: u32,
}

impl Cell {
    fn add(&mut self, o: &Cell) {
        for l in 0..3 {
            self.requests[l] = self.requests[l].saturating_add(o.requests[l]);
            self.err5xx[l] = self.err5xx[l].saturating_add(o.err5xx[l]);
            self.s429[l] = self.s429[l].saturating_add(o.s429[l]);
        }
        self.header_too_big = self.header_too_big.saturating_add(o.header_too_big);
        self.errors = self.errors.saturating_add(o.errors);
    }
    fn failed(&self, layer: Option<usize>) -> u64 {
        let h = self.header_too_big as u64;
        match layer {
            Some(l) => self.err5xx[l] as u64 + self.s429[l] as u64 + h,
            None => {
                (0..3)
                    .map(|l| self.err5xx[l] as u64 + self.s429[l] as u64)
                    .sum::<u64>()
                    + h
            }
        }
    }
    fn total(&self) -> u64 {
        self.requests.iter().map(|&x| x as u64).sum()
    }
}

/// The sparse series: cells sorted by index (UTC seconds / width).
#[derive(Clone, Debug)]
pub struct Fine {
    /// Index into [`WIDTHS`].
    pub step: usize,
    pub cells: Vec<(i64, Cell)>,
    /// The last cell used, as [lo, hi) µs and its position (`hot_lo > hot_hi` = none).
    hot_lo: i64,
    hot_hi: i64,
    hot: usize,
}

impl Default for Fine {
    fn default() -> Self {
        Fine {
            step: 0,
            cells: Vec::new(),
            hot_lo: 1,
            hot_hi: 0,
            hot: 0,
        }
    }
}

impl Fine {
    pub fn width_s(&self) -> i64 {
        WIDTHS[self.step]
    }

    /// The cell of a UTC instant (µs).
    #[inline]
    pub fn cell(&mut self, utc_us: i64) -> &mut Cell {
        if utc_us >= self.hot_lo && utc_us < self.hot_hi {
            return &mut self.cells[self.hot].1;
        }
        self.cell_slow(utc_us)
    }

    #[inline(never)]
    fn cell_slow(&mut self, utc_us: i64) -> &mut Cell {
        let w = self.width_s() * 1_000_000;
        let idx = utc_us.div_euclid(w);
        let pos = match self.cells.last() {
            Some(&(last, _)) if idx > last => {
                self.cells.push((idx, Cell::default()));
                self.cells.len() - 1
            }
            _ => match self.cells.binary_search_by_key(&idx, |c| c.0) {
                Ok(p) => p,
                Err(p) => {
                    self.cells.insert(p, (idx, Cell::default()));
                    p
                }
            },
        };
        if self.cells.len() > MAX_CELLS {
            self.coarsen_to_fit();
            return self.cell_slow(utc_us);
        }
        self.hot_lo = idx * w;
        self.hot_hi = self.hot_lo + w;
        self.hot = pos;
        &mut self.cells[pos].1
    }

    /// Coarsen to `step` (merging cells).
    pub fn coarsen(&mut self, step: usize) {
        self.hot_lo = 1;
        self.hot_hi = 0;
        if step <= self.step {
            return;
        }
        let f = WIDTHS[step] / WIDTHS[self.step];
        let mut out: Vec<(i64, Cell)> = Vec::new();
        for (i, c) in self.cells.drain(..) {
            let j = i.div_euclid(f);
            match out.last_mut() {
                Some(x) if x.0 == j => x.1.add(&c),
                _ => out.push((j, c)),
            }
        }
        self.cells = out;
        self.step = step;
    }

    /// Coarsen until at most [`MAX_CELLS`] cells remain: the finest width at which all the
    /// instants seen fit, however the input was split.
    fn coarsen_to_fit(&mut self) {
        while self.cells.len() > MAX_CELLS && self.step + 1 < WIDTHS.len() {
            self.coarsen(self.step + 1);
        }
    }

    /// Add `o` (any order of cells).
    pub fn merge(&mut self, mut o: Fine) {
        self.hot_lo = 1;
        self.hot_hi = 0;
        if o.cells.is_empty() {
            return;
        }
        let step = self.step.max(o.step);
        self.coarsen(step);
        o.coarsen(step);
        if self.cells.is_empty() {
            self.cells = o.cells;
        } else {
            let a = std::mem::take(&mut self.cells);
            let mut out: Vec<(i64, Cell)> = Vec::with_capacity(a.len() + o.cells.len());
            let (mut i, mut j) = (0, 0);
            while i < a.len() || j < o.cells.len() {
                let take_a = j >= o.cells.len() || (i < a.len() && a[i].0 <= o.cells[j].0);
                let c = if take_a {
                    i += 1;
                    a[i - 1]
                } else {
                    j += 1;
                    o.cells[j - 1]
                };
                match out.last_mut() {
                    Some((k, x)) if *k == c.0 => x.add(&c.1),
                    _ => out.push(c),
                }
            }
            self.cells = out;
        }
        if self.cells.len() > MAX_CELLS {
            self.coarsen_to_fit();
        }
    }

    /// Failed (5xx, 429, refused) and all requests in [from, to) µs, each counted once at
    /// the outermost layer that logged requests there.
    pub fn figures(&self, from: i64, to: i64) -> Option<(u64, u64)> {
        let w = self.width_s() * 1_000_000;
        let cells: Vec<&Cell> = self
            .cells
            .iter()
            .filter(|c| c.0 * w >= from && c.0 * w < to)
            .map(|c| &c.1)
            .collect();
        let l = (0..3).find(|&l| cells.iter().any(|c| c.requests[l] > 0))?;
        Some((
            cells.iter().map(|c| c.err5xx[l] as u64).sum(),
            cells.iter().map(|c| c.requests[l] as u64).sum(),
        ))
    }
}

/// Incidents as [start, end) UTC µs, found on the cells at the finest width (10 s, 30 s or
/// 60 s, at most [`crate::agg::acc::TARGET_ROWS`] buckets of data where it can) — `None` when
/// that is no finer than the display width `display_s` (the display timeline's incidents
/// stand). `rates`: a run with requests (else error events are the signal). `detect` finds
/// the incidents' bucket spans in a signal (`analysis::find_incidents`: the detector lives
/// with the analysis, this builds its signal).
pub fn incidents(
    f: &Fine,
    display_s: i64,
    rates: bool,
    min_errors: u64,
    detect: impl Fn(&[(u64, u64)], bool, u64) -> Vec<(usize, usize)>,
) -> Option<Vec<(i64, i64)>> {
    if f.cells.is_empty() {
        return None;
    }
    let occupied = f.cells.len() as i64 * f.width_s();
    let mut wd = *WIDTHS
        .iter()
        .take_while(|&&w| w <= DETECT_MAX_S)
        .find(|&&w| occupied / w <= crate::agg::acc::TARGET_ROWS)
        .unwrap_or(&DETECT_MAX_S);
    wd = wd.max(f.width_s());
    if wd >= display_s {
        return None;
    }
    let ratio = wd / f.width_s();
    // buckets of width wd: (index, cell), gaps kept up to GAP_MAX empty buckets
    let mut idx: Vec<Option<i64>> = Vec::new();
    let mut cells: Vec<Cell> = Vec::new();
    for &(i, c) in &f.cells {
        let b = i.div_euclid(ratio);
        match idx.last().copied().flatten() {
            Some(last) if last == b => {
                if let Some(x) = cells.last_mut() {
                    x.add(&c);
                }
                continue;
            }
            Some(last) => {
                let gap = b - last - 1;
                if gap > GAP_MAX {
                    for _ in 0..GAP_KEEP {
                        idx.push(None);
                        cells.push(Cell::default());
                    }
                } else {
                    for k in 1..=gap {
                        idx.push(Some(last + k));
                        cells.push(Cell::default());
                    }
                }
            }
            None => {}
        }
        idx.push(Some(b));
        cells.push(c);
    }
    let sig: Vec<(u64, u64)> = cells
        .iter()
        .map(|c| {
            if rates {
                (c.failed(None), c.total())
            } else {
                (c.errors as u64, 0)
            }
        })
        .collect();
    let w = wd * 1_000_000;
    let mut out = Vec::new();
    for (s, e) in detect(&sig, rates, min_errors) {
        let bs = &cells[s..=e];
        if rates {
            if let Some(l) = (0..3).find(|&l| bs.iter().any(|c| c.requests[l] > 0)) {
                if bs.iter().map(|c| c.failed(Some(l))).sum::<u64>() < min_errors {
                    continue;
                }
            }
        }
        // a span's ends are buckets with data (hot ones): never a shortened gap
        let (Some(a), Some(b)) = (idx[s], idx[e]) else {
            continue;
        };
        out.push((a * w, (b + 1) * w));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(f: &mut Fine, t_s: i64, n: u32, e: u32) {
        let c = f.cell(t_s * 1_000_000);
        c.requests[1] += n;
        c.err5xx[1] += e;
    }

    #[test]
    fn merges_in_any_split_and_stays_bounded() {
        let mut whole = Fine::default();
        let mut a = Fine::default();
        let mut b = Fine::default();
        for t in (0..2_000_000i64).step_by(7) {
            fill(&mut whole, t, 1, (t % 3 == 0) as u32);
            if t < 900_000 {
                fill(&mut a, t, 1, (t % 3 == 0) as u32);
            } else {
                fill(&mut b, t, 1, (t % 3 == 0) as u32);
            }
        }
        assert!(whole.cells.len() < MAX_CELLS && whole.step > 0);
        b.merge(a); // in either order
        assert_eq!(b.step, whole.step);
        assert_eq!(b.cells, whole.cells);
    }

    #[test]
    fn an_incident_among_days_is_found_to_the_minute() {
        let mut f = Fine::default();
        let day = 86_400;
        let t0 = 1_795_000_000 - 1_795_000_000 % 60;
        let inc = t0 + day + 3_600; // 10 minutes
        for t in (t0..t0 + 3 * day).step_by(5) {
            let bad = t >= inc && t < inc + 600;
            fill(&mut f, t, 1, bad as u32);
        }
        let spans = incidents(&f, 1800, true, 5, crate::analysis::find_incidents).unwrap();
        assert_eq!(spans, vec![(inc * 1_000_000, (inc + 600) * 1_000_000)]);
        assert_eq!(
            incidents(&f, 60, true, 5, crate::analysis::find_incidents),
            None,
            "no finer than the display"
        );
    }
}
