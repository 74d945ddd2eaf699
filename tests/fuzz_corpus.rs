//! Replays the fuzz corpora (`fuzz/corpus/*`) and the crashes found so far
//! (`fuzz/regressions/*`) on stable, so that a regression shows up in `cargo test` without the
//! nightly toolchain. The fuzz targets call the same functions. In the repository a target
//! without any corpus fails; the packaged crate, which ships no corpora, replays nothing.

mod model;

use std::fs;
use std::path::Path;

/// The stack a replay runs on. The fuzzer nests elements hundreds deep, and xmpp-parsers turns
/// an element into a typed value (the stanza model compares the typed and element forms)
/// through one boxed iterator per level: an 883-deep `<iq/>` overflows the 2 MiB of a debug
/// build's test thread inside `Iq::try_from`, while the fuzz target, a release build on
/// libFuzzer's 8 MiB main thread, runs it. The machine's own paths took it on 2 MiB.
const REPLAY_STACK: usize = 64 << 20;

fn replay(target: &'static str, run: fn(&[u8])) {
    std::thread::Builder::new()
        .name(format!("replay {target}"))
        .stack_size(REPLAY_STACK)
        .spawn(move || replay_on_this_thread(target, run))
        .expect("a replay thread")
        .join()
        .unwrap_or_else(|_| panic!("{target}: the replay failed"));
}

fn replay_on_this_thread(target: &str, run: fn(&[u8])) {
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
    replay("caps", |data| {
        model::caps::run_bytes(data);
        model::caps::run_room(data);
    });
}

#[test]
fn the_reading_corpus_replays() {
    replay("reading", model::reading::check);
}
