//! Replays the fuzz corpora (`fuzz/corpus/*`) and the crashes found so far
//! (`fuzz/regressions/*`) on stable, so that a regression shows up in `cargo test` without the
//! nightly toolchain. The fuzz targets call the same functions. In the repository a target
//! without any corpus fails; the packaged crate, which ships no corpora, replays nothing.

mod model;

use std::fs;
use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    if !root.exists() {
        // The packaged crate ships the tests but not the corpora (they are the repository's).
        println!("{target}: no fuzz/ directory in this copy of the crate, nothing to replay");
        return;
    }
    let mut count = 0;
    for folder in ["corpus", "regressions"] {
        let Ok(entries) = fs::read_dir(root.join(folder).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let data = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{} fails", path.display());
            count += 1;
        }
    }
    assert!(count > 0, "no corpus for {target}");
    println!("{target}: {count} inputs replayed");
}

#[test]
fn the_stanza_corpus_replays() {
    replay("stanza", model::stanzas::feed);
}

#[test]
fn the_ops_corpus_replays() {
    replay("ops", model::requester::run_bytes);
}

#[test]
fn the_registry_corpus_replays() {
    replay("registry", model::responder::run_bytes);
}

#[test]
fn the_questions_corpus_replays() {
    replay("questions", model::questions::run_bytes);
}

#[test]
fn the_caps_corpus_replays() {
    replay("caps", model::caps::run_bytes);
}
