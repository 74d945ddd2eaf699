//! The forger of XEP-0115's Security Considerations against random honest answers: each
//! transformation a forger can make while keeping the string `S` (and so the `ver`) the same is
//! applied where it applies, and every twin it makes must show a mark of
//! [`Ambiguity`](xmpp_disco::caps::Ambiguity), so that the machine never shares it.
//!
//! The honest answers are ordinary ones (no `<` in any string, no `/` in an identity's
//! category, type or language, every form with a hidden `FORM_TYPE`); names may hold a `/`.
//!
//! `PROPTEST_CASES=50000 cargo test --release --test caps_twins` runs more cases.

use proptest::prelude::*;
use xmpp_disco::caps::CapsInfo;
use xmpp_disco::xmpp_parsers::minidom::Element;

const CATEGORIES: &[&str] = &["client", "server", "pubsub", "gateway"];
const TYPES: &[&str] = &["pc", "phone", "im", "pep", "web"];
const LANGS: &[&str] = &["", "en", "en-GB", "de"];
const NAMES: &[&str] = &["", "Psi", "Ψ 0.11", "Orchard/1.0", "a"];
const FEATURES: &[&str] = &[
    "http://jabber.org/protocol/caps",
    "http://jabber.org/protocol/disco#info",
    "http://jabber.org/protocol/disco#items",
    "http://jabber.org/protocol/muc",
    "jabber:iq:version",
    "urn:xmpp:jingle:1",
    "urn:xmpp:ping",
    "urn:xmpp:receipts",
    "client/web//Orchard",
];
const FORM_TYPES: &[&str] = &[
    "urn:xmpp:dataforms:softwareinfo",
    "http://jabber.org/network/serverinfo",
];
const VARS: &[&str] = &["ip_version", "ipv6", "os", "os_version", "software", "zz"];
const VALUES: &[&str] = &["ipv4", "ipv6", "Mac", "10.5.1", "Psi", "os", "zzz"];

#[derive(Debug, Clone, PartialEq)]
struct Identity {
    category: String,
    type_: String,
    lang: String,
    name: String,
}

#[derive(Debug, Clone, PartialEq)]
struct Form {
    form_type: String,
    /// (var, values), any order.
    fields: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Clone, PartialEq)]
struct Answer {
    identities: Vec<Identity>,
    features: Vec<String>,
    forms: Vec<Form>,
}

fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('\'', "&apos;")
}

impl Answer {
    fn xml(&self) -> String {
        let mut xml = String::from("<query xmlns='http://jabber.org/protocol/disco#info'>");
        for identity in &self.identities {
            xml += &format!(
                "<identity category='{}' type='{}'",
                escaped(&identity.category),
                escaped(&identity.type_)
            );
            if !identity.lang.is_empty() {
                xml += &format!(" xml:lang='{}'", escaped(&identity.lang));
            }
            if !identity.name.is_empty() {
                xml += &format!(" name='{}'", escaped(&identity.name));
            }
            xml += "/>";
        }
        for feature in &self.features {
            xml += &format!("<feature var='{}'/>", escaped(feature));
        }
        for form in &self.forms {
            xml += &format!(
                "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'>\
                 <value>{}</value></field>",
                escaped(&form.form_type)
            );
            for (var, values) in &form.fields {
                xml += &format!("<field var='{}'>", escaped(var));
                for value in values {
                    xml += &format!("<value>{}</value>", escaped(value));
                }
                xml += "</field>";
            }
            xml += "</x>";
        }
        xml + "</query>"
    }

    fn caps(&self) -> CapsInfo {
        let query: Element = self.xml().parse().expect("valid XML");
        CapsInfo::from_query(&query).expect("a readable answer")
    }

    /// The identities in XEP-0115's order, and the features in theirs.
    fn sorted(&self) -> (Vec<Identity>, Vec<String>) {
        let mut identities = self.identities.clone();
        identities.sort_by(|a, b| {
            (&a.category, &a.type_, &a.lang, &a.name).cmp(&(
                &b.category,
                &b.type_,
                &b.lang,
                &b.name,
            ))
        });
        let mut features = self.features.clone();
        features.sort();
        (identities, features)
    }
}

fn picked(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(pool).prop_map(str::to_owned)
}

fn identity() -> impl Strategy<Value = Identity> {
    (
        picked(CATEGORIES),
        picked(TYPES),
        picked(LANGS),
        picked(NAMES),
    )
        .prop_map(|(category, type_, lang, name)| Identity {
            category,
            type_,
            lang,
            name,
        })
}

fn form() -> impl Strategy<Value = Form> {
    (
        picked(FORM_TYPES),
        prop::collection::btree_map(
            picked(VARS),
            prop::collection::btree_set(picked(VALUES), 0..3),
            1..4,
        ),
    )
        .prop_map(|(form_type, fields)| Form {
            form_type,
            fields: fields
                .into_iter()
                .map(|(var, values)| (var, values.into_iter().collect()))
                .collect(),
        })
}

/// An honest answer: identities distinct on their four fields, features distinct, forms of
/// distinct `FORM_TYPE`s.
fn answer() -> impl Strategy<Value = Answer> {
    (
        prop::collection::vec(identity(), 1..4),
        prop::collection::btree_set(picked(FEATURES), 1..7),
        prop::collection::vec(form(), 0..2),
    )
        .prop_map(|(mut identities, features, mut forms)| {
            identities.dedup_by(|a, b| a == b);
            let mut seen = Vec::new();
            identities.retain(|identity| {
                let key = (
                    identity.category.clone(),
                    identity.type_.clone(),
                    identity.lang.clone(),
                    identity.name.clone(),
                );
                let new = !seen.contains(&key);
                seen.push(key);
                new
            });
            forms.dedup_by(|a, b| a.form_type == b.form_type);
            Answer {
                identities,
                features: features.into_iter().collect(),
                forms,
            }
        })
}

/// Every twin a forger makes of `honest` by one transformation, where it applies.
fn twins(honest: &Answer, at: usize) -> Vec<Answer> {
    let (identities, features) = honest.sorted();
    let mut twins = Vec::new();
    // Two neighbouring features joined by a '<'.
    if features.len() >= 2 {
        let i = at % (features.len() - 1);
        let mut twin = honest.clone();
        let joined = format!("{}<{}", features[i], features[i + 1]);
        twin.features
            .retain(|f| *f != features[i] && *f != features[i + 1]);
        twin.features.push(joined);
        twins.push(twin);
    }
    // The last identity's name swallowing the first feature.
    if let (Some(last), Some(first)) = (identities.last(), features.first()) {
        let mut twin = honest.clone();
        let at = twin
            .identities
            .iter()
            .position(|i| i == last)
            .expect("there");
        twin.identities[at].name = format!("{}<{}", last.name, first);
        twin.features.retain(|f| f != first);
        twins.push(twin);
    }
    // The last features moved into a form (when there is none).
    if honest.forms.is_empty() && !features.is_empty() {
        let k = 1 + at % features.len().min(3);
        let moved = &features[features.len() - k..];
        let mut twin = honest.clone();
        twin.features.retain(|f| !moved.contains(f));
        let fields = match moved {
            [_, var] => vec![(var.clone(), vec![])],
            [_, var, value] => vec![(var.clone(), vec![value.clone()])],
            _ => vec![],
        };
        twin.forms.push(Form {
            form_type: moved[0].clone(),
            fields,
        });
        twins.push(twin);
    }
    // The last identity moved among the features.
    if identities.len() >= 2 {
        let last = identities.last().expect("two");
        let mut twin = honest.clone();
        twin.identities.retain(|i| i != last);
        twin.features.push(format!(
            "{}/{}/{}/{}",
            last.category, last.type_, last.lang, last.name
        ));
        twins.push(twin);
    }
    // A field's last value split off into a field of its own.
    for (f, form) in honest.forms.iter().enumerate() {
        for (v, (_, values)) in form.fields.iter().enumerate() {
            if values.len() >= 2 {
                let mut twin = honest.clone();
                let split = twin.forms[f].fields[v].1.pop().expect("two values");
                twin.forms[f].fields.push((split, vec![]));
                twins.push(twin);
            }
        }
    }
    // A name's '/' moved into the type (when a name holds one).
    for (i, identity) in honest.identities.iter().enumerate() {
        if let Some((head, tail)) = identity.name.split_once('/') {
            if identity.lang.is_empty() {
                let mut twin = honest.clone();
                twin.identities[i].type_ = format!("{}/", identity.type_);
                twin.identities[i].lang = head.to_owned();
                twin.identities[i].name = tail.to_owned();
                twins.push(twin);
            }
        }
    }
    twins
}

/// The twins of `honest` that hash like it and differ from it.
fn hash_alike(honest: &Answer, at: usize) -> Vec<Answer> {
    let caps = honest.caps();
    twins(honest, at)
        .into_iter()
        .filter(|twin| {
            let forged = twin.caps();
            forged.legacy_input() == caps.legacy_input() && forged != caps
        })
        .collect()
}

#[test]
fn the_forger_makes_real_twins() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let made: usize = (0..500)
        .map(|at| {
            let honest = answer().new_tree(&mut runner).expect("an answer").current();
            hash_alike(&honest, at).len()
        })
        .sum();
    assert!(made > 500, "only {made} twins hashed alike in 500 answers");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2_000),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_twin_that_hashes_alike_shows_a_mark(honest in answer(), at in 0usize..16) {
        prop_assume!(honest.caps().legacy_check().is_ok());
        for twin in hash_alike(&honest, at) {
            prop_assert!(
                twin.caps().legacy_ambiguity().is_some(),
                "an unmarked twin\nhonest: {}\nforged: {}",
                honest.xml(),
                twin.xml()
            );
        }
    }
}
