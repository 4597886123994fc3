// optim.cu — parameter updates over flat f32 buffers: AdamW step and the EMA of the target encoder.
//
//   adamw (PyTorch semantics, decoupled weight decay applied before the Adam update):
//     p ← p − lr·wd·p;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//     p ← p − lr · (m / bc1) / (sqrt(v / bc2) + eps),  bc1 = 1 − β1^t, bc2 = 1 − β2^t
//   ema: target ← momentum·target + (1 − momentum)·online
//
// Layout: all buffers contiguous `[n]` f32 (master weights and optimizer state stay f32).
// Launch: grid-stride, 256 threads per block. bc1/bc2 are computed on the host in f64 once per
// step, so the kernel does not evaluate powf per element.
// Versions:
//   v1 (production): one element per thread; the engine runs it over its single flat parameter
//      allocation, so one launch updates the whole model.

#define OPT_LOOP(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)gridDim.x * blockDim.x)

extern "C" __global__ void adamw_step_f32(long long n, float lr, float beta1, float beta2, float eps,
                                          float weight_decay, float bc1, float bc2, float* param,
                                          const float* grad, float* m, float* v) {
    OPT_LOOP(i, n) {
        float g = grad[i];
        float p = param[i] * (1.0f - lr * weight_decay);
        float mi = beta1 * m[i] + (1.0f - beta1) * g;
        float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = p - lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
    }
}

extern "C" __global__ void ema_update_f32(long long n, float momentum, float* target, const float* online) {
    OPT_LOOP(i, n) target[i] = momentum * target[i] + (1.0f - momentum) * online[i];
}
