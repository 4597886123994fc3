//! Fuzz target: idx reader, plain and gzip (models::data::parse_idx).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    jepa_cli::fuzzing::idx(data);
});
