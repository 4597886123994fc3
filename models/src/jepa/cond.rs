//! EC-IJEPA conditioning inputs (methods.md §3.2, §3.2b, §3.3): the context encoder is
//! conditioned on the target windows, the target encoder on the context window.

use super::config::Conditioning;
use crate::vit::{Init, ModelError, ModelResult, ParamSpec, VisionTransformer};
use jepa_engine::{DType, Device, RowIndex, Tensor};

/// Which samples keep their conditioning this step (conditioning dropout, §3.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CondKeep {
    /// Conditioning off: the plain I-JEPA graph.
    Off,
    /// Every sample conditioned.
    All,
    /// Per-sample flags (additive mode only: token modes would need attention key masks).
    PerSample(Vec<bool>),
}

/// What the encoder receives (see `EncoderInputs`).
#[derive(Clone, Debug)]
pub(crate) enum CondInput {
    Tokens(Tensor),
    Additive(Tensor),
}

/// Extra encoder parameters a conditioning mode needs (names under `cond_*`).
pub fn cond_specs(mode: Conditioning, dim: usize) -> Vec<ParamSpec> {
    match mode {
        Conditioning::None | Conditioning::BlockMean => Vec::new(),
        // e_cond is the bias of the projection: 1-D, so never weight-decayed (§3.2b).
        Conditioning::PerPosition => vec![
            ParamSpec::new("cond_embed.weight", &[dim, dim], Init::Identity),
            ParamSpec::new("cond_embed.bias", &[dim], Init::Zeros),
        ],
        Conditioning::Additive => vec![
            ParamSpec::new("cond_mlp.fc1.weight", &[dim, dim], Init::TruncNormal(0.02)),
            ParamSpec::new("cond_mlp.fc1.bias", &[dim], Init::Zeros),
            ParamSpec::new("cond_mlp.fc2.weight", &[dim, dim], Init::Zeros),
            ParamSpec::new("cond_mlp.fc2.bias", &[dim], Init::Zeros),
        ],
    }
}

/// The conditioning input of `enc` for `windows` (each `[B, K]`), tiled `repeat` times along
/// the batch (one copy per context mask, block-major). `None` when nothing is conditioned.
pub(crate) fn build(
    enc: &VisionTransformer,
    mode: Conditioning,
    windows: &[RowIndex],
    repeat: usize,
    keep: &CondKeep,
) -> ModelResult<Option<CondInput>> {
    if mode == Conditioning::None || *keep == CondKeep::Off || windows.is_empty() {
        return Ok(None);
    }
    let b = windows[0].dims().0;
    let (n, d) = (enc.config().num_patches(), enc.config().dim);
    crate::vit::index::validate(windows, b, n, "conditioning windows")?;
    let flags = match keep {
        CondKeep::PerSample(f) if f.len() != b => {
            return Err(ModelError::Input(format!(
                "{} conditioning flags for a batch of {b}",
                f.len()
            )))
        }
        CondKeep::PerSample(f) => Some(f.as_slice()),
        _ => None,
    };
    if flags.is_some_and(|f| f.iter().any(|k| !k)) && mode != Conditioning::Additive {
        return Err(ModelError::Config(
            "per-sample conditioning dropout needs attention key masks in token modes; drop \
             per batch (CondKeep::Off / All)"
                .into(),
        ));
    }
    let tile = |t: Tensor| -> ModelResult<Tensor> {
        Ok(if repeat == 1 {
            t
        } else {
            Tensor::cat(&vec![&t; repeat], 0)?
        })
    };
    let st = enc.store();
    Ok(Some(match mode {
        Conditioning::BlockMean => {
            // Token (s, w) = mean pe over window w of sample s.
            let sets: Vec<Vec<Vec<usize>>> = (0..b)
                .map(|s| windows.iter().map(|w| rows(w, b)[s].to_vec()).collect())
                .collect();
            CondInput::Tokens(tile(mean_pe(enc, &sets, d)?)?)
        }
        Conditioning::PerPosition => {
            let k = windows[0].dims().1;
            let idx: Vec<usize> = (0..b)
                .flat_map(|s| {
                    windows
                        .iter()
                        .flat_map(move |w| rows(w, b)[s].iter().copied())
                })
                .collect();
            let pos =
                enc.pos_embed()
                    .gather_rows_idx(&RowIndex::new(b, windows.len() * k, idx)?)?;
            let w = st.value("cond_embed.weight")?;
            let e = st.value("cond_embed.bias")?;
            CondInput::Tokens(tile(pos.linear(&w, Some(&e))?)?)
        }
        Conditioning::Additive => {
            // One set per sample: the union of its windows (mean over all their positions).
            let sets: Vec<Vec<Vec<usize>>> = (0..b)
                .map(|s| {
                    vec![windows
                        .iter()
                        .flat_map(|w| rows(w, b)[s].to_vec())
                        .collect()]
                })
                .collect();
            let g = mean_pe(enc, &sets, d)?;
            let h = g
                .linear(
                    &st.value("cond_mlp.fc1.weight")?,
                    Some(&st.value("cond_mlp.fc1.bias")?),
                )?
                .gelu()?;
            let mut g = h.linear(
                &st.value("cond_mlp.fc2.weight")?,
                Some(&st.value("cond_mlp.fc2.bias")?),
            )?;
            if let Some(f) = flags {
                let m: Vec<f32> = f.iter().map(|&k| if k { 1.0 } else { 0.0 }).collect();
                g = g.mul(&Tensor::from_vec(m, [b, 1, 1], Device::Cpu)?)?;
            }
            CondInput::Additive(tile(g)?)
        }
        Conditioning::None => return Ok(None),
    }))
}

/// Every patch of the grid for each of `b` samples (evaluation policy (b)).
pub(crate) fn all_positions(b: usize, n: usize) -> ModelResult<RowIndex> {
    Ok(RowIndex::new(b, n, (0..b).flat_map(|_| 0..n).collect())?)
}

fn rows(w: &RowIndex, b: usize) -> Vec<&[usize]> {
    let k = w.dims().1;
    (0..b).map(|s| &w.as_slice()[s * k..(s + 1) * k]).collect()
}

/// `[S, T, D]`: token (s, t) = mean of the fixed pos embed over the patches `sets[s][t]`,
/// accumulated in f64 (the golden cases form it in float64 from the f32 table).
fn mean_pe(enc: &VisionTransformer, sets: &[Vec<Vec<usize>>], d: usize) -> ModelResult<Tensor> {
    let pe = enc.pos_embed().to_vec_f32()?;
    let t = sets.first().map_or(0, Vec::len);
    let mut out = Vec::with_capacity(sets.len() * t * d);
    for s in sets {
        for win in s {
            let mut acc = vec![0f64; d];
            for &p in win.iter() {
                acc.iter_mut()
                    .zip(&pe[p * d..(p + 1) * d])
                    .for_each(|(a, &v)| *a += v as f64);
            }
            let k = win.len().max(1) as f64;
            out.extend(acc.into_iter().map(|a| (a / k) as f32));
        }
    }
    let t = Tensor::from_vec(out, [sets.len(), t, d], Device::Cpu)?;
    debug_assert_eq!(t.dtype(), DType::F32);
    Ok(t)
}
