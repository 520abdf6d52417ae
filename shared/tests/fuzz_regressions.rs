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
