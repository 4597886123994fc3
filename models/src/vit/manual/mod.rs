//! Manual (tape-free) training forward and backward of the context encoder and the predictor,
//! llm.c style: activations in reusable buffers, gradients summed into flat buffers laid out
//! like the parameter stores, every product a kernels GEMM. The engine-tape path computes the
//! same gradients and serves every configuration this path does not cover.

pub(crate) mod block;
pub(crate) mod encoder;
pub(crate) mod predictor;
