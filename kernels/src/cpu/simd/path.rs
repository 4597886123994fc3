//! Which SIMD implementation the fast kernels run: detected once per process from the CPU, or
//! forced with the `JEPA_SIMD` environment variable (`baseline`, `avx2`, `avx512`), so that one
//! machine can run (and benchmark) the code a weaker CPU would get.
//!
//! Only jepa's own kernels follow the path. The `gemm` crate behind large products detects the
//! CPU by itself and has no override, so its AVX2 / AVX-512 kernel runs whatever the path says.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// The environment variable that forces a path for the whole process.
pub const SIMD_ENV: &str = "JEPA_SIMD";

/// True when this CPU supports AVX-512F (checked once per process).
pub fn has_avx512f() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// True when this CPU supports AVX2 and FMA (checked once per process).
pub fn has_avx2_fma() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// Which SIMD implementation a kernel with several runs. Every fast kernel with more than one
/// offers a `*_with(path, ..)` variant so tests and benches can run each path the host
/// supports. A kernel without code for the asked path runs the next one down that it has
/// (AVX-512 → AVX2 → portable); asking for a path the CPU lacks gives the portable one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdPath {
    /// `wide::f32x8`, compiled for the build's target features: AVX2+FMA under the workspace's
    /// x86-64-v3 floor, SSE2 (or NEON) in a crate built without it. Named `baseline`.
    Portable,
    /// 256-bit `std::arch` AVX2+FMA code in `#[target_feature]` functions, where
    /// [`has_avx2_fma`] holds: fast without the rustflags floor.
    Avx2,
    /// 512-bit `std::arch` intrinsics, only where [`has_avx512f`] holds.
    Avx512,
}

/// `JEPA_SIMD` (or a string passed to `parse`) names no path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseSimdPathError(pub String);

impl fmt::Display for ParseSimdPathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown SIMD path `{}` (expected baseline, avx2 or avx512)",
            self.0
        )
    }
}

impl std::error::Error for ParseSimdPathError {}

impl FromStr for SimdPath {
    type Err = ParseSimdPathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "baseline" | "portable" => Ok(SimdPath::Portable),
            "avx2" => Ok(SimdPath::Avx2),
            "avx512" => Ok(SimdPath::Avx512),
            _ => Err(ParseSimdPathError(s.to_string())),
        }
    }
}

impl fmt::Display for SimdPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl SimdPath {
    /// The name `JEPA_SIMD` and the bench records use.
    pub fn name(self) -> &'static str {
        match self {
            SimdPath::Portable => "baseline",
            SimdPath::Avx2 => "avx2",
            SimdPath::Avx512 => "avx512",
        }
    }

    /// The fastest path this CPU supports.
    pub fn detected() -> Self {
        if has_avx512f() {
            SimdPath::Avx512
        } else if has_avx2_fma() {
            SimdPath::Avx2
        } else {
            SimdPath::Portable
        }
    }

    /// The path every kernel runs by default (decided once per process): `JEPA_SIMD` if it is
    /// set and this CPU supports it, else [`SimdPath::detected`]. A bad or unsupported value is
    /// reported once on stderr and ignored, so a typo cannot stop a run.
    pub fn best() -> Self {
        static BEST: OnceLock<SimdPath> = OnceLock::new();
        *BEST.get_or_init(|| match std::env::var(SIMD_ENV) {
            Err(_) => Self::detected(),
            Ok(v) => match Self::resolve(&v) {
                Ok(p) => p,
                Err(msg) => {
                    eprintln!("warning: {msg}");
                    Self::detected()
                }
            },
        })
    }

    /// What a `JEPA_SIMD` value selects on this CPU, or why it is ignored.
    pub fn resolve(value: &str) -> Result<Self, String> {
        let p: SimdPath = value
            .parse()
            .map_err(|e: ParseSimdPathError| format!("{SIMD_ENV}: {e}"))?;
        if p.is_supported() {
            Ok(p)
        } else {
            Err(format!(
                "{SIMD_ENV}={p}: this CPU lacks it, running {}",
                Self::detected()
            ))
        }
    }

    /// Whether this CPU can run `self`.
    pub fn is_supported(self) -> bool {
        match self {
            SimdPath::Portable => true,
            SimdPath::Avx2 => has_avx2_fma(),
            SimdPath::Avx512 => has_avx512f(),
        }
    }

    /// Every path this CPU can run, portable first.
    pub fn supported() -> Vec<SimdPath> {
        [SimdPath::Portable, SimdPath::Avx2, SimdPath::Avx512]
            .into_iter()
            .filter(|p| p.is_supported())
            .collect()
    }

    /// `self` if supported, else the portable path.
    pub fn or_portable(self) -> Self {
        if self.is_supported() {
            self
        } else {
            SimdPath::Portable
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_bad_values_are_typed_errors() {
        for p in [SimdPath::Portable, SimdPath::Avx2, SimdPath::Avx512] {
            assert_eq!(p.name().parse::<SimdPath>(), Ok(p));
            assert_eq!(p.to_string(), p.name());
        }
        assert_eq!(" AVX2 ".parse::<SimdPath>(), Ok(SimdPath::Avx2));
        assert_eq!("portable".parse::<SimdPath>(), Ok(SimdPath::Portable));
        let err = "sse9".parse::<SimdPath>().unwrap_err();
        assert_eq!(err, ParseSimdPathError("sse9".into()));
        assert!(err.to_string().contains("baseline, avx2 or avx512"));
    }

    #[test]
    fn resolve_accepts_what_the_cpu_runs_and_reports_the_rest() {
        assert_eq!(SimdPath::resolve("baseline"), Ok(SimdPath::Portable));
        assert!(SimdPath::resolve("fast").unwrap_err().contains(SIMD_ENV));
        for p in [SimdPath::Avx2, SimdPath::Avx512] {
            match SimdPath::resolve(p.name()) {
                Ok(got) => assert!(p.is_supported() && got == p),
                Err(msg) => assert!(!p.is_supported() && msg.contains("lacks"), "{msg}"),
            }
        }
        // The detected path is the fastest supported one, and supported() lists it last.
        assert_eq!(SimdPath::supported().last(), Some(&SimdPath::detected()));
        assert_eq!(SimdPath::supported()[0], SimdPath::Portable);
    }
}
