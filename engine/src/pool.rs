//! Running compute on the thread pool instead of next to it.
//!
//! Every parallel kernel is a rayon job. Issued from a thread outside the pool (a program's main
//! thread), each one is injected into the pool and the caller sleeps on a condition variable
//! until a worker has finished it: two cross-thread wake-ups per op. On a 2-vCPU guest that
//! measured 35–50 µs per call (LayerNorm 4096×192: 210 µs median from `main`, 162 µs from a
//! worker; `kernels/examples/pool_handoff.rs`), and a ViT step issues thousands of such calls. From a worker, a parallel op splits
//! on the spot and the other workers steal the halves, with no hand-off to wait for.
//!
//! [`on_pool`] moves a whole piece of work onto a worker once, so only that one hop is paid.
//! `backward` and the models' forward entry points use it; programs that call many ops in a row
//! (a training loop, an embedding loop) should wrap the loop in it as well.

use crate::autograd::{grad_mode, is_grad_enabled};

/// Runs `f` on a worker of the current rayon pool (the global one from an outside thread) and
/// returns its result; on a worker already, it simply calls `f`. The caller's gradient mode goes
/// with `f`, set either way: recording is a per-thread flag, and a worker waiting inside another
/// caller's [`no_grad`](crate::no_grad) work may steal this job and would otherwise run it with
/// recording off. A panic in `f` is resumed on the caller.
pub fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        return f();
    }
    let grad = is_grad_enabled();
    rayon::scope(|_| {
        let _guard = grad_mode(grad);
        f()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_on_a_worker_and_returns_the_result() {
        assert!(
            rayon::current_thread_index().is_none(),
            "test threads are not workers"
        );
        let (idx, v) = on_pool(|| (rayon::current_thread_index(), 6 * 7));
        assert!(idx.is_some());
        assert_eq!(v, 42);
    }

    #[test]
    fn nested_calls_stay_on_the_same_worker() {
        let (outer, inner) = on_pool(|| {
            let outer = rayon::current_thread_index();
            (outer, on_pool(rayon::current_thread_index))
        });
        assert_eq!(outer, inner);
    }

    #[test]
    fn carries_the_callers_grad_mode_and_leaves_the_worker_as_it_was() {
        assert!(on_pool(is_grad_enabled));
        {
            let _g = crate::no_grad();
            // Twice: the first hop must not leave its worker with recording switched off.
            assert!(!on_pool(is_grad_enabled));
            assert!(!on_pool(is_grad_enabled));
        }
        for _ in 0..2 * rayon::current_num_threads() {
            assert!(on_pool(is_grad_enabled));
        }
    }

    #[test]
    fn a_job_stolen_by_a_worker_inside_no_grad_records_as_its_caller_does() {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let (parked, done) = (AtomicUsize::new(0), AtomicBool::new(false));
        let threads = rayon::current_num_threads();
        std::thread::scope(|s| {
            let caller = s.spawn(|| {
                // Once every worker is inside a `no_grad` region, one of them must steal this.
                while parked.load(Ordering::SeqCst) < threads {
                    std::thread::yield_now();
                }
                let enabled = on_pool(is_grad_enabled);
                done.store(true, Ordering::SeqCst);
                enabled
            });
            rayon::broadcast(|_| {
                let _g = crate::no_grad();
                parked.fetch_add(1, Ordering::SeqCst);
                while !done.load(Ordering::SeqCst) {
                    rayon::yield_now();
                }
                assert!(
                    !is_grad_enabled(),
                    "the stolen job left the worker's flag changed"
                );
            });
            assert!(
                caller.join().unwrap(),
                "the job ran with the worker's grad mode"
            );
        });
    }

    #[test]
    fn a_panic_reaches_the_caller() {
        let r = std::panic::catch_unwind(|| on_pool(|| panic!("boom")));
        assert!(r.is_err());
    }
}
