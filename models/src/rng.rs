//! The project's deterministic random number generator: xoshiro256** seeded through SplitMix64.
//!
//! Written in-crate (rather than taken from `rand`) so that its whole state is four `u64`s that a
//! checkpoint can store as plain integers, and so that its output stream can never change under a
//! dependency upgrade: masks and data order of a resumed run must replay bit for bit.

/// SplitMix64 finaliser: a bijective 64-bit mixer, used to spread seeds over the state.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// xoshiro256** generator. `Clone` gives an independent copy of the stream position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator seeded from one integer.
    pub fn new(seed: u64) -> Self {
        Self::from_seeds(&[seed])
    }

    /// A generator seeded from an ordered list of integers, e.g. `(run_seed, step)` or
    /// `(run_seed, epoch, sample)`. Different lists (including permutations) give unrelated
    /// streams, so per-purpose streams are derived by appending a purpose tag.
    pub fn from_seeds(words: &[u64]) -> Self {
        // Absorb each word through the non-linear mixer so that the order of words matters.
        let mut acc = GOLDEN ^ (words.len() as u64);
        for &w in words {
            acc = mix64(acc ^ mix64(w.wrapping_add(GOLDEN)));
        }
        let mut sm = acc;
        let mut s = [0u64; 4];
        for slot in &mut s {
            sm = sm.wrapping_add(GOLDEN);
            *slot = mix64(sm);
        }
        // SplitMix64 outputs are a bijection of distinct inputs, so at most one can be zero:
        // the all-zero state (a fixed point of xoshiro) is unreachable.
        Self { s }
    }

    /// The full generator state, for checkpoints.
    pub fn state(&self) -> [u64; 4] {
        self.s
    }

    /// Restores a state saved by [`Rng::state`]. `None` for the all-zero state, which xoshiro
    /// can never leave (it would output zeros forever).
    pub fn from_state(s: [u64; 4]) -> Option<Self> {
        if s == [0; 4] {
            None
        } else {
            Some(Self { s })
        }
    }

    /// Next 64 uniformly distributed bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 bits of resolution.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[0, 1)` on the 2^-24 lattice, the distribution of PyTorch's float32
    /// `torch.rand`; used where the official code's discreteness matters (mask block sizes).
    pub fn next_f32_lattice(&mut self) -> f64 {
        (self.next_u64() >> 40) as f64 * (1.0 / (1u64 << 24) as f64)
    }

    /// Uniform in `[lo, hi)`; returns `lo` when the range is empty.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + self.next_f64() * (hi - lo)
    }

    /// Uniform integer in `0..n` without modulo bias (Lemire's multiply-and-reject).
    /// Returns 0 for `n == 0` so that callers never panic on a degenerate range.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// Uniform index in `0..n` (`usize` convenience for [`Rng::below`]).
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// `true` with probability `p`.
    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// In-place Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.index(i + 1);
            xs.swap(i, j);
        }
    }

    /// `k` distinct indices from `0..n`, sorted ascending (partial Fisher–Yates, O(n)).
    /// Returns all of `0..n` when `k >= n`.
    pub fn sorted_subset(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        let k = k.min(n);
        for i in 0..k {
            let j = i + self.index(n - i);
            all.swap(i, j);
        }
        all.truncate(k);
        all.sort_unstable();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_give_distinct_reproducible_streams() {
        let a: Vec<u64> = (0..4).map(|_| Rng::new(1).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut x = Rng::from_seeds(&[1, 2]);
        let mut y = Rng::from_seeds(&[2, 1]);
        assert_ne!(x.next_u64(), y.next_u64());
        assert_ne!(
            Rng::from_seeds(&[0]).state(),
            Rng::from_seeds(&[0, 0]).state()
        );
    }

    #[test]
    fn state_round_trip_continues_stream() {
        let mut a = Rng::new(42);
        a.next_u64();
        let mut b = Rng::from_state(a.state()).unwrap();
        for _ in 0..10 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert!(Rng::from_state([0; 4]).is_none());
    }

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut r = Rng::new(7);
        let mut counts = [0usize; 7];
        for _ in 0..70_000 {
            counts[r.index(7)] += 1;
        }
        for c in counts {
            assert!((9_300..10_700).contains(&c), "count {c}");
        }
        assert_eq!(r.below(0), 0);
        assert_eq!(r.below(1), 0);
    }

    #[test]
    fn unit_floats_stay_in_half_open_interval() {
        let mut r = Rng::new(3);
        let mut sum = 0.0;
        for _ in 0..10_000 {
            let x = r.next_f64();
            let y = r.next_f32_lattice();
            assert!((0.0..1.0).contains(&x) && (0.0..1.0).contains(&y));
            assert_eq!(y * (1u64 << 24) as f64, (y * (1u64 << 24) as f64).floor());
            sum += x;
        }
        assert!((sum / 10_000.0 - 0.5).abs() < 0.02);
    }

    #[test]
    fn sorted_subset_is_sorted_distinct_and_sized() {
        let mut r = Rng::new(9);
        let s = r.sorted_subset(50, 17);
        assert_eq!(s.len(), 17);
        assert!(s.windows(2).all(|w| w[0] < w[1]) && s[16] < 50);
        assert_eq!(r.sorted_subset(3, 10), vec![0, 1, 2]);
    }
}
