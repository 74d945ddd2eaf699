//! The forger of XEP-0115's Security Considerations against random answers: for an answer's
//! string `S`, every other answer with the same `S` a forger can build (listed depth first,
//! drawn at random, and the constructions that fooled the marks this crate used before: trailing
//! features read as a form, leading `http://` features read as identities, fields merged into
//! the one before, form strings read as features, identities read as features, strings joined
//! by `<`) is judged as the machine judges an answer received for a hash: **at most one answer
//! per `S` is ever shared**, and it is the reading of `S`.
//!
//! The random answers come in two kinds: anything XML can carry of XEP-0115's shape (for the
//! property), and answers as XEP-0030 and XEP-0068 want them, written as real clients write
//! them (for "honest answers are their reading").
//!
//! `PROPTEST_CASES=50000 cargo test --release --test caps_twins` runs more cases.

mod model;

use model::twins::{self, Answer};
use proptest::prelude::*;
use xmpp_disco::caps::CapsInfo;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256)
}

/// Strings for answers of any shape: the separators of `S` and of identities, and strings that
/// look like identities, URIs, field names and values.
const ANY: &[&str] = &[
    "",
    "a",
    "b",
    "z",
    "A",
    "0",
    "/",
    "//",
    "a/b",
    "a/b/c/d",
    "client/pc//x",
    "en",
    "en-GB",
    "http://a",
    "urn:x",
    "urn:y:z",
    "os",
    "os_version",
    "ipv4",
    "Linux",
    "<",
    "a<b",
    "urn:xmpp:dataforms:softwareinfo",
    "FORM_TYPE",
];

fn any_string() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ANY), 1..3).prop_map(|parts| parts.concat())
}

/// An answer of XEP-0115's shape, anything in its strings.
fn any_answer() -> impl Strategy<Value = Answer> {
    let identity = prop::array::uniform4(any_string());
    let form = (
        any_string(),
        prop::collection::vec(
            (any_string(), prop::collection::vec(any_string(), 0..3)),
            0..3,
        ),
    );
    (
        prop::collection::vec(identity, 0..3),
        prop::collection::vec(any_string(), 0..5),
        prop::collection::vec(form, 0..2),
    )
        .prop_map(|(identities, features, forms)| Answer {
            identities,
            features,
            forms,
        })
}

const CATEGORIES: &[&str] = &["client", "server", "pubsub", "gateway", "conference"];
const TYPES: &[&str] = &["pc", "phone", "im", "pep", "web", "bot", "text"];
const LANGS: &[&str] = &["", "en", "en-GB", "de", "el", "zh-Hant-TW", "x-klingon"];
const NAMES: &[&str] = &[
    "",
    "Psi",
    "Ψ 0.11",
    "Orchard/1.0",
    "a/b/c",
    "Gajim",
    "Conversations",
];
/// Features as real clients list them (namespaces of XEPs, and a few of their own).
const FEATURES: &[&str] = &[
    "http://jabber.org/protocol/caps",
    "http://jabber.org/protocol/disco#info",
    "http://jabber.org/protocol/disco#items",
    "http://jabber.org/protocol/jingle",
    "http://jabber.org/protocol/jinglenodes",
    "http://jabber.org/protocol/muc",
    "http://jabber.org/protocol/si/profile/file-transfer",
    "games:board",
    "jabber:iq:version",
    "jabber:x:data",
    "urn:xmpp:avatar:metadata+notify",
    "urn:xmpp:jingle:1",
    "urn:xmpp:jingle:apps:rtp:audio",
    "urn:xmpp:ping",
    "urn:xmpp:receipts",
    "urn:xmpp:time",
    "vcard-temp",
    "vcard-temp:x:update",
];
/// Software information and contact addresses as clients and servers fill them.
const SOFTWARE: &[(&str, &[&str])] = &[
    ("icon", &["https://example.org/icon.png"]),
    ("ip_version", &["ipv4", "ipv6"]),
    ("os", &["Linux", "Windows NT", "Mac", "FreeBSD", "Android"]),
    (
        "os_version",
        &["6.1", "10.0-STABLE", "XP", "3.13.0-24-generic"],
    ),
    ("software", &["Psi", "Tkabber", "Gajim", "qutIM"]),
    (
        "software_version",
        &["0.11", "1.0-svn (Tcl/Tk 8.4.20)", "1.8.4"],
    ),
];
const CONTACTS: &[(&str, &[&str])] = &[
    (
        "abuse-addresses",
        &["mailto:abuse@example.org", "xmpp:abuse@example.org"],
    ),
    (
        "admin-addresses",
        &["xmpp:admin@example.org", "mailto:admin@example.org"],
    ),
    ("feedback-addresses", &[]),
    ("security-addresses", &["https://example.org/security"]),
    (
        "support-addresses",
        &["xmpp:support@conference.example.org?join"],
    ),
];

fn picked(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(pool).prop_map(str::to_owned)
}

/// A registered form: its `FORM_TYPE`, and some of its fields with some of their values.
fn registered_form(
    form_type: &'static str,
    fields: &'static [(&'static str, &'static [&'static str])],
) -> impl Strategy<Value = (String, Vec<(String, Vec<String>)>)> {
    prop::sample::subsequence(fields, 1..=fields.len()).prop_flat_map(move |chosen| {
        let chosen: Vec<_> = chosen
            .into_iter()
            .map(|(var, values)| {
                prop::sample::subsequence(values, 0..=values.len()).prop_map(move |values| {
                    (
                        var.to_owned(),
                        values.into_iter().map(str::to_owned).collect(),
                    )
                })
            })
            .collect();
        chosen.prop_map(move |fields| (form_type.to_owned(), fields))
    })
}

/// An answer as XEP-0030 and XEP-0068 want it, written as real clients write theirs: at least
/// one identity, none twice by category, type and language; features without repeats; forms
/// of registered types holding their registered fields.
fn honest_answer() -> impl Strategy<Value = Answer> {
    let identity = (
        picked(CATEGORIES),
        picked(TYPES),
        picked(LANGS),
        picked(NAMES),
    )
        .prop_map(|(c, t, l, n)| [c, t, l, n]);
    let forms = prop::collection::vec(
        prop_oneof![
            registered_form("urn:xmpp:dataforms:softwareinfo", SOFTWARE),
            registered_form("http://jabber.org/network/serverinfo", CONTACTS),
        ],
        0..3,
    );
    (
        prop::collection::vec(identity, 1..4),
        prop::collection::btree_set(picked(FEATURES), 0..12),
        forms,
    )
        .prop_map(|(mut identities, features, mut forms)| {
            identities.sort();
            identities.dedup_by(|a, b| a[..3] == b[..3]);
            forms.sort_by(|a, b| a.0.cmp(&b.0));
            forms.dedup_by(|a, b| a.0 == b.0);
            Answer {
                identities,
                features: features.into_iter().collect(),
                forms,
            }
        })
}

/// Every answer the forger builds for `honest`'s `S`: the constructions, the first `listed`
/// answers depth first, and `drawn` more at random.
fn forged(honest: &Answer, listed: usize, drawn: &[Vec<usize>]) -> Vec<Answer> {
    let s = honest.caps().legacy_input();
    let mut all = twins::constructions(&s);
    all.extend(twins::every(&s, listed));
    for choices in drawn {
        let mut choices = choices.iter().copied().cycle();
        all.extend(twins::one(&s, |_| choices.next().unwrap_or(0)));
    }
    all
}

/// Every answer in `forged` has `honest`'s `S`, and of them all only one that is the reading
/// of `S` is shared: at most one answer per `S`.
fn at_most_one_shared(honest: &Answer, forged: &[Answer]) -> Result<(), TestCaseError> {
    let s = honest.caps().legacy_input();
    for answer in std::iter::once(honest).chain(forged) {
        let caps: CapsInfo = answer.caps();
        prop_assert_eq!(caps.legacy_input(), s.clone(), "a twin of another S");
        twins::assert_shared_only_as_the_reading(&answer.query(), &answer.body());
    }
    Ok(())
}

#[test]
fn the_forger_builds_real_twins() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut made = 0;
    for _ in 0..200 {
        let honest = honest_answer()
            .new_tree(&mut runner)
            .expect("an answer")
            .current();
        let caps = honest.caps();
        made += forged(&honest, 200, &[])
            .into_iter()
            .filter(|twin| twin.caps() != caps)
            .count();
    }
    assert!(made > 10_000, "only {made} twins in 200 answers");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn of_every_answer_with_one_string_at_most_one_is_shared(
        honest in any_answer(),
        drawn in prop::collection::vec(prop::collection::vec(any::<usize>(), 1..40), 0..8),
    ) {
        at_most_one_shared(&honest, &forged(&honest, 200, &drawn))?;
    }

    #[test]
    fn the_reading_of_any_bytes_joins_back_and_no_other_reading_is_shared(
        data in prop::collection::vec(any::<u8>(), 0..200)
    ) {
        model::reading::check(&data);
    }

    #[test]
    fn honest_answers_are_their_reading_and_no_twin_is_shared(
        honest in honest_answer(),
        drawn in prop::collection::vec(prop::collection::vec(any::<usize>(), 1..60), 0..8),
    ) {
        let caps = honest.caps();
        prop_assert!(
            caps.legacy_shareable().is_ok(),
            "an honest answer is not its reading: {:?}\n{}",
            caps.legacy_shareable().err(),
            honest.body()
        );
        at_most_one_shared(&honest, &forged(&honest, 200, &drawn))?;
    }
}
