//! Deterministic stratified train/validation split (methods.md §7: hold-out for probe selection).

use super::DataError;
use crate::rng::Rng;

/// Purpose tag so the split never shares a random stream with training draws.
const SPLIT_STREAM: u64 = 0x7370_6c69; // "spli"

/// Splits sample indices into `(train, holdout)` with `holdout` samples drawn per class in
/// proportion to the class sizes (largest-remainder rounding, ties to the lower label), chosen
/// uniformly within each class from a stream seeded by `seed`. Both lists are sorted. The result
/// depends only on `(labels, holdout, seed)`.
pub fn stratified_split(
    labels: &[usize],
    holdout: usize,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>), DataError> {
    let n = labels.len();
    if holdout > n {
        return Err(DataError::InvalidConfig(format!(
            "hold-out of {holdout} from {n} samples"
        )));
    }
    let classes = labels.iter().max().map_or(0, |&m| m + 1);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, &l) in labels.iter().enumerate() {
        members[l].push(i);
    }
    // Quota of class c: floor(holdout * n_c / n), then the leftover units go to the largest
    // fractional parts. u128 keeps holdout * n_c exact for any realistic sizes.
    let mut quota: Vec<usize> = Vec::with_capacity(classes);
    let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(classes);
    for (c, m) in members.iter().enumerate() {
        let num = holdout as u128 * m.len() as u128;
        quota.push((num / n.max(1) as u128) as usize);
        remainders.push((num % n.max(1) as u128, c));
    }
    let leftover = holdout - quota.iter().sum::<usize>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, c) in remainders.iter().take(leftover) {
        quota[c] += 1;
    }
    let mut train = Vec::with_capacity(n - holdout);
    let mut held = Vec::with_capacity(holdout);
    for (c, m) in members.iter().enumerate() {
        let mut rng = Rng::from_seeds(&[seed, SPLIT_STREAM, c as u64]);
        let picked = rng.sorted_subset(m.len(), quota[c]);
        let mut is_held = vec![false; m.len()];
        picked.into_iter().for_each(|p| is_held[p] = true);
        for (&i, h) in m.iter().zip(is_held) {
            if h {
                held.push(i);
            } else {
                train.push(i);
            }
        }
    }
    train.sort_unstable();
    held.sort_unstable();
    Ok((train, held))
}
