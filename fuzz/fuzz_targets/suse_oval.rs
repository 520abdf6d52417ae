#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lucid::fuzzing::suse_oval(data));
