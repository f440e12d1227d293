//! Helpers shared by the benchmark examples: medians, percentiles and ratios.

/// The median of `samples` (sorted in place); `None` when empty.
///
/// ```
/// let mut v = vec![3.0, 1.0, 2.0];
/// assert_eq!(linux_primitives::bench::median(&mut v), Some(2.0));
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
