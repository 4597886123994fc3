//! Fuzz target: JPEG/PNG decoder (models::data::decode_image) and the evaluation resize.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    jepa_cli::fuzzing::image(data);
});
