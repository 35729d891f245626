//! Range checks for numeric configuration keys, with errors that name the key, the value and
//! what is allowed.

use std::fmt::Display;
use std::ops::RangeInclusive;

/// Fails unless `value` of `[section] key` is within `allowed`.
pub(crate) fn check<T: PartialOrd + Display>(
    section: &str,
    key: &str,
    value: T,
    allowed: RangeInclusive<T>,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        allowed.contains(&value),
        "[{section}] {key} = {value} is out of range: allowed {}..={}",
        allowed.start(),
        allowed.end()
    );
    Ok(())
}

/// The most transform workers `[server] workers` may ask for: 8 per core (more only adds
/// threads contending for the same cores, and each holds pixel buffers).
pub(crate) fn max_workers() -> usize {
    8 * std::thread::available_parallelism().map_or(1, |n| n.get())
}
