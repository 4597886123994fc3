//! CUDA-side helpers for `benches/cuda_kernels`: device attributes for the roofline, device
//! buffers of deterministic data, and a timer that measures each repetition with a pair of CUDA
//! events after flushing L2 (cuda.md §9). Nothing here runs without a GPU: callers reach it only
//! through a successful [`jepa_kernels::cuda::probe`].

use std::sync::Arc;
use std::time::Duration;

use cudarc::driver::sys::{CUdevice_attribute as Attr, CUevent_flags};
use cudarc::driver::{CudaEvent, DriverError};
use jepa_kernels::cuda::{CudaError, CudaRuntime, CudaSlice, DeviceRepr, ValidAsZeroBits};

use crate::random_vec;
use crate::roofline::DeviceAttrs;

fn drv(what: &'static str) -> impl Fn(DriverError) -> CudaError {
    move |source| CudaError::Driver {
        kernel: what.to_string(),
        source,
    }
}

/// The driver's attributes, 0 where one is unavailable (the roofline then uses its datasheet
/// table; CUDA 13 deprecates the clock attributes, so that can happen on new drivers).
pub fn device_attrs(rt: &CudaRuntime) -> DeviceAttrs {
    let ctx = rt.context();
    let get = |a: Attr| ctx.attribute(a).unwrap_or(0);
    DeviceAttrs {
        name: rt.device_name().to_string(),
        cc: rt.arch(),
        sm_count: get(Attr::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
        clock_khz: get(Attr::CU_DEVICE_ATTRIBUTE_CLOCK_RATE),
        mem_clock_khz: get(Attr::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE),
        bus_width_bits: get(Attr::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH),
        l2_bytes: get(Attr::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE),
    }
}

/// Element types the benches upload: f32, and bf16 as its `u16` bits (as the kernels take it).
pub trait BenchElem: jepa_kernels::cuda::Elem + ValidAsZeroBits + Default {
    const BYTES: u64;
    fn from_f32(v: f32) -> Self;
}
impl BenchElem for f32 {
    const BYTES: u64 = 4;
    fn from_f32(v: f32) -> Self {
        v
    }
}
impl BenchElem for u16 {
    const BYTES: u64 = 2;
    fn from_f32(v: f32) -> Self {
        half::bf16::from_f32(v).to_bits()
    }
}

/// `len` deterministic values in [-1, 1) on the device.
pub fn upload<T: BenchElem>(
    rt: &CudaRuntime,
    len: usize,
    seed: u64,
) -> Result<CudaSlice<T>, CudaError> {
    let host: Vec<T> = random_vec(len, seed).into_iter().map(T::from_f32).collect();
    rt.stream().clone_htod(&host).map_err(drv("upload"))
}

/// A host slice on the device (indices, small parameter vectors).
pub fn upload_slice<T: DeviceRepr>(
    rt: &CudaRuntime,
    host: &[T],
) -> Result<CudaSlice<T>, CudaError> {
    rt.stream().clone_htod(host).map_err(drv("upload"))
}

pub fn zeros<T: DeviceRepr + ValidAsZeroBits>(
    rt: &CudaRuntime,
    len: usize,
) -> Result<CudaSlice<T>, CudaError> {
    rt.stream().alloc_zeros(len.max(1)).map_err(drv("alloc"))
}

/// Event pairs recorded before a host round trip: enough that the GPU never idles waiting for
/// the host to read timings, few enough to keep event creation out of the way.
const POOL: usize = 64;

/// Times repetitions of an operation on the runtime's stream with CUDA events.
pub struct EventTimer {
    rt: Arc<CudaRuntime>,
    starts: Vec<CudaEvent>,
    stops: Vec<CudaEvent>,
    flush: CudaSlice<u8>,
    samples_ms: Vec<f32>,
}

impl EventTimer {
    /// `l2_bytes` sizes the flush buffer; twice L2, because L2 replacement is not strict LRU
    /// and a buffer of exactly its size can leave the previous repetition's lines resident.
    pub fn new(rt: Arc<CudaRuntime>, l2_bytes: usize) -> Result<Self, CudaError> {
        let flush = zeros::<u8>(&rt, (2 * l2_bytes).max(8 << 20))?;
        let ctx = rt.context().clone();
        // Timing must be enabled explicitly: cudarc's default flag disables it (cuda.md §7).
        let event = || {
            ctx.new_event(Some(CUevent_flags::CU_EVENT_DEFAULT))
                .map_err(drv("event"))
        };
        let starts = (0..POOL).map(|_| event()).collect::<Result<Vec<_>, _>>()?;
        let stops = (0..POOL).map(|_| event()).collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            rt,
            starts,
            stops,
            flush,
            samples_ms: Vec::new(),
        })
    }

    /// Runs `op` `iters` times, each after an L2 flush, and returns the summed GPU time between
    /// each repetition's start and stop events (the flush and host gaps are outside them).
    pub fn time(
        &mut self,
        iters: u64,
        op: &mut dyn FnMut() -> Result<(), CudaError>,
    ) -> Result<Duration, CudaError> {
        let stream = self.rt.stream().clone();
        let mut total_ms = 0f64;
        let mut left = iters;
        while left > 0 {
            let n = left.min(POOL as u64) as usize;
            for i in 0..n {
                stream
                    .memset_zeros(&mut self.flush)
                    .map_err(drv("l2 flush"))?;
                self.starts[i].record(&stream).map_err(drv("event"))?;
                op()?;
                self.stops[i].record(&stream).map_err(drv("event"))?;
            }
            for i in 0..n {
                let ms = self.starts[i]
                    .elapsed_ms(&self.stops[i])
                    .map_err(drv("event"))?;
                total_ms += f64::from(ms);
                self.samples_ms.push(ms);
            }
            left -= n as u64;
        }
        Ok(Duration::from_secs_f64(total_ms / 1e3))
    }

    /// The per-repetition times (ms) recorded since the last call.
    pub fn take_samples(&mut self) -> Vec<f32> {
        std::mem::take(&mut self.samples_ms)
    }
}

/// Median of the samples in seconds; `None` when empty.
pub fn median_secs(ms: &mut [f32]) -> Option<f64> {
    if ms.is_empty() {
        return None;
    }
    ms.sort_by(f32::total_cmp);
    Some(f64::from(ms[ms.len() / 2]) / 1e3)
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_is_the_middle_sample_in_seconds() {
        assert_eq!(super::median_secs(&mut []), None);
        let mut v = [3.0, 1.0, 2.0];
        assert_eq!(super::median_secs(&mut v), Some(0.002));
        let mut v = [5.0, 1.0];
        assert_eq!(super::median_secs(&mut v), Some(0.005));
    }
}
