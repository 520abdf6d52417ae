#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lucid::fuzzing::oracle_elsa(data));
