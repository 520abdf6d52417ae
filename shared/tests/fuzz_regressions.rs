//! Replays every input a fuzzer once crashed on (`tests/fuzz-regressions/<target>/<file>`) through the same
//! entry point the cargo-fuzz target calls (`lucid::fuzzing`). Each must now return normally.

use std::path::Path;

#[test]
fn every_saved_crashing_input_passes_its_entry_point() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut replayed = 0;
    for dir in std::fs::read_dir(&root).expect("tests/fuzz-regressions") {
        let dir = dir.expect("entry").path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let target = lucid::fuzzing::target(name)
            .unwrap_or_else(|| panic!("{}: no fuzz entry point named {name}", dir.display()));
        for file in std::fs::read_dir(&dir).expect("target dir") {
            let file = file.expect("entry").path();
            let input = std::fs::read(&file).expect("input");
            eprintln!("{name}: {}", file.display());
            target(&input);
            replayed += 1;
        }
    }
    eprintln!("{replayed} saved inputs replayed");
}

/// Every entry point has its cargo-fuzz target (`fuzz/fuzz_targets/<name>.rs`, listed in `fuzz/Cargo.toml`)
/// and every target calls an entry point, so a parser added to `lucid::fuzzing` is fuzzed by `bench/fuzz.sh`.
#[test]
fn every_entry_point_has_a_cargo_fuzz_target() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let mut files: Vec<String> = std::fs::read_dir(fuzz.join("fuzz_targets"))
        .expect("fuzz/fuzz_targets")
        .map(|e| e.expect("entry").path())
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .collect();
    files.sort();
    let mut names: Vec<String> = lucid::fuzzing::TARGETS
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect();
    names.sort();
    assert_eq!(files, names, "fuzz/fuzz_targets vs lucid::fuzzing::TARGETS");
    for name in &names {
        let source = std::fs::read_to_string(fuzz.join(format!("fuzz_targets/{name}.rs")))
            .expect("target source");
        assert!(
            source.contains(&format!("lucid::fuzzing::{name}(")),
            "{name}.rs must call lucid::fuzzing::{name}"
        );
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml lists no [[bin]] {name}"
        );
    }
}
