//! Fixed 2-D sin-cos position embedding (methods.md §1.3), computed in f64 and stored in f32.
//!
//! The first half of the channels encodes the **column**: the official code builds its meshgrid
//! with w first and feeds that plane to the half it calls `emb_h`.

use super::error::{ModelError, ModelResult};
use super::params::ParamStore;

/// `[grid·grid, dim]` row-major table in f64; token `t = row·grid + col`.
/// `dim` must be a multiple of 4 (checked by the configs; other widths give an empty table).
pub fn sincos_2d_f64(dim: usize, grid: usize) -> Vec<f64> {
    if dim == 0 || !dim.is_multiple_of(4) {
        return Vec::new();
    }
    let quarter = dim / 4;
    // ω_k = 10000^(−k/(D/4)), exactly as numpy forms it: 1 / 10000^(k / (D/4)).
    let omega: Vec<f64> = (0..quarter)
        .map(|k| 1.0 / 10000f64.powf(k as f64 / quarter as f64))
        .collect();
    let mut out = vec![0f64; grid * grid * dim];
    for row in 0..grid {
        for col in 0..grid {
            let t = &mut out[(row * grid + col) * dim..][..dim];
            for (k, &w) in omega.iter().enumerate() {
                let (a, b) = (col as f64 * w, row as f64 * w);
                t[k] = a.sin();
                t[quarter + k] = a.cos();
                t[2 * quarter + k] = b.sin();
                t[3 * quarter + k] = b.cos();
            }
        }
    }
    out
}

/// [`sincos_2d_f64`] rounded to f32 (the stored `pos_embed` / `predictor_pos_embed`).
pub fn sincos_2d(dim: usize, grid: usize) -> Vec<f32> {
    sincos_2d_f64(dim, grid)
        .into_iter()
        .map(|v| v as f32)
        .collect()
}

/// Largest |stored − table| of a stored embedding against the f64 formula.
pub fn max_abs_diff(stored: &[f32], dim: usize, grid: usize) -> f64 {
    let want = sincos_2d_f64(dim, grid);
    if want.len() != stored.len() {
        return f64::INFINITY;
    }
    stored
        .iter()
        .zip(&want)
        .map(|(&s, &w)| (s as f64 - w).abs())
        .fold(0.0, f64::max)
}

/// Writes the sin-cos table into the fixed parameter `name` (`[1, grid², dim]`).
pub(crate) fn write_pos_embed(
    store: &ParamStore,
    name: &str,
    dim: usize,
    grid: usize,
) -> ModelResult<()> {
    let p = store.get(name).ok_or_else(|| ModelError::MissingParam {
        name: name.into(),
        origin: "the parameter store".into(),
    })?;
    let table = sincos_2d(dim, grid);
    let (off, n) = (p.offset(), p.numel());
    if table.len() != n {
        return Err(ModelError::Config(format!(
            "`{name}` holds {n} values, the {grid}x{grid} table at width {dim} has {}",
            table.len()
        )));
    }
    store.with_flat_mut(|f| f[off..off + n].copy_from_slice(&table))
}

/// Errors unless the fixed parameter `name` equals the sin-cos table to 1e-5.
pub(crate) fn check_pos_embed(
    store: &ParamStore,
    name: &str,
    dim: usize,
    grid: usize,
) -> ModelResult<()> {
    let max_diff = max_abs_diff(&store.to_vec(name)?, dim, grid);
    if max_diff < 1e-5 {
        Ok(())
    } else {
        Err(ModelError::PosEmbedMismatch {
            name: name.into(),
            max_diff,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_token_is_zeros_and_ones() {
        let t = sincos_2d(16, 3);
        let want: Vec<f32> = [0.0, 1.0, 0.0, 1.0]
            .iter()
            .flat_map(|&v| std::iter::repeat_n(v, 4))
            .collect();
        assert_eq!(&t[..16], &want[..]);
    }

    #[test]
    fn first_half_encodes_the_column() {
        let (d, g) = (8, 4);
        let t = sincos_2d_f64(d, g);
        // Token (row 0, col 2): column channels sin(2·ω), row channels still sin(0) = 0.
        let tok = &t[2 * d..3 * d];
        assert!((tok[0] - 2f64.sin()).abs() < 1e-15);
        assert!(
            (tok[1] - (2.0 * 0.01f64).sin()).abs() < 1e-15,
            "ω_1 = 10000^(-1/2)"
        );
        assert_eq!(&tok[4..6], &[0.0, 0.0]);
        // Token (row 3, col 0): the column half is the origin pattern.
        let tok = &t[3 * g * d..(3 * g + 1) * d];
        assert_eq!(&tok[..4], &[0.0, 0.0, 1.0, 1.0]);
        assert!((tok[6] - 3f64.cos()).abs() < 1e-15);
        assert!(max_abs_diff(&sincos_2d(d, g), d, g) < 1e-7);
        assert!(max_abs_diff(&sincos_2d(d, g), d, g + 1).is_infinite());
        assert!(sincos_2d(6, 2).is_empty(), "width not a multiple of 4");
    }
}
