//! The core is built `#![no_std]` (see `src/lib.rs`), so the compiler
//! already refuses any thread, clock, source of randomness, file or socket
//! in it, and `#![forbid(unsafe_code)]` refuses `static mut`. What `core`
//! and `alloc` still allow is global state (a `static` with an atomic or a
//! cell in it): a handler that read it would no longer be a function of its
//! node and its input, and replays in the simulator and the model checker
//! would diverge. This test reads the core's sources and fails on any.

use std::fs;
use std::path::{Path, PathBuf};

/// Paths and names that would give the core state outside its nodes.
const FORBIDDEN: &[&str] = &[
    "static ",
    "thread_local",
    "core::sync",
    "alloc::sync",
    "Atomic",
    "Cell<",
    "OnceCell",
    "LazyLock",
];

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).expect("readable source directory") {
        let path = entry.expect("readable directory entry").path();
        if path.is_dir() {
            found.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found
}

#[test]
fn the_core_is_built_without_std() {
    let lib = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("readable lib.rs");
    assert!(
        lib.contains("#![cfg_attr(not(test), no_std)]"),
        "lib.rs must stay no_std"
    );
    assert!(
        lib.contains("#![forbid(unsafe_code)]"),
        "lib.rs must forbid unsafe code"
    );
}

#[test]
fn the_core_keeps_no_global_state() {
    let files = sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    for path in &files {
        let source = fs::read_to_string(path).expect("readable source file");
        for (number, line) in source.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            // `&'static str` and `'static` bounds are lifetimes, not items.
            let code = code.replace("'static", "");
            for word in FORBIDDEN {
                assert!(
                    !code.contains(word),
                    "{}:{}: the core must keep no global state, but uses `{word}`: {line}",
                    path.display(),
                    number + 1
                );
            }
        }
    }
    assert!(
        files.len() >= 14,
        "expected the core's files, found {}",
        files.len()
    );
}
