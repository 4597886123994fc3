//! Patchify: images `[B, C, H, W]` to patch rows `[B, (H/p)·(W/p), C·p·p]`, so the ViT patch
//! embedding (a stride = kernel conv) is `patchify` + `linear` with the conv weight reshaped
//! to `[D, C·p·p]`. Backward is the adjoint scatter (unpatchify).

use crate::autograd::record;
use crate::{Error, Result, Tensor};
use jepa_kernels::cpu::patchify::{patchify, unpatchify};

impl Tensor {
    /// Non-overlapping `p×p` patches in row-major grid order, each flattened as (c, py, px).
    pub fn patchify(&self, p: usize) -> Result<Tensor> {
        let op = "patchify";
        self.expect_float(op)?;
        self.shape().expect_rank(op, 4)?;
        let [b, c, h, w] = [0, 1, 2, 3].map(|i| self.dims()[i]);
        if p == 0 || h % p != 0 || w % p != 0 {
            let msg = format!("image {h}x{w} is not a whole number of {p}x{p} patches");
            return Err(Error::InvalidArgument {
                op,
                shape: self.shape().clone(),
                msg,
            });
        }
        if self.device().is_cuda() {
            let dims = [b, c, h, w, p];
            let out = crate::cuda::patchify(self, dims, true)?;
            return Ok(record(out, &[self], move |g, _| {
                Ok(vec![Some(crate::cuda::patchify(g, dims, false)?)])
            }));
        }
        let mut out = vec![0f32; self.elem_count()];
        if !out.is_empty() {
            patchify(b, c, h, w, p, &self.contiguous()?.f32_contig(op)?, &mut out);
        }
        let out = Tensor::from_f32(out, [b, (h / p) * (w / p), c * p * p], self.dtype());
        let (shape, dtype) = (self.shape().clone(), self.dtype());
        Ok(record(out, &[self], move |g, _| {
            let mut dimg = vec![0f32; shape.elem_count()];
            if !dimg.is_empty() {
                unpatchify(b, c, h, w, p, &g.f32_contig(op)?, &mut dimg);
            }
            Ok(vec![Some(Tensor::from_f32(dimg, shape, dtype))])
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::check::{check, rand};
    use crate::Error;

    #[test]
    fn patchify_layout_and_grad() {
        let (b, c, h, w, p) = (2, 2, 4, 6, 2);
        check(
            &[rand(&[b, c, h, w], 1)],
            |t| t[0].patchify(p),
            |v| {
                let mut out = Vec::new();
                for bi in 0..b {
                    for gy in 0..h / p {
                        for gx in 0..w / p {
                            for ci in 0..c {
                                for py in 0..p {
                                    for px in 0..p {
                                        out.push(
                                            v[0][((bi * c + ci) * h + gy * p + py) * w
                                                + gx * p
                                                + px],
                                        );
                                    }
                                }
                            }
                        }
                    }
                }
                out
            },
        );
        assert!(matches!(
            rand(&[1, 1, 5, 4], 2).patchify(2),
            Err(Error::InvalidArgument { .. })
        ));
    }
}
