#include "driver.hpp"
#include "../../cuda/attention.cu"

// n = 20: two 16-row query blocks, and a key tile of 32 that is only partly filled.
static const int n = 20;

static void f32_d32() {
    const int d = 32, len = n * d;
    auto q = drv::data(len, 1), k = drv::data(len, 2), v = drv::data(len, 3), dout = drv::data(len, 4);
    std::vector<float> out(len), dq(len), dk(len), dv(len), lse(n), delta(n);
    LAUNCH(attention_fwd_d32_f32, dim3(2), dim3(128), n, 0.2f, q.data(), k.data(), v.data(), out.data(), lse.data());
    LAUNCH(attention_bwd_delta_f32, dim3(5), dim3(128), (long long)n, d, out.data(), dout.data(), delta.data());
    LAUNCH(attention_bwd_dkdv_d32_f32, dim3(2), dim3(128), n, 0.2f, q.data(), k.data(), v.data(), lse.data(), delta.data(),
           dout.data(), dk.data(), dv.data());
    LAUNCH(attention_bwd_dq_d32_f32, dim3(2), dim3(128), n, 0.2f, q.data(), k.data(), v.data(), lse.data(), delta.data(),
           dout.data(), dq.data());
    drv::require_finite("attention out", out);
    drv::require_finite("attention lse", lse);
    drv::require_finite("attention dq", dq);
    drv::require_finite("attention dk", dk);
    drv::require_finite("attention dv", dv);
}

static void bf16_d64() {
    const int d = 64, len = n * d;
    auto q = drv::bf16(drv::data(len, 5)), k = drv::bf16(drv::data(len, 6)), v = drv::bf16(drv::data(len, 7));
    auto dout = drv::bf16(drv::data(len, 8));
    std::vector<unsigned short> out(len), dq(len), dk(len), dv(len);
    std::vector<float> lse(n), delta(n);
    LAUNCH(attention_fwd_d64_bf16, dim3(2), dim3(128), n, 0.125f, q.data(), k.data(), v.data(), out.data(), lse.data());
    LAUNCH(attention_bwd_delta_bf16, dim3(5), dim3(128), (long long)n, d, out.data(), dout.data(), delta.data());
    LAUNCH(attention_bwd_dkdv_d64_bf16, dim3(2), dim3(128), n, 0.125f, q.data(), k.data(), v.data(), lse.data(), delta.data(),
           dout.data(), dk.data(), dv.data());
    LAUNCH(attention_bwd_dq_d64_bf16, dim3(2), dim3(128), n, 0.125f, q.data(), k.data(), v.data(), lse.data(), delta.data(),
           dout.data(), dq.data());
    drv::require_finite("attention bf16 lse", lse);
}

static void f32_d128() {
    const int m = 9, d = 128, len = m * d;  // one block each; 8-key / 8-row blocks for D = 128
    auto q = drv::data(len, 9), k = drv::data(len, 10), v = drv::data(len, 11), dout = drv::data(len, 12);
    std::vector<float> out(len), dq(len), dk(len), dv(len), lse(m), delta(m);
    LAUNCH(attention_fwd_d128_f32, dim3(1), dim3(128), m, 0.09f, q.data(), k.data(), v.data(), out.data(), lse.data());
    LAUNCH(attention_bwd_delta_f32, dim3(3), dim3(128), (long long)m, d, out.data(), dout.data(), delta.data());
    LAUNCH(attention_bwd_dkdv_d128_f32, dim3(2), dim3(128), m, 0.09f, q.data(), k.data(), v.data(), lse.data(), delta.data(),
           dout.data(), dk.data(), dv.data());
    LAUNCH(attention_bwd_dq_d128_f32, dim3(2), dim3(128), m, 0.09f, q.data(), k.data(), v.data(), lse.data(), delta.data(),
           dout.data(), dq.data());
    drv::require_finite("attention d128 dq", dq);
}

int main() {
    f32_d32();
    bf16_d64();
    f32_d128();
    return 0;
}
