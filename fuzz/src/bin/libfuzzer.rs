//! The coverage-guided driver: libFuzzer over the target named by
//! `PROMPTLAB_FUZZ_TARGET`. Built and run by `scripts/fuzz`, which adds the
//! coverage instrumentation libFuzzer needs.
#![no_main]
// The libFuzzer entry point the macro writes is an `extern "C"` function.
#![allow(unsafe_code)]

use std::sync::OnceLock;

static TARGET: OnceLock<promptlab_fuzz::Target> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let target = TARGET.get_or_init(|| {
        let name = std::env::var("PROMPTLAB_FUZZ_TARGET").unwrap_or_default();
        promptlab_fuzz::target(&name).unwrap_or_else(|| {
            let names: Vec<&str> = promptlab_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
            eprintln!("set PROMPTLAB_FUZZ_TARGET to one of {}", names.join(", "));
            std::process::exit(2)
        })
    });
    target(data);
});
