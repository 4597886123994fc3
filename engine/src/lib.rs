//! `jepa-engine`: tensors (shape, strides, dtype, device), views, ops and a tape autograd.
