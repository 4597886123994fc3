//! SGEMM through Intel AMX (`tdpbf16ps`) for the reduced matmul precisions.
//!
//! Like PyTorch's `torch.set_float32_matmul_precision`, f32 products may run on bf16 hardware
//! when the user allows it (see [`super::MatmulPrecision`]):
//! - `Medium`: each operand rounded to bf16 (8 significant bits), products accumulated in f32;
//! - `High`: each operand split as `x ≈ hi + lo` with two bf16 (≈ 16 significant bits) and the
//!   product taken as `hi·hi + lo·hi + hi·lo`; only `lo·lo` (≈ 2⁻¹⁶ relative) is dropped.
//!
//! One AMX instruction multiplies a 16 × 32 bf16 tile by a 32 × 16 one into a 16 × 16 f32 tile
//! (8192 multiply-adds). The kernel keeps a 32 × 32 block of C in four tile registers and, per
//! 32-deep k step, loads two A tiles (row-major bf16) and two B tiles (the "VNNI" layout: k in
//! pairs, `[k/2][16 cols][2]`). `bf16_pack.rs` packs operands from any f32 strides into those
//! layouts, zero-padded to whole tiles, so the kernel never reads past them; `bf16.rs` blocks
//! and threads the product.
//!
//! Tile registers are per-thread state: each task loads the tile configuration and releases it
//! when done. Linux grants AMX state per process on request (`arch_prctl`), asked once.

use std::arch::asm;
use std::arch::x86_64::{__cpuid, __cpuid_count};
use std::sync::OnceLock;

/// Rows and columns of a C block (two tiles each way).
pub const BLOCK: usize = 32;
/// k per tile step (32 bf16 = one 64-byte tile row of A).
pub const KSTEP: usize = 32;
/// bf16 elements per packed B tile (16 k-pairs × 16 columns × 2).
pub const B_TILE: usize = 512;

/// Whether the CPU has AMX-BF16 with AVX-512F and the OS let this process use the tile state.
pub fn available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        // CPUID.(7,0):EDX bit 22 AMX-BF16, bit 24 AMX-TILE.
        let leaf7 = __cpuid(0).eax >= 7 && (__cpuid_count(7, 0).edx >> 22) & 0b101 == 0b101;
        leaf7 && crate::cpu::simd::has_avx512f() && request_tile_permission()
    })
}

#[cfg(target_os = "linux")]
fn request_tile_permission() -> bool {
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: a plain syscall with integer arguments; failure only returns an error code.
    unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        ) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn request_tile_permission() -> bool {
    false
}

/// The `ldtilecfg` operand: palette 1, all eight tiles 16 rows × 64 bytes.
#[repr(C, align(64))]
struct TileConfig {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    colsb: [u16; 16],
    rows: [u8; 16],
}

static CONFIG: TileConfig = TileConfig {
    palette: 1,
    start_row: 0,
    reserved: [0; 14],
    colsb: [64, 64, 64, 64, 64, 64, 64, 64, 0, 0, 0, 0, 0, 0, 0, 0],
    rows: [16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0],
};

/// Holds this thread's tile configuration for its lifetime.
pub struct Tiles(());

impl Tiles {
    /// # Safety
    /// [`available`] must have returned true.
    pub unsafe fn configure() -> Tiles {
        asm!("ldtilecfg [{}]", in(reg) &CONFIG as *const TileConfig, options(nostack, readonly));
        Tiles(())
    }
}

impl Drop for Tiles {
    fn drop(&mut self) {
        // SAFETY: a Tiles only exists after a successful ldtilecfg on this thread.
        unsafe { asm!("tilerelease", options(nostack, nomem)) };
    }
}

/// One 32 × 32 block: `C (+)= A·B` over `kc_pad` (a multiple of 32), where A is a packed
/// `[32][lda]` row-major bf16 block and B one packed panel. `three` adds the `lo` products.
///
/// # Safety
/// Tiles configured on this thread; `c` valid for 32 rows of 32 floats at `ldc` floats; the
/// packed slices cover `kc_pad`.
#[allow(clippy::too_many_arguments)]
#[inline]
pub unsafe fn block(
    kc_pad: usize,
    a_hi: *const u16,
    a_lo: *const u16,
    lda: usize,
    b_hi: *const u16,
    b_lo: *const u16,
    c: *mut f32,
    ldc: usize,
    load_c: bool,
    three: bool,
) {
    let sc = ldc * 4;
    let (c1, c2, c3) = (c.add(16), c.add(16 * ldc), c.add(16 * ldc + 16));
    if load_c {
        asm!(
            "tileloadd tmm0, [{c0} + {sc}*1]",
            "tileloadd tmm1, [{c1} + {sc}*1]",
            "tileloadd tmm2, [{c2} + {sc}*1]",
            "tileloadd tmm3, [{c3} + {sc}*1]",
            c0 = in(reg) c, c1 = in(reg) c1, c2 = in(reg) c2, c3 = in(reg) c3, sc = in(reg) sc,
            options(nostack, readonly),
        );
    } else {
        asm!(
            "tilezero tmm0",
            "tilezero tmm1",
            "tilezero tmm2",
            "tilezero tmm3",
            options(nostack, nomem)
        );
    }
    let sa = lda * 2;
    let sb = 64usize;
    for s in 0..kc_pad / KSTEP {
        let p = s * KSTEP;
        let (a0, a1) = (a_hi.add(p), a_hi.add(16 * lda + p));
        let (b0, b1) = (b_hi.add(s * 2 * B_TILE), b_hi.add(s * 2 * B_TILE + B_TILE));
        asm!(
            "tileloadd tmm4, [{a0} + {sa}*1]",
            "tileloadd tmm5, [{a1} + {sa}*1]",
            "tileloadd tmm6, [{b0} + {sb}*1]",
            "tileloadd tmm7, [{b1} + {sb}*1]",
            "tdpbf16ps tmm0, tmm4, tmm6",
            "tdpbf16ps tmm1, tmm4, tmm7",
            "tdpbf16ps tmm2, tmm5, tmm6",
            "tdpbf16ps tmm3, tmm5, tmm7",
            a0 = in(reg) a0, a1 = in(reg) a1, b0 = in(reg) b0, b1 = in(reg) b1,
            sa = in(reg) sa, sb = in(reg) sb,
            options(nostack, readonly),
        );
        if three {
            let (l0, l1) = (a_lo.add(p), a_lo.add(16 * lda + p));
            let (m0, m1) = (b_lo.add(s * 2 * B_TILE), b_lo.add(s * 2 * B_TILE + B_TILE));
            asm!(
                // lo(A)·hi(B) with B's hi tiles still loaded, then hi(A)·lo(B).
                "tileloadd tmm4, [{l0} + {sa}*1]",
                "tileloadd tmm5, [{l1} + {sa}*1]",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                "tileloadd tmm4, [{a0} + {sa}*1]",
                "tileloadd tmm5, [{a1} + {sa}*1]",
                "tileloadd tmm6, [{m0} + {sb}*1]",
                "tileloadd tmm7, [{m1} + {sb}*1]",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                l0 = in(reg) l0, l1 = in(reg) l1, a0 = in(reg) a0, a1 = in(reg) a1,
                m0 = in(reg) m0, m1 = in(reg) m1, sa = in(reg) sa, sb = in(reg) sb,
                options(nostack, readonly),
            );
        }
    }
    asm!(
        "tilestored [{c0} + {sc}*1], tmm0",
        "tilestored [{c1} + {sc}*1], tmm1",
        "tilestored [{c2} + {sc}*1], tmm2",
        "tilestored [{c3} + {sc}*1], tmm3",
        c0 = in(reg) c, c1 = in(reg) c1, c2 = in(reg) c2, c3 = in(reg) c3, sc = in(reg) sc,
        options(nostack),
    );
}
