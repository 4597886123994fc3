//! The `jepa` binary; everything lives in the `jepa_cli` library.

use jepa_kernels::cpu::alloc::AlignedAlloc;

/// Large blocks (tensors) on 64-byte boundaries, as PyTorch allocates them: see
/// `jepa_kernels::cpu::alloc` for what a 16-byte offset costs every vector load and store.
#[global_allocator]
static ALLOC: AlignedAlloc = AlignedAlloc;

fn main() {
    std::process::exit(jepa_cli::main_with_args(std::env::args_os()));
}
