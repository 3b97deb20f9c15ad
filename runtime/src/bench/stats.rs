//! Statistics of rounds run side by side: the median round, medians, ratios.

use super::load::Measured;

/// The round with the median throughput: its figures belong together.
pub(super) fn median_run(runs: &[Measured]) -> Measured {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
    sorted[sorted.len() / 2]
}

pub(super) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// `a[i] / b[i]`: ratios of rounds run side by side.
pub(super) fn paired_ratios(a: &[Measured], b: &[Measured]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .map(|(a, b)| a.per_second / b.per_second)
        .collect()
}
