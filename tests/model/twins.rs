//! The forger's toolbox: every answer whose XEP-0115 string `S` is a given one.
//!
//! `S` is its strings, each followed by `<`. An answer with that `S` takes those strings in
//! order, grouped into its own strings (a group of several joined by `<`, which XML lets a
//! string hold), each with a role (identity, feature, `FORM_TYPE`, field name or value, in the
//! order XEP-0115 §5.1 lists them: identities, features, then each form's `FORM_TYPE` followed
//! by its fields, each followed by its values), an identity split into category, type,
//! language and name at any three of its `/`; and XEP-0115 §5.1's sorts must leave them in
//! that order. [`every`] lists such answers depth first, [`one`] builds one by choices taken
//! from elsewhere (a fuzzer's bytes); both are independent of how the crate reads `S`.
//!
//! No constraint of XEP-0030 or XEP-0068 is applied: a forger may send anything XML can carry.
//! The search is bounded so that long strings stay cheap: a string joins at most [`MAX_JOIN`]
//! of `S`'s strings, and an identity splits at three of its first [`MAX_SLASHES`] `/`. Every
//! answer of the model's programs is within these bounds.

/// The most strings of `S` one string of an answer joins.
pub const MAX_JOIN: usize = 4;

/// The `/` of a string (the first ones) among which an identity's three are chosen.
pub const MAX_SLASHES: usize = 12;

use xmpp_disco::caps::{CapsInfo, Reading};
use xmpp_disco::xmpp_parsers::minidom::rxml::Namespace;
use xmpp_disco::xmpp_parsers::minidom::Element;

use super::INFO;

/// An answer, as the forger builds it: identities (category, type, language, name; an empty
/// language or name is left out), features, and forms (each a hidden `FORM_TYPE` and fields).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    pub identities: Vec<[String; 4]>,
    pub features: Vec<String>,
    pub forms: Vec<Form>,
}

/// A form: its `FORM_TYPE`, and its fields, each a name and its values.
pub type Form = (String, Vec<(String, Vec<String>)>);

/// `text` as XML character data or an attribute value, white space that XML would normalise
/// as character references.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('\t', "&#9;")
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
}

impl Answer {
    /// The answer's children, as XML.
    pub fn body(&self) -> String {
        let mut xml = String::new();
        for [category, type_, lang, name] in &self.identities {
            xml += &format!(
                "<identity category='{}' type='{}'",
                escaped(category),
                escaped(type_)
            );
            if !lang.is_empty() {
                xml += &format!(" xml:lang='{}'", escaped(lang));
            }
            if !name.is_empty() {
                xml += &format!(" name='{}'", escaped(name));
            }
            xml += "/>";
        }
        for feature in &self.features {
            xml += &format!("<feature var='{}'/>", escaped(feature));
        }
        for (form_type, fields) in &self.forms {
            xml += &format!(
                "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'>\
                 <value>{}</value></field>",
                escaped(form_type)
            );
            for (var, values) in fields {
                xml += &format!("<field var='{}'>", escaped(var));
                for value in values {
                    xml += &format!("<value>{}</value>", escaped(value));
                }
                xml += "</field>";
            }
            xml += "</x>";
        }
        xml
    }

    /// The answer as a `disco#info` `<query/>`.
    pub fn query(&self) -> Element {
        format!("<query xmlns='{INFO}'>{}</query>", self.body())
            .parse()
            .expect("an answer is XML")
    }

    /// The answer as entity capabilities read it.
    pub fn caps(&self) -> CapsInfo {
        CapsInfo::from_query(&self.query()).expect("identities and features are complete")
    }

    /// The answer in a `disco#info` `<query/>` (forms without a hidden `FORM_TYPE` left out:
    /// no hash covers them).
    pub fn from_query(query: &Element) -> Answer {
        let mut answer = Answer::default();
        for child in query.children() {
            match child.name() {
                "identity" => {
                    let [category, type_, name] = ["category", "type", "name"]
                        .map(|attr| child.attr(attr).unwrap_or_default().to_owned());
                    let lang = child.attr_ns(Namespace::xml(), "lang").unwrap_or_default();
                    answer
                        .identities
                        .push([category, type_, lang.to_owned(), name]);
                }
                "feature" => answer
                    .features
                    .push(child.attr("var").unwrap_or_default().to_owned()),
                "x" => {
                    let mut form_type = None;
                    let mut fields = Vec::new();
                    for field in child.children().filter(|field| field.name() == "field") {
                        let var = field.attr("var").unwrap_or_default().to_owned();
                        let values: Vec<String> = field
                            .children()
                            .filter(|value| value.name() == "value")
                            .map(Element::text)
                            .collect();
                        if var == "FORM_TYPE" {
                            if field.attr("type") == Some("hidden") {
                                form_type = form_type.or(values.into_iter().next());
                            }
                        } else {
                            fields.push((var, values));
                        }
                    }
                    if let Some(form_type) = form_type {
                        answer.forms.push((form_type, fields));
                    }
                }
                _ => {}
            }
        }
        answer
    }

    /// The answer in XEP-0115's order: identities, features, forms, their fields and values
    /// sorted. Two answers say the same exactly when these are equal.
    pub fn sorted(&self) -> Answer {
        let mut sorted = self.clone();
        sorted.identities.sort();
        sorted.features.sort();
        for (_, fields) in &mut sorted.forms {
            for (_, values) in fields.iter_mut() {
                values.sort();
            }
            fields.sort();
        }
        sorted.forms.sort();
        sorted
    }
}

/// The reading of `s` as an answer, if `s` has one: what the machine may share under it, in
/// XEP-0115's order.
pub fn reading(s: &str) -> Option<Answer> {
    let reading = Reading::parse(s).ok()?;
    Some(Answer::from_query(&reading.to_query()).sorted())
}

/// Whether the machine would share `query` under its XEP-0115 hash, checked against what it
/// says: the machine shares it only if it is the reading of its `S`. Panics otherwise.
pub fn assert_shared_only_as_the_reading(query: &Element, what: &str) {
    let caps = CapsInfo::from_query(query).expect("a complete answer");
    if caps.legacy_shareable().is_ok() {
        let s = caps.legacy_input();
        assert_eq!(
            Some(Answer::from_query(query).sorted()),
            reading(&s),
            "{what}: shared, yet not the reading of its S {s:?}"
        );
    }
}

/// Where the next string of an answer under construction may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    Identities,
    Features,
    /// Just after a form's `FORM_TYPE`.
    FormType,
    /// Just after a field's name.
    Field,
    /// Just after a value.
    Value,
}

/// One choice: the string is `S`'s strings up to `end` joined by `<`, with `role`; an identity
/// splits at the `/`s of one of `splits` (byte offsets), each keeping XEP-0115's order.
#[derive(Debug, Clone)]
struct Choice {
    end: usize,
    role: At,
    splits: Vec<[usize; 3]>,
}

/// An answer under construction and where it is in `S`.
#[derive(Debug, Clone)]
struct Building {
    answer: Answer,
    next: usize,
    at: At,
}

/// The strings of `s`, if it is an XEP-0115 string (empty, or ending with `<`).
fn strings(s: &str) -> Option<Vec<&str>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    Some(s.strip_suffix('<')?.split('<').collect())
}

/// The byte offsets of every `/` in `text` (the first [`MAX_SLASHES`]), taken three at a time
/// in order.
fn splits(text: &str) -> Vec<[usize; 3]> {
    let slashes: Vec<usize> = text
        .match_indices('/')
        .map(|(at, _)| at)
        .take(MAX_SLASHES)
        .collect();
    let mut splits = Vec::new();
    for (i, a) in slashes.iter().enumerate() {
        for (j, b) in slashes.iter().enumerate().skip(i + 1) {
            for c in slashes.iter().skip(j + 1) {
                splits.push([*a, *b, *c]);
            }
        }
    }
    splits
}

fn fields(text: &str, [a, b, c]: [usize; 3]) -> [&str; 4] {
    [&text[..a], &text[a + 1..b], &text[b + 1..c], &text[c + 1..]]
}

/// Whether `text` may come after `last` (if any) in XEP-0115's order.
fn after(last: Option<&String>, text: &str) -> bool {
    last.is_none_or(|last| last.as_str() <= text)
}

/// Every choice for the next string that keeps XEP-0115's sorts.
fn choices(strings: &[&str], building: &Building) -> Vec<Choice> {
    let answer = &building.answer;
    let last_form = answer.forms.last();
    let last_field = last_form.and_then(|(_, fields)| fields.last());
    let mut choices = Vec::new();
    for end in building.next + 1..=strings.len().min(building.next + MAX_JOIN) {
        let text = strings[building.next..end].join("<");
        let roles: &[At] = match building.at {
            At::Identities => &[At::Identities, At::Features, At::FormType],
            At::Features => &[At::Features, At::FormType],
            At::FormType => &[At::Field, At::FormType],
            At::Field | At::Value => &[At::Value, At::Field, At::FormType],
        };
        for role in roles {
            let (fits, splits) = match role {
                At::Identities => {
                    let last = answer.identities.last();
                    let splits: Vec<[usize; 3]> = splits(&text)
                        .into_iter()
                        .filter(|split| {
                            let read = fields(&text, *split);
                            last.is_none_or(|last| {
                                last.iter().map(String::as_str).le(read.iter().copied())
                            })
                        })
                        .collect();
                    (!splits.is_empty(), splits)
                }
                At::Features => (after(answer.features.last(), &text), Vec::new()),
                At::FormType => (after(last_form.map(|(t, _)| t), &text), Vec::new()),
                // A field named FORM_TYPE is the form's type, never a string of its own in S.
                At::Field => (
                    text != "FORM_TYPE" && after(last_field.map(|(var, _)| var), &text),
                    Vec::new(),
                ),
                At::Value => (
                    after(last_field.and_then(|(_, values)| values.last()), &text),
                    Vec::new(),
                ),
            };
            if fits {
                choices.push(Choice {
                    end,
                    role: *role,
                    splits,
                });
            }
        }
    }
    choices
}

fn apply(strings: &[&str], building: &Building, choice: &Choice, split: usize) -> Building {
    let text = strings[building.next..choice.end].join("<");
    let mut next = building.clone();
    next.next = choice.end;
    next.at = choice.role;
    let answer = &mut next.answer;
    match choice.role {
        At::Identities => {
            if let Some(split) = choice.splits.get(split) {
                answer
                    .identities
                    .push(fields(&text, *split).map(str::to_owned));
            }
        }
        At::Features => answer.features.push(text),
        At::FormType => answer.forms.push((text, Vec::new())),
        At::Field => {
            if let Some((_, fields)) = answer.forms.last_mut() {
                fields.push((text, Vec::new()));
            }
        }
        At::Value => {
            if let Some((_, values)) = answer.forms.last_mut().and_then(|(_, f)| f.last_mut()) {
                values.push(text);
            }
        }
    }
    next
}

/// Every answer whose `S` is `s`, depth first, at most `limit` of them (none if `s` is no
/// XEP-0115 string).
pub fn every(s: &str, limit: usize) -> Vec<Answer> {
    let Some(strings) = strings(s) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut stack = vec![Building {
        answer: Answer::default(),
        next: 0,
        at: At::Identities,
    }];
    while let Some(building) = stack.pop() {
        if found.len() >= limit {
            break;
        }
        if building.next == strings.len() {
            found.push(building.answer);
            continue;
        }
        let options = choices(&strings, &building);
        let next = options.iter().flat_map(|choice| {
            (0..choice.splits.len().max(1)).map(|split| apply(&strings, &building, choice, split))
        });
        let mut next: Vec<Building> = next.collect();
        next.reverse();
        stack.extend(next);
    }
    found
}

/// One answer whose `S` is `s`, each choice among `n` options made by `choose(n)` (taken
/// modulo `n`); `None` on a dead end (or if `s` is no XEP-0115 string).
pub fn one(s: &str, mut choose: impl FnMut(usize) -> usize) -> Option<Answer> {
    let strings = strings(s)?;
    let mut building = Building {
        answer: Answer::default(),
        next: 0,
        at: At::Identities,
    };
    while building.next < strings.len() {
        let options = choices(&strings, &building);
        if options.is_empty() {
            return None;
        }
        let choice = &options[choose(options.len()) % options.len()];
        let split = match choice.splits.len() {
            0 => 0,
            splits => choose(splits) % splits,
        };
        building = apply(&strings, &building, choice, split);
    }
    Some(building.answer)
}

/// The constructions of a forged twin that fooled the marks this crate used before (issue 33
/// measured them on the public capsdb): each a re-reading of `s`, built from the parts of its
/// reading (none when `s` has no reading).
pub fn constructions(s: &str) -> Vec<Answer> {
    let Ok(reading) = Reading::parse(s) else {
        return Vec::new();
    };
    let identities: Vec<[String; 4]> = reading
        .identities()
        .map(|fields| fields.map(str::to_owned))
        .collect();
    let features: Vec<String> = reading.features().map(str::to_owned).collect();
    let forms: Vec<Form> = reading
        .forms()
        .into_iter()
        .map(|(form_type, fields)| {
            let fields = fields
                .into_iter()
                .map(|(var, values)| {
                    (
                        var.to_owned(),
                        values.into_iter().map(str::to_owned).collect(),
                    )
                })
                .collect();
            (form_type.to_owned(), fields)
        })
        .collect();
    let mut twins = Vec::new();
    // The last 1 to 6 features read as a form (FORM_TYPE, a field, its values), the answer's
    // own forms kept after it.
    for k in 1..=features.len().min(6) {
        let (kept, moved) = features.split_at(features.len() - k);
        let fields = match moved {
            [_] => vec![],
            [_, var, values @ ..] => vec![(var.clone(), values.to_vec())],
            [] => continue,
        };
        let mut form = vec![(moved[0].clone(), fields)];
        form.extend(forms.iter().cloned());
        twins.push(Answer {
            identities: identities.clone(),
            features: kept.to_vec(),
            forms: form,
        });
    }
    // Leading features read as identities, split at their first three '/'.
    for k in 1..=features.len().min(23) {
        let read: Option<Vec<[String; 4]>> = features[..k]
            .iter()
            .map(|feature| {
                let mut parts = feature.splitn(4, '/');
                Some([
                    parts.next()?.to_owned(),
                    parts.next()?.to_owned(),
                    parts.next()?.to_owned(),
                    parts.next()?.to_owned(),
                ])
            })
            .collect();
        let Some(read) = read else { break };
        let mut all = identities.clone();
        all.extend(read);
        twins.push(Answer {
            identities: all,
            features: features[k..].to_vec(),
            forms: forms.clone(),
        });
    }
    // A field merged into the field before as more values.
    for (f, (_, fields)) in forms.iter().enumerate() {
        for v in 1..fields.len() {
            let mut twin_forms = forms.clone();
            let (var, values) = twin_forms[f].1.remove(v);
            let before = &mut twin_forms[f].1[v - 1].1;
            before.push(var);
            before.extend(values);
            twins.push(Answer {
                identities: identities.clone(),
                features: features.clone(),
                forms: twin_forms,
            });
        }
    }
    // Every form string read as a feature.
    if !forms.is_empty() {
        let mut all = features.clone();
        for (form_type, fields) in &forms {
            all.push(form_type.clone());
            for (var, values) in fields {
                all.push(var.clone());
                all.extend(values.iter().cloned());
            }
        }
        twins.push(Answer {
            identities: identities.clone(),
            features: all,
            forms: Vec::new(),
        });
    }
    // The last identity read as a feature.
    if let Some((last, rest)) = identities.split_last() {
        let mut all = vec![last.join("/")];
        all.extend(features.iter().cloned());
        twins.push(Answer {
            identities: rest.to_vec(),
            features: all,
            forms: forms.clone(),
        });
    }
    // Two neighbouring features joined by a '<'.
    for pair in features.windows(2) {
        let mut all: Vec<String> = features
            .iter()
            .filter(|f| **f != pair[0] && **f != pair[1])
            .cloned()
            .collect();
        all.push(format!("{}<{}", pair[0], pair[1]));
        all.sort();
        twins.push(Answer {
            identities: identities.clone(),
            features: all,
            forms: forms.clone(),
        });
    }
    // Only the twins whose S is really the same.
    twins.retain(|twin| twin.caps().legacy_input() == s);
    twins
}
