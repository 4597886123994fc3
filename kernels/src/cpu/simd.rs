//! Runtime CPU feature detection shared by the fast kernels (AVX-512 chosen once, cached).

use std::sync::OnceLock;

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
