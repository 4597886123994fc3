//! Reusable f32 buffers for the fused block's saved activations and backward scratch.
//!
//! A training step saves ~10 activation buffers per block and frees them when the backward has
//! used them; the next step asks for the same sizes again. Taking them from this pool instead of
//! the allocator keeps their pages mapped and warm (a fresh multi-megabyte allocation is a
//! fresh mmap, zero-filled page by page on first touch), which is what the earlier hand-written
//! training path got from its grow-only buffers. Contents of a taken buffer are unspecified.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

/// Free buffers, any order. Bounded: see [`take`].
static POOL: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

/// At most this many buffers wait in the pool (a ViT-B step saves ~12 × 24 blocks).
const MAX_POOLED: usize = 1024;

/// A pooled buffer of `len` floats; goes back to the pool when dropped.
#[derive(Debug, Default)]
pub(crate) struct Buf {
    v: Vec<f32>,
    len: usize,
}

/// A buffer of at least `n` floats: the smallest pooled one that fits, else a new one with 1/8
/// headroom (mask sizes vary a little from batch to batch). When a new one is made, the largest
/// pooled buffer that is too small is freed, so the pool tracks the working set instead of
/// growing with every size it has seen.
pub(crate) fn take(n: usize) -> Buf {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let fit = pool
        .iter()
        .enumerate()
        .filter(|(_, v)| v.len() >= n)
        .min_by_key(|(_, v)| v.len())
        .map(|(i, _)| i);
    if let Some(i) = fit {
        return Buf {
            v: pool.swap_remove(i),
            len: n,
        };
    }
    let small = pool
        .iter()
        .enumerate()
        .max_by_key(|(_, v)| v.len())
        .map(|(i, _)| i);
    if let Some(i) = small {
        drop(pool.swap_remove(i));
    }
    drop(pool);
    Buf {
        v: vec![0.0; n + n / 8],
        len: n,
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        if self.v.is_empty() {
            return;
        }
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < MAX_POOLED {
            pool.push(std::mem::take(&mut self.v));
        }
    }
}

impl Deref for Buf {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.v[..self.len]
    }
}

impl DerefMut for Buf {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.v[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_and_sized() {
        let a = take(1000);
        assert_eq!(a.len(), 1000);
        let ptr = a.as_ptr();
        drop(a);
        // Another test may race for the pool; only check reuse when nobody did.
        let b = take(900);
        assert_eq!(b.len(), 900);
        if b.as_ptr() == ptr {
            assert!(b.v.len() >= 1000);
        }
    }
}
