#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lucid::fuzzing::rpm_bdb(data));
