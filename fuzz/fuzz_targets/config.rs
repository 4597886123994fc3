//! Fuzz target: `jepa pretrain --config` TOML parser.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    jepa_cli::fuzzing::config(data);
});
