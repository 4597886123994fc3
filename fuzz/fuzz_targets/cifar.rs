//! Fuzz target: CIFAR-10 binary reader (models::data::parse_cifar_bin).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    jepa_cli::fuzzing::cifar(data);
});
