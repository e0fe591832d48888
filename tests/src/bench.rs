//! What the benchmarks (`src/bin/bench_*.rs`) share: their `--flag value` command lines and
//! the percentiles they print (what they read of processes is [`crate::procfs`]).

use anyhow::Context;

/// The command line's `--flag value` pairs, in order; a flag without its value is an error.
pub fn flags() -> anyhow::Result<Vec<(String, String)>> {
    let mut it = std::env::args().skip(1);
    let mut pairs = Vec::new();
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        pairs.push((flag, value));
    }
    Ok(pairs)
}

/// The `p` quantile (0.0–1.0) of ascending `sorted` samples, nearest rank; 0 when empty.
pub fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 51.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&v, 1.0), 100.0);
        assert_eq!(percentile::<f64>(&[], 0.99), 0.0);
        assert_eq!(percentile(&[10u32, 20, 30], 0.5), 20);
    }
}
