//! The `benchmarks` package: the side-by-side benchmarks of the library crates against the
//! tools they replace (`benchmarks/examples/alloc_bench/`, `http_parser_bench.rs`) and
//! alloc-core as an `LD_PRELOAD` malloc (`malloc_shim.rs`). It is a workspace member
//! of its own so that the comparison peers (jemalloc, mimalloc, picohttpparser, httparse) are
//! built only for the benchmarks, never for `httpd` or `container`.
//!
//! This library holds the statistics the benchmark binaries share.

/// The median of `samples` (sorted in place); `None` when empty.
///
/// ```
/// let mut v = vec![3.0, 1.0, 2.0];
/// assert_eq!(benchmarks::median(&mut v), Some(2.0));
/// ```
pub fn median(samples: &mut [f64]) -> Option<f64> {
    percentile(samples, 50.0)
}

/// The `p`-th percentile (nearest rank) of `samples`, sorted in place; `None` when empty.
pub fn percentile(samples: &mut [f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    Some(samples[rank.clamp(1, samples.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&mut v, 95.0), Some(95.0));
        assert_eq!(percentile(&mut v, 50.0), Some(50.0));
        assert_eq!(median(&mut []), None);
        let mut even = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(median(&mut even), Some(2.0));
    }
}
