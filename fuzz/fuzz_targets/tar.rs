//! Fuzz target: tar reader (models::data::parse_tar) and ImageFolder-in-archive.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    jepa_cli::fuzzing::tar(data);
});
