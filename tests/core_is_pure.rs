//! The core (`src/consensus/`) is sans-IO: no threads, clocks, randomness,
//! I/O or global state. Drivers supply all of those. This test reads the
//! core's source and fails on any use of them, so the boundary cannot erode
//! unnoticed.

use std::fs;
use std::path::Path;

/// Paths and names whose use would make the core impure.
const FORBIDDEN: &[&str] = &[
    "std::thread",
    "std::time",
    "Instant",
    "SystemTime",
    "std::sync",
    "std::fs",
    "std::io",
    "std::net",
    "std::env",
    "std::process",
    "rand::",
    "thread_rng",
    "static mut",
    "println!",
    "eprintln!",
    "Cell<",
    "unsafe",
];

#[test]
fn the_core_uses_no_threads_clocks_randomness_or_io() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/consensus");
    let mut checked = 0;
    for entry in fs::read_dir(&dir).expect("src/consensus exists") {
        let path = entry.expect("readable directory entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let source = fs::read_to_string(&path).expect("readable source file");
        for (number, line) in source.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for word in FORBIDDEN {
                assert!(
                    !code.contains(word),
                    "{}:{}: the core must stay pure, but uses `{word}`: {line}",
                    path.display(),
                    number + 1
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 10, "expected the core's files, found {checked}");
}
