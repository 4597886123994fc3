//! The official I-JEPA schedules (methods.md §1.7, §1.8): LR linear warmup + cosine, weight
//! decay cosine (increasing 0.04 → 0.4), EMA momentum linear ramp. Steps are iterations.

/// `WarmupCosineSchedule`: the value set on its `s`-th call (s counts from 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WarmupCosine {
    pub start_lr: f64,
    pub ref_lr: f64,
    pub final_lr: f64,
    pub warmup_steps: u64,
    /// `ipe_scale · epochs · ipe`.
    pub total_steps: u64,
}

impl WarmupCosine {
    pub fn at(&self, s: u64) -> f64 {
        let (s, w) = (s as f64, self.warmup_steps as f64);
        if s < w {
            return self.start_lr + (s / w.max(1.0)) * (self.ref_lr - self.start_lr);
        }
        let t_max = (self.total_steps as f64 - w).max(1.0);
        // Past the end the official cosine would climb again; runs never get there, and a run
        // extended beyond its schedule should stay at final_lr.
        let prog = ((s - w) / t_max).min(1.0);
        let v = self.final_lr
            + (self.ref_lr - self.final_lr) * 0.5 * (1.0 + (std::f64::consts::PI * prog).cos());
        v.max(self.final_lr)
    }
}

/// `CosineWDSchedule`: cosine from `ref_wd` to `final_wd`, clamped at `final_wd` on the far side.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CosineWd {
    pub ref_wd: f64,
    pub final_wd: f64,
    pub total_steps: u64,
}

impl CosineWd {
    pub fn at(&self, s: u64) -> f64 {
        // Clamped at the end for the same reason as the LR schedule.
        let prog = (s as f64 / (self.total_steps as f64).max(1.0)).min(1.0);
        let v = self.final_wd
            + (self.ref_wd - self.final_wd) * 0.5 * (1.0 + (std::f64::consts::PI * prog).cos());
        if self.final_wd <= self.ref_wd {
            v.max(self.final_wd)
        } else {
            v.min(self.final_wd)
        }
    }
}

/// EMA momentum `m_i = ema0 + i·(ema1 − ema0)/total`, i = 0, 1, … (one per optimizer step).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EmaSchedule {
    pub start: f64,
    pub end: f64,
    pub total_steps: u64,
}

impl EmaSchedule {
    pub fn at(&self, i: u64) -> f64 {
        // The official generator ends after total+1 values; later steps keep the last one.
        let i = i.min(self.total_steps) as f64;
        self.start + i * (self.end - self.start) / (self.total_steps as f64).max(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_values() {
        let lr = WarmupCosine {
            start_lr: 2e-4,
            ref_lr: 1e-3,
            final_lr: 1e-6,
            warmup_steps: 10,
            total_steps: 110,
        };
        assert!((lr.at(1) - (2e-4 + 0.1 * 8e-4)).abs() < 1e-15);
        assert!((lr.at(10) - 1e-3).abs() < 1e-15, "cosine starts at ref_lr");
        assert!((lr.at(60) - (1e-6 + (1e-3 - 1e-6) * 0.5)).abs() < 1e-12);
        assert!((lr.at(110) - 1e-6).abs() < 1e-15);
        assert_eq!(lr.at(500), 1e-6, "clamped at final_lr");
        let wd = CosineWd {
            ref_wd: 0.04,
            final_wd: 0.4,
            total_steps: 100,
        };
        assert!((wd.at(0) - 0.04).abs() < 1e-15);
        assert!((wd.at(50) - 0.22).abs() < 1e-12);
        assert!(wd.at(30) > wd.at(20), "increasing");
        assert_eq!(wd.at(150), 0.4, "clamped at final_wd");
        let ema = EmaSchedule {
            start: 0.996,
            end: 1.0,
            total_steps: 4,
        };
        assert_eq!(ema.at(0), 0.996);
        assert!((ema.at(2) - 0.998).abs() < 1e-15);
        assert_eq!(ema.at(9), 1.0);
    }
}
