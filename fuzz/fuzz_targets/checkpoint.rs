//! Fuzz target: safetensors checkpoint reader (models::checkpoint::Checkpoint::from_bytes) and its writer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    jepa_cli::fuzzing::checkpoint(data);
});
