//! The share rule against real clients and servers: the public capsdb (github xnyhps/capsdb,
//! CC0: "a collection of XEP-0115 caps and their hashes", answers captured from real clients
//! over many years), read as it ships: `db.json` and the `hashes/{hash}_{node#ver}.xml` files.
//!
//! The corpus is not part of this repository (it is another project's data): point
//! `XMPP_DISCO_CAPSDB` at a checkout of it, or put one at `../shared/capsdb` beside the
//! repository, and run `cargo test --features serde --test capsdb -- --ignored --nocapture`.
//! Without it these tests fail, saying so; `.ci/run` runs them where the corpus is.
//!
//! What is checked, on every sha-1 answer that verifies under the `ver` its file names:
//! * honest answers are shared as they are: of the well-formed ones (XEP-0115 §5.4), at least
//!   99% are their own reading; every exception is printed with its reason;
//! * no string `S` of a real answer that is not shared has a reading at all: nothing can be
//!   shared under such a `ver`, so a forger gains nothing by claiming it;
//! * no twin of a real answer is shared: the constructions that fooled the marks before, the
//!   first re-readings of `S` depth first, and re-readings drawn at random; of all of them at
//!   most one answer per `S` is shareable, and it is the reading.

mod model;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use model::twins;
use xmpp_disco::caps::{self, CapsInfo, CapsStore, Reading};
use xmpp_disco::xmpp_parsers::minidom::Element;
use xmpp_disco::DiscoMachine;

/// The capsdb checkout: `XMPP_DISCO_CAPSDB`, or `../shared/capsdb`.
fn capsdb() -> PathBuf {
    let path = std::env::var_os("XMPP_DISCO_CAPSDB")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/capsdb"));
    assert!(
        path.join("db.json").exists() && path.join("hashes").is_dir(),
        "no capsdb at {}: set XMPP_DISCO_CAPSDB to a checkout of github.com/xnyhps/capsdb",
        path.display()
    );
    path
}

/// Undoes the percent-encoding of a file name.
fn percent_decoded(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (byte, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            _ => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("UTF-8 file names")
}

/// One answer of the `hashes/` files: its file, the `ver` the file names, the element.
struct Real {
    file: String,
    ver: String,
    query: Element,
}

impl Real {
    /// The answer (some files hold it in a second `<query/>`).
    fn answer(&self) -> &Element {
        let mut children = self.query.children();
        match (children.next(), children.next()) {
            (Some(only), None) if only.name() == "query" => only,
            _ => &self.query,
        }
    }

    fn caps(&self) -> CapsInfo {
        CapsInfo::from_query(self.answer()).expect("a complete answer")
    }
}

/// The sha-1 answers of the `hashes/` files that verify under the `ver` their file names.
fn real_answers() -> Vec<Real> {
    let dir = capsdb().join("hashes");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .expect("the hashes folder")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("sha-1_") && name.ends_with(".xml"))
        .collect();
    names.sort();
    let mut answers = Vec::new();
    for file in names {
        let node = percent_decoded(&file["sha-1_".len()..file.len() - ".xml".len()]);
        let (_, ver) = node.rsplit_once('#').expect("node#ver");
        let text = fs::read_to_string(dir.join(&file)).expect("a readable file");
        let body = text
            .trim_start_matches(|c| c != '>')
            .trim_start_matches('>');
        let text = if text.starts_with("<?xml") {
            body
        } else {
            &text
        };
        let query: Element = text.parse().expect("an XML file");
        let real = Real {
            file,
            ver: ver.to_owned(),
            query,
        };
        if real.caps().legacy_ver() == real.ver {
            answers.push(real);
        }
    }
    assert!(
        answers.len() > 1_500,
        "only {} answers verify",
        answers.len()
    );
    answers
}

#[test]
#[ignore = "needs the public capsdb: XMPP_DISCO_CAPSDB=/path/to/capsdb"]
fn real_answers_are_shared_as_they_are_and_nothing_else_can_be() {
    let answers = real_answers();
    let (mut well_formed, mut shared) = (0, 0);
    let mut exceptions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for real in &answers {
        let caps = real.caps();
        let s = caps.legacy_input();
        match (caps.legacy_check(), caps.legacy_shareable()) {
            (Ok(()), Ok(_)) => {
                well_formed += 1;
                shared += 1;
            }
            (Ok(()), Err(why)) => {
                well_formed += 1;
                exceptions
                    .entry(format!("well-formed, not shared: {why}"))
                    .or_default()
                    .push(real.file.clone());
            }
            (Err(why), _) => exceptions
                .entry(format!("ill-formed (XEP-0115 §5.4): {why}"))
                .or_default()
                .push(real.file.clone()),
        }
        if caps.legacy_shareable().is_err() {
            assert!(
                Reading::parse(&s).is_err(),
                "{}: not shared, yet its S has a reading a forger could send",
                real.file
            );
        }
    }
    println!(
        "{} sha-1 answers verify; {well_formed} well-formed, {shared} shared as they are \
         ({:.2}%)",
        answers.len(),
        100.0 * shared as f64 / well_formed as f64
    );
    for (why, files) in &exceptions {
        println!("  {} {why}", files.len());
        for file in files {
            println!("      {file}");
        }
    }
    assert!(
        shared * 100 >= well_formed * 99,
        "{shared} of {well_formed} well-formed real answers shared"
    );
}

#[test]
#[ignore = "needs the public capsdb: XMPP_DISCO_CAPSDB=/path/to/capsdb"]
fn no_twin_of_a_real_answer_is_shared() {
    let answers = real_answers();
    let mut checked = 0usize;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for real in &answers {
        let caps = real.caps();
        let s = caps.legacy_input();
        twins::assert_shared_only_as_the_reading(real.answer(), &real.file);
        let mut forged = twins::constructions(&s);
        forged.extend(twins::every(&s, 50));
        for _ in 0..50 {
            forged.extend(twins::one(&s, |n| {
                // xorshift: the same draws on every run.
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % n.max(1) as u64) as usize
            }));
        }
        for twin in &forged {
            assert_eq!(twin.caps().legacy_input(), s, "{}: not a twin", real.file);
            twins::assert_shared_only_as_the_reading(&twin.query(), &real.file);
            checked += 1;
        }
    }
    println!(
        "{checked} twins of {} real answers judged: none shared but the reading",
        answers.len()
    );
}

#[test]
#[ignore = "needs the public capsdb: XMPP_DISCO_CAPSDB=/path/to/capsdb"]
fn the_capsdb_loads_as_it_ships() {
    let root = capsdb();
    let json = fs::read_to_string(root.join("db.json")).expect("db.json");
    let entries = caps::from_json(&json).expect("db.json as shipped");
    let mut machine = DiscoMachine::default();
    let report = machine.import_capsdb(entries.clone(), CapsStore::Shipped);
    println!("db.json: {} entries, {report:?}", entries.len());
    let md5 = entries.iter().filter(|entry| entry.hash == "md5").count();
    assert_eq!(report.unknown_function, md5);
    assert!(report.taken > 1_500, "{report:?}");
    // Shipped answers are not exported, nor evicted by the learned table's bound.
    assert!(machine.export_capsdb().is_empty());

    let files = real_answers().into_iter().map(|real| real.query);
    let mut machine = DiscoMachine::default();
    let report = machine.import_caps(files, CapsStore::Shipped);
    println!("hashes/: {report:?}");
    assert!(report.taken > 1_500, "{report:?}");
}
