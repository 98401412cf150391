//! Replays fuzz inputs on stable through the fuzz targets' own checks (`fuzz/checks.rs`):
//! the inputs that once failed (`tests/fuzz_regressions/<target>/`) and the committed seed
//! corpora (`fuzz/corpus/<target>/`). Each runs on a fresh thread with the stack of a tokio
//! worker (2 MiB), so a stack overflow or panic fails the test with the input's name.

#[path = "../../fuzz/checks.rs"]
mod checks;

use std::path::{Path, PathBuf};

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let regressions = inputs(&root.join("tests/fuzz_regressions").join(target));
    let corpus = inputs(&root.join("fuzz/corpus").join(target));
    assert!(!corpus.is_empty(), "no seed corpus for {target}");
    let mut failed = Vec::new();
    for path in regressions.iter().chain(&corpus) {
        let data = std::fs::read(path).expect("readable input");
        let outcome = std::thread::Builder::new()
            .name(path.display().to_string())
            .stack_size(2 * 1024 * 1024)
            .spawn(move || check(&data))
            .expect("thread")
            .join();
        if outcome.is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{target}: failed on {failed:#?}");
}

#[test]
fn envelope() {
    replay("envelope", checks::envelope);
}

#[test]
fn log_event() {
    replay("log_event", checks::log_event);
}

#[test]
fn rules() {
    replay("rules", checks::rules);
}
