//! Fuzz target: .npy reader.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    jepa_cli::fuzzing::npy(data);
});
