//! The reading of XEP-0115 strings on its own, without a machine: the body of the `reading`
//! fuzz target (thousands of inputs a second) and of a property test.
//!
//! Bytes become an answer of XEP-0115's shape, its strings made of the fragments `S` is made of
//! (its separators, identity-like and URI-like text, the field names the reading knows); then:
//! * if its string `S` has a reading, the reading joins back into `S` exactly, and as an answer
//!   it has that `S` and is shared;
//! * if `S` has none, the answer is not shared;
//! * the answer is shared only if it is the reading (checked against what it says, not by the
//!   crate's own comparison), and so is a twin drawn from the rest of the bytes: **no other
//!   reading of `S` is shared**.

use xmpp_disco::caps::{CapsInfo, Reading};

use super::bytes::Bytes;
use super::twins::{self, Answer};

/// What the strings are made of.
const FRAGMENTS: &[&str] = &[
    "",
    "a",
    "b",
    "z",
    "Z",
    "0",
    "9",
    " ",
    "é",
    "Ψ",
    "/",
    "<",
    "//",
    ":",
    "#",
    "{",
    "}",
    "-",
    "client",
    "pc",
    "en",
    "en-GB",
    "x-y",
    "http://",
    "jabber.org",
    "urn:x",
    "urn:y:",
    "os",
    "os_version",
    "ip_version",
    "ipv4",
    "software",
    "icon",
    "x-",
    "FORM_TYPE",
    "mailto:a@b",
    "abuse-addresses",
    "security-addresses",
    "urn:xmpp:dataforms:softwareinfo",
    "http://jabber.org/network/serverinfo",
    "http://jabber.org/protocol/caps",
];

fn string(bytes: &mut Bytes<'_>) -> Option<String> {
    let parts = bytes.below(4)?;
    (0..parts)
        .map(|_| Some(FRAGMENTS[bytes.below(FRAGMENTS.len())?]))
        .collect::<Option<Vec<_>>>()
        .map(|parts| parts.concat())
}

/// An answer of XEP-0115's shape, read from `bytes` (as much as they hold).
fn answer(bytes: &mut Bytes<'_>) -> Answer {
    let mut answer = Answer::default();
    let counts = [bytes.below(4), bytes.below(8), bytes.below(3)];
    let [identities, features, forms] = counts.map(Option::unwrap_or_default);
    for _ in 0..identities {
        let fields = [string(bytes), string(bytes), string(bytes), string(bytes)];
        let Some(fields) = fields.into_iter().collect::<Option<Vec<_>>>() else {
            return answer;
        };
        let [category, type_, lang, name] = <[String; 4]>::try_from(fields).unwrap_or_default();
        answer.identities.push([category, type_, lang, name]);
    }
    for _ in 0..features {
        let Some(feature) = string(bytes) else {
            return answer;
        };
        answer.features.push(feature);
    }
    for _ in 0..forms {
        let Some(form_type) = string(bytes) else {
            return answer;
        };
        let mut fields = Vec::new();
        for _ in 0..bytes.below(4).unwrap_or_default() {
            let Some(var) = string(bytes).filter(|var| var != "FORM_TYPE") else {
                break;
            };
            let values = (0..bytes.below(3).unwrap_or_default())
                .map_while(|_| string(bytes))
                .collect();
            fields.push((var, values));
        }
        answer.forms.push((form_type, fields));
    }
    answer
}

pub fn check(data: &[u8]) {
    let mut bytes = Bytes(data);
    let query = answer(&mut bytes).query();
    let caps = CapsInfo::from_query(&query).expect("a complete answer");
    let s = caps.legacy_input();
    match Reading::parse(&s) {
        Ok(reading) => {
            assert_eq!(reading.to_string(), s, "the reading joins back into S");
            let read = CapsInfo::from_query(&reading.to_query()).expect("a complete answer");
            assert_eq!(read.legacy_input(), s, "the reading has its S");
            assert!(read.legacy_shareable().is_ok(), "the reading is shared");
        }
        Err(_) => assert!(caps.legacy_shareable().is_err(), "shared without a reading"),
    }
    twins::assert_shared_only_as_the_reading(&query, "the answer");
    if let Some(twin) = twins::one(&s, |n| bytes.below(n.max(1)).unwrap_or(0)) {
        let query = twin.query();
        let caps = CapsInfo::from_query(&query).expect("a complete answer");
        assert_eq!(caps.legacy_input(), s, "a twin has the same S");
        twins::assert_shared_only_as_the_reading(&query, "a twin");
    }
}
