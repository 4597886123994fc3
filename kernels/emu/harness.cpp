// harness.cpp — every UNMODIFIED kernel file compiled for the CPU through emu_cuda.hpp, behind one
// cuLaunchKernel-like entry point that the Rust emulation tests (kernels/tests/emu.rs) call:
//
//   int emu_launch(const char* name, EmuDims dims, void** args, int nargs)
//
// `args[i]` points at the i-th kernel parameter, exactly as for cuLaunchKernel; the table below
// maps names to thunks that unpack them with the kernel's own parameter types. Each .cu sits in
// its own anonymous namespace so same-named helpers in different files stay private.
#include "emu_cuda.hpp"

#include <type_traits>
#include <utility>

#include "../cuda/common.cuh"

namespace {
#include "../cuda/elementwise.cu"
}
namespace {
#include "../cuda/gelu.cu"
}
namespace {
#include "../cuda/layernorm.cu"
}
namespace {
#include "../cuda/softmax.cu"
}
namespace {
#include "../cuda/loss.cu"
}
namespace {
#include "../cuda/optim.cu"
}
namespace {
#include "../cuda/patchify.cu"
}
namespace {
#include "../cuda/gather.cu"
}
namespace {
#include "../cuda/vicreg.cu"
}
namespace {
#include "../cuda/attention.cu"
}
namespace {
#include "../cuda/copy.cu"
}
namespace {
#include "../cuda/unary.cu"
}

extern "C" {
struct EmuDims {
    unsigned gx, gy, gz, bx, by, bz, smem;
};
}

namespace {
template <class... P, size_t... I>
bool call(void (*k)(P...), const EmuDims& d, void** a, std::index_sequence<I...>) {
    return emu::launch(k, dim3(d.gx, d.gy, d.gz), dim3(d.bx, d.by, d.bz), d.smem,
                       *static_cast<std::remove_cv_t<P>*>(a[I])...);
}
template <class... P>
constexpr int arity(void (*)(P...)) { return (int)sizeof...(P); }

struct Entry {
    const char* name;
    bool (*fn)(const EmuDims&, void**);
    int nargs;
};
#define EMU_ENTRY(k) \
    { #k, [](const EmuDims& d, void** a) { return call(k, d, a, std::make_index_sequence<arity(k)>{}); }, arity(k) }

const Entry kEntries[] = {
    EMU_ENTRY(add_f32), EMU_ENTRY(add_bf16), EMU_ENTRY(mul_f32), EMU_ENTRY(mul_bf16),
    EMU_ENTRY(scale_f32), EMU_ENTRY(scale_bf16), EMU_ENTRY(axpy_f32), EMU_ENTRY(axpy_bf16),
    EMU_ENTRY(fill_f32), EMU_ENTRY(fill_bf16), EMU_ENTRY(cast_f32_to_bf16), EMU_ENTRY(cast_bf16_to_f32),
    EMU_ENTRY(gelu_fwd_f32), EMU_ENTRY(gelu_fwd_bf16), EMU_ENTRY(gelu_bwd_f32), EMU_ENTRY(gelu_bwd_bf16),
    EMU_ENTRY(layernorm_fwd_f32), EMU_ENTRY(layernorm_fwd_bf16), EMU_ENTRY(layernorm_bwd_dx_f32),
    EMU_ENTRY(layernorm_bwd_dx_bf16), EMU_ENTRY(layernorm_bwd_params_f32), EMU_ENTRY(layernorm_bwd_params_bf16),
    EMU_ENTRY(softmax_fwd_f32), EMU_ENTRY(softmax_fwd_bf16), EMU_ENTRY(softmax_bwd_f32), EMU_ENTRY(softmax_bwd_bf16),
    EMU_ENTRY(smooth_l1_partial_f32), EMU_ENTRY(smooth_l1_partial_bf16), EMU_ENTRY(smooth_l1_bwd_f32),
    EMU_ENTRY(smooth_l1_bwd_bf16), EMU_ENTRY(mse_partial_f32), EMU_ENTRY(mse_partial_bf16), EMU_ENTRY(mse_bwd_f32),
    EMU_ENTRY(mse_bwd_bf16), EMU_ENTRY(reduce_sum_scaled_f32),
    EMU_ENTRY(adamw_step_f32), EMU_ENTRY(ema_update_f32),
    EMU_ENTRY(patchify_f32), EMU_ENTRY(patchify_bf16), EMU_ENTRY(unpatchify_f32), EMU_ENTRY(unpatchify_bf16),
    EMU_ENTRY(gather_rows_f32), EMU_ENTRY(gather_rows_bf16), EMU_ENTRY(scatter_add_rows_f32),
    EMU_ENTRY(scatter_add_rows_bf16),
    EMU_ENTRY(vicreg_colstats_f32), EMU_ENTRY(vicreg_center_f32), EMU_ENTRY(vicreg_gram_f32),
    EMU_ENTRY(vicreg_finalize_f32), EMU_ENTRY(vicreg_cov_grad_f32),
    EMU_ENTRY(attention_fwd_d32_f32), EMU_ENTRY(attention_fwd_d64_f32), EMU_ENTRY(attention_fwd_d128_f32),
    EMU_ENTRY(attention_fwd_d32_bf16), EMU_ENTRY(attention_fwd_d64_bf16), EMU_ENTRY(attention_fwd_d128_bf16),
    EMU_ENTRY(attention_bwd_dkdv_d32_f32), EMU_ENTRY(attention_bwd_dkdv_d64_f32), EMU_ENTRY(attention_bwd_dkdv_d128_f32),
    EMU_ENTRY(attention_bwd_dkdv_d32_bf16), EMU_ENTRY(attention_bwd_dkdv_d64_bf16), EMU_ENTRY(attention_bwd_dkdv_d128_bf16),
    EMU_ENTRY(attention_bwd_dq_d32_f32), EMU_ENTRY(attention_bwd_dq_d64_f32), EMU_ENTRY(attention_bwd_dq_d128_f32),
    EMU_ENTRY(attention_bwd_dq_d32_bf16), EMU_ENTRY(attention_bwd_dq_d64_bf16), EMU_ENTRY(attention_bwd_dq_d128_bf16),
    EMU_ENTRY(attention_bwd_delta_f32), EMU_ENTRY(attention_bwd_delta_bf16),
    EMU_ENTRY(strided_copy_f32), EMU_ENTRY(strided_copy_bf16), EMU_ENTRY(strided_copy_i64),
    EMU_ENTRY(binary_strided_f32), EMU_ENTRY(binary_strided_bf16),
    EMU_ENTRY(reduce_rows_f32), EMU_ENTRY(reduce_rows_bf16), EMU_ENTRY(reduce_cols_f32), EMU_ENTRY(reduce_cols_bf16),
    EMU_ENTRY(unary_fwd_f32), EMU_ENTRY(unary_fwd_bf16), EMU_ENTRY(unary_bwd_f32), EMU_ENTRY(unary_bwd_bf16),
};

thread_local std::string g_error;
}  // namespace

extern "C" {
// Returns 0 on success; otherwise emu_error() says why (unknown name, argument count, or the
// emulator's fault report: divergent barrier, bad shuffle, deadlock, watchdog).
int emu_launch(const char* name, EmuDims dims, void** args, int nargs) {
    for (const Entry& e : kEntries) {
        if (std::strcmp(e.name, name) != 0) continue;
        if (e.nargs != nargs) {
            g_error = std::string(name) + ": expected " + std::to_string(e.nargs) + " arguments, got " +
                      std::to_string(nargs);
            return 2;
        }
        if (e.fn(dims, args)) return 0;
        g_error = std::string(name) + ": " + emu::last_error();
        return 1;
    }
    g_error = std::string("unknown kernel ") + name;
    return 3;
}
const char* emu_error() { return g_error.c_str(); }
void emu_set_fibers(int on) { emu::set_fibers(on != 0); }
int emu_kernel_count() { return (int)(sizeof(kEntries) / sizeof(kEntries[0])); }
const char* emu_kernel_name(int i) {
    return i >= 0 && i < emu_kernel_count() ? kEntries[i].name : nullptr;
}
}
