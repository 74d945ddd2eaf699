//! XEP-0115's string `S` read back into an answer, in one way only: the rule that decides what
//! a stranger's answer can make the machine believe about everyone else claiming its hash.
//!
//! `S` joins an answer's strings with `<` and runs identities, features and forms together with
//! nothing marking where one part ends, and the strings may hold `<` and `/` themselves; so
//! many answers have the same `S`, and the same `ver` (XEP-0115, Security Considerations).
//! Verification cannot tell which of them is a program's. The machine therefore reads `S`
//! itself, deterministically, string by string ([`Reading::parse`]), and shares an answer under
//! its XEP-0115 hash only when the answer **is** that reading
//! ([`CapsInfo::legacy_shareable`](super::CapsInfo::legacy_shareable)). Since the reading is a
//! function of `S` alone, two different answers with one `S` can never both be it: **at most
//! one answer per `S` is ever shared, by construction**, whatever a forger builds. What remains
//! to show is that honest answers are their reading; the rules below are chosen so that they
//! are (every well-formed answer of the public capsdb with an identity is, see
//! `tests/capsdb.rs`), and an honest answer that is not is merely not shared (one request per
//! entity, not a lie).
//!
//! The reading splits `S` at every `<` into strings, then, left to right:
//!
//! 1. **Identities**: the longest run of strings from the start that read as identities. A
//!    string reads as one if it holds at least three `/`, split at the first three into
//!    category, type, language and name, with a category and a type (XEP-0030 §3.1 requires
//!    both), a language that is empty or a well-formed language tag (RFC 5646, as `xml:lang`
//!    wants), sorting strictly after the identity before it by category, type and language
//!    (XEP-0030 forbids two identities that differ only by name). `S` without one has no reading.
//! 2. **Features**: the longest run after them of non-empty strings, each sorting strictly after
//!    the one before, up to a `FORM_TYPE` the machine knows followed by one of its fields.
//! 3. **Where the forms begin**: if the features' run reaches the end, there is no form.
//!    Otherwise the string that broke the run begins the first form if it can be a `FORM_TYPE`;
//!    if it cannot, the run's last string is the first `FORM_TYPE` (the forms' first string
//!    continued the features' order) and the string that broke the run must be its first field.
//! 4. **Forms**, string by string: the next form's `FORM_TYPE` if it is one the machine knows
//!    ([`KNOWN_FORMS`]) and can be one, else a field's name if it can be one, else a value of the
//!    current field if it can be one, else the next form's `FORM_TYPE` if it can be one, else `S`
//!    has no reading. A **`FORM_TYPE`** is a URI (a scheme, `:`, no white space; XEP-0068 §3 names
//!    `FORM_TYPE`s so) sorting strictly after the form before. A **field name** is non-empty,
//!    not `FORM_TYPE`, sorts strictly after the form's field before, and in a form whose
//!    `FORM_TYPE` the machine knows (XEP-0232's software information, with
//!    XEP-0115 §5.3's `ip_version`, and XEP-0157's contact addresses) is one of its registered
//!    fields, or a field in Clark notation (`{uri}name`) or named `x-…`, as XEP-0068 §3 asks
//!    fields of others to be. A **value** follows a field's name or a value not sorting after it.
//!
//! Throughout, a string equal to the one before it can only be another value of the same
//! field: an identity, feature or `FORM_TYPE` listed twice (XEP-0115 §5.4 calls the answer
//! ill-formed) then leaves `S` without a reading, instead of a reading in which the duplicate
//! starts a form that swallows the features after it.
//!
//! Each choice is made once and never revisited, so reading `S` takes one pass, and the rules
//! say what each string is from the strings before it and the one after.

use std::fmt;

use xmpp_parsers::data_forms::{DataForm, DataFormType, Field, FieldType};
use xmpp_parsers::disco::{DiscoInfoResult, Identity};
use xmpp_parsers::minidom::Element;

use super::language;
use crate::write::payload;

/// The name of the field that gives a form its type (XEP-0068).
pub(super) const FORM_TYPE: &str = "FORM_TYPE";

/// The `FORM_TYPE`s whose fields the reading knows, and their registered fields: in such a form,
/// a string can be a field's name only if it is one of these (or in Clark notation, or `x-…`),
/// so that the values of a field are not read as fields of their own.
pub const KNOWN_FORMS: &[(&str, &[&str])] = &[
    (
        // XEP-0232, Software Information; `ip_version` is the field of XEP-0115 §5.3's example.
        "urn:xmpp:dataforms:softwareinfo",
        &[
            "icon",
            "ip_version",
            "os",
            "os_version",
            "software",
            "software_version",
        ],
    ),
    (
        // XEP-0157, Contact Addresses for XMPP Services.
        "http://jabber.org/network/serverinfo",
        &[
            "abuse-addresses",
            "admin-addresses",
            "feedback-addresses",
            "sales-addresses",
            "security-addresses",
            "status-addresses",
            "support-addresses",
        ],
    ),
];

/// A form's fields in a [`Reading`], each its name and values, in the order of `S`.
pub type ReadFields<'a> = Vec<(&'a str, Vec<&'a str>)>;

/// What a string of `S` is in its reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Identity,
    Feature,
    FormType,
    Field,
    Value,
}

/// Why an XEP-0115 string `S` has no reading: the string at [`position`](Self::position) (0 for
/// the first) can take no role the reading allows where it stands (see [`Reading`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the XEP-0115 string has no reading: its string {position} can be nothing where it stands")]
pub struct Unreadable {
    position: usize,
}

impl Unreadable {
    /// Which string of `S` (split at `<`, counted from 0) could not be read.
    pub fn position(&self) -> usize {
        self.position
    }
}

/// Why an answer that matches its XEP-0115 hash is not shared under it: it answers the entity
/// that gave it, and is cached as that entity's own, never as the answer of every entity
/// claiming the hash. See [`Reading`] for why only the reading of `S` is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unshared {
    /// The answer has a form without a hidden `FORM_TYPE`, which XEP-0115 leaves out of `S`:
    /// the hash does not cover it.
    #[error("a form the hash does not cover (no hidden FORM_TYPE)")]
    UncoveredForm,
    /// `S` has no reading at all.
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    /// `S` reads as a different answer: this one is one of the many answers with the same `S`
    /// (a forged twin, or an answer whose strings hold `<` or whose identity's category, type or
    /// language holds `/`), not the one the reading gives.
    #[error("the XEP-0115 string reads as a different answer")]
    OtherReading,
}

/// An answer as the reading of an XEP-0115 string `S` gives it: the one answer with that `S`
/// the machine would share. The module documentation of [`caps`](crate::caps) lists the rules.
///
/// ```
/// use xmpp_disco::caps::Reading;
///
/// let s = "client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<\
///          http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<\
///          http://jabber.org/protocol/muc<";
/// let reading = Reading::parse(s)?;
/// assert_eq!(reading.features().count(), 4);
/// assert_eq!(reading.to_string(), s); // the reading joins back into S
/// // Not every string is a reading: a feature listed twice leaves none.
/// assert!(Reading::parse("client/pc//x<urn:a<urn:a<").is_err());
/// # Ok::<(), xmpp_disco::caps::Unreadable>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    strings: Vec<String>,
    roles: Vec<Role>,
}

impl Reading {
    /// Reads `S`.
    ///
    /// # Errors
    ///
    /// [`Unreadable`] when the rules give `S` no reading (including an `S` that is empty or
    /// does not end with `<`, which no answer has).
    pub fn parse(s: &str) -> Result<Reading, Unreadable> {
        let body = s.strip_suffix('<').ok_or(Unreadable { position: 0 })?;
        let strings: Vec<&str> = body.split('<').collect();
        let roles = roles(&strings)?;
        Ok(Reading {
            strings: strings.into_iter().map(str::to_owned).collect(),
            roles,
        })
    }

    fn with_role(&self, role: Role) -> impl Iterator<Item = &str> {
        self.strings
            .iter()
            .zip(&self.roles)
            .filter(move |(_, held)| **held == role)
            .map(|(string, _)| string.as_str())
    }

    /// The identities, each as category, type, language and name (the last two empty when
    /// absent), in the order of `S`.
    pub fn identities(&self) -> impl Iterator<Item = [&str; 4]> {
        self.with_role(Role::Identity).filter_map(identity)
    }

    /// The features, in the order of `S`.
    pub fn features(&self) -> impl Iterator<Item = &str> {
        self.with_role(Role::Feature)
    }

    /// The forms, in the order of `S`: each its `FORM_TYPE` and its fields.
    pub fn forms(&self) -> Vec<(&str, ReadFields<'_>)> {
        let mut forms: Vec<(&str, ReadFields<'_>)> = Vec::new();
        for (string, role) in self.strings.iter().zip(&self.roles) {
            match role {
                Role::FormType => forms.push((string, Vec::new())),
                Role::Field => {
                    if let Some((_, fields)) = forms.last_mut() {
                        fields.push((string, Vec::new()));
                    }
                }
                Role::Value => {
                    if let Some((_, values)) = forms.last_mut().and_then(|(_, f)| f.last_mut()) {
                        values.push(string);
                    }
                }
                Role::Identity | Role::Feature => {}
            }
        }
        forms
    }

    /// The reading as a `disco#info` `<query/>`, whose `S` is the one read.
    pub fn to_query(&self) -> Element {
        payload::exact_info(None, &self.to_info())
    }

    /// The reading as the machine shares it: what `S` says, and nothing else (no field type
    /// of the sender's), so that every answer with this reading is shared alike.
    pub(crate) fn to_info(&self) -> DiscoInfoResult {
        let identities: Vec<[&str; 4]> = self.identities().collect();
        let forms = self
            .forms()
            .into_iter()
            .map(|(form_type, fields)| {
                let fields = fields
                    .into_iter()
                    .map(|(var, values)| (var, values.into_iter().map(str::to_owned).collect()));
                form(std::iter::once((FORM_TYPE, vec![form_type.to_owned()])).chain(fields))
            })
            .collect();
        info(&identities, self.features(), forms)
    }

    /// The strings of `S`, each with the role the reading gives it.
    pub(super) fn strings(&self) -> impl Iterator<Item = (&str, Role)> {
        self.strings
            .iter()
            .map(String::as_str)
            .zip(self.roles.iter().copied())
    }
}

impl fmt::Display for Reading {
    /// `S` again: every string followed by `<`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for string in &self.strings {
            write!(f, "{string}<")?;
        }
        Ok(())
    }
}

/// A `disco#info` result of `identities` (category, type, language and name, the last two
/// absent when empty), `features` and `forms`.
pub(crate) fn info<'a>(
    identities: &[[&str; 4]],
    features: impl Iterator<Item = &'a str>,
    forms: Vec<DataForm>,
) -> DiscoInfoResult {
    let present = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    DiscoInfoResult {
        node: None,
        identities: identities
            .iter()
            .map(|[category, type_, lang, name]| Identity {
                category: (*category).to_owned(),
                type_: (*type_).to_owned(),
                lang: present(lang),
                name: present(name),
            })
            .collect(),
        features: features.map(str::to_owned).collect(),
        extensions: forms,
    }
}

/// A result form of `fields`, each a name and its values: `FORM_TYPE` hidden and first, as
/// XEP-0068 writes it; any other field with one value `text-single`, else `text-multi`. Neither
/// hash covers field types, so what the machine shares and stores names none of the sender's.
pub(crate) fn form<'a>(fields: impl IntoIterator<Item = (&'a str, Vec<String>)>) -> DataForm {
    let mut form = DataForm {
        type_: DataFormType::Result_,
        title: None,
        instructions: None,
        fields: Vec::new(),
    };
    for (var, values) in fields {
        let type_ = match (var, values.len()) {
            (FORM_TYPE, _) => FieldType::Hidden,
            (_, 1) => FieldType::TextSingle,
            _ => FieldType::TextMulti,
        };
        let mut field = Field::new(var, type_);
        field.values = values;
        if var == FORM_TYPE {
            form.fields.insert(0, field);
        } else {
            form.fields.push(field);
        }
    }
    form
}

/// `string` read as an identity: split at its first three `/`, with the category and type
/// XEP-0030 requires and a language that is empty or a well-formed language tag.
pub(super) fn identity(string: &str) -> Option<[&str; 4]> {
    let mut parts = string.splitn(4, '/');
    let fields = [parts.next()?, parts.next()?, parts.next()?, parts.next()?];
    let [category, type_, lang, _] = fields;
    let fits = !category.is_empty()
        && !type_.is_empty()
        && (lang.is_empty() || language::well_formed(lang));
    fits.then_some(fields)
}

/// Whether `string` can be a `FORM_TYPE`: a URI's scheme (a letter, then letters, digits, `+`,
/// `-` or `.`), a `:`, and no white space.
fn form_type(string: &str) -> bool {
    let Some((scheme, _)) = string.split_once(':') else {
        return false;
    };
    let mut scheme = scheme.bytes();
    scheme.next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && !string.contains([' ', '\t', '\r', '\n'])
}

/// Whether `string` is a `FORM_TYPE` the reading knows the fields of.
fn known_form(string: &str) -> bool {
    KNOWN_FORMS.iter().any(|(known, _)| *known == string)
}

/// Whether `string` can name a field of a form of `FORM_TYPE` `form_type`, as far as the form's
/// type decides: any name in a form the machine does not know; in one it knows, a registered
/// field, or one named as XEP-0068 §3 asks others' fields to be.
fn field_of(form_type: &str, string: &str) -> bool {
    KNOWN_FORMS
        .iter()
        .find(|(known, _)| *known == form_type)
        .is_none_or(|(_, fields)| {
            fields.contains(&string) || string.starts_with('{') || string.starts_with("x-")
        })
}

/// The roles the reading gives `strings`, the strings of `S` in order (see the module docs).
pub(super) fn roles(strings: &[&str]) -> Result<Vec<Role>, Unreadable> {
    let stuck = |position| Unreadable { position };
    let mut roles = Vec::with_capacity(strings.len());
    // 1. Identities.
    let mut last: Option<[&str; 4]> = None;
    for string in strings {
        let Some(read) = identity(string) else { break };
        if last.is_some_and(|last| read[..3] <= last[..3]) {
            break;
        }
        last = Some(read);
        roles.push(Role::Identity);
    }
    let first_feature = roles.len();
    if first_feature == 0 {
        return Err(stuck(0));
    }
    // 2. The features' run: non-empty, each after (and so unlike) the string before, up to a
    // known form's type followed by one of its fields.
    let mut end = first_feature;
    while let Some(string) = strings.get(end) {
        let previous = strings.get(end - 1).copied().unwrap_or_default();
        let continues = if end == first_feature {
            *string != previous
        } else {
            *string > previous
        };
        let opens_known_form = known_form(string)
            && strings
                .get(end + 1)
                .is_some_and(|next| *next != FORM_TYPE && field_of(string, next));
        if string.is_empty() || !continues || opens_known_form {
            break;
        }
        end += 1;
    }
    // 3. Where the forms begin.
    let Some(breaking) = strings.get(end) else {
        roles.resize(strings.len(), Role::Feature);
        return Ok(roles);
    };
    let unlike_previous = strings.get(end - 1) != Some(breaking);
    let forms_start = if form_type(breaking) && unlike_previous {
        end
    } else if end > first_feature && strings.get(end - 1).is_some_and(|s| form_type(s)) {
        end - 1
    } else {
        return Err(stuck(end));
    };
    roles.resize(forms_start, Role::Feature);
    // 4. The forms.
    let mut form: &str = "";
    let mut field: Option<&str> = None;
    for (position, string) in strings.iter().enumerate().skip(forms_start) {
        let previous = strings.get(position.wrapping_sub(1)).copied();
        let after_previous = Some(*string) != previous;
        let last_role = roles.last().copied();
        let in_form = matches!(last_role, Some(Role::FormType | Role::Field | Role::Value));
        let begins_form = |string: &str| {
            form_type(string) && after_previous && (form.is_empty() || string > form)
        };
        let role = if in_form && known_form(string) && begins_form(string) {
            form = string;
            field = None;
            Role::FormType
        } else if in_form
            && after_previous
            && !string.is_empty()
            && *string != FORM_TYPE
            && field.is_none_or(|field| *string > field)
            && field_of(form, string)
        {
            field = Some(string);
            Role::Field
        } else if last_role == Some(Role::Field)
            || (last_role == Some(Role::Value) && previous.is_none_or(|p| *string >= p))
        {
            Role::Value
        } else if begins_form(string) {
            form = string;
            field = None;
            Role::FormType
        } else {
            return Err(stuck(position));
        };
        roles.push(role);
    }
    Ok(roles)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> Result<Vec<Role>, Unreadable> {
        Reading::parse(s).map(|reading| reading.roles)
    }

    use Role::{Feature as F, Field as V, FormType as T, Identity as I, Value as X};

    #[test]
    fn the_examples_of_xep_0115_read_as_themselves() {
        assert_eq!(
            read(
                "client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<\
                  http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<\
                  http://jabber.org/protocol/muc<"
            ),
            Ok(vec![I, F, F, F, F])
        );
        assert_eq!(
            read(
                "client/pc/el/Ψ 0.11<client/pc/en/Psi 0.11<http://jabber.org/protocol/caps<\
                  http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<\
                  http://jabber.org/protocol/muc<urn:xmpp:dataforms:softwareinfo<\
                  ip_version<ipv4<ipv6<os<Mac<os_version<10.5.1<software<Psi<\
                  software_version<0.11<"
            ),
            Ok(vec![I, I, F, F, F, F, T, V, X, X, V, X, V, X, V, X, V, X])
        );
    }

    #[test]
    fn a_form_type_continuing_the_features_order_begins_the_forms() {
        // The form's FORM_TYPE sorts after the last feature; its first field breaks the run.
        assert_eq!(
            read("client/pc//x<jabber:x:data<urn:xmpp:dataforms:softwareinfo<os<Linux<"),
            Ok(vec![I, F, T, V, X])
        );
        // A form right after the identities.
        assert_eq!(
            read("client/pc//x<urn:xmpp:dataforms:softwareinfo<os<Linux<"),
            Ok(vec![I, T, V, X])
        );
    }

    #[test]
    fn strings_that_are_not_what_xep_0030_allows_take_no_role() {
        // An identity needs a category, a type and a language tag (or none).
        assert_eq!(read("http://jabber.org/protocol/caps<"), Err(stuck(0)));
        assert_eq!(
            read("client/pc//x<http://jabber.org/protocol/jinglenodes<"),
            Ok(vec![I, F])
        );
        assert_eq!(read("client/pc/jabber.org/x<"), Err(stuck(0)));
        // Sorted strictly by category, type and language: a second name of one identity is
        // no identity.
        assert_eq!(read("client/pc//a<client/pc//b<"), Ok(vec![I, F]));
        // A feature twice leaves no reading, wherever the duplicate stands.
        assert_eq!(read("client/pc//x<urn:a<urn:a<urn:b<"), Err(stuck(2)));
        assert_eq!(read("client/pc//x<urn:a<urn:b<urn:b<"), Err(stuck(3)));
        assert_eq!(read("client/pc//x<client/pc//x<urn:a<"), Err(stuck(1)));
        // A form's type is a URI; a field name is not FORM_TYPE.
        assert_eq!(read("client/pc//x<b<a<"), Err(stuck(2)));
        assert_eq!(read("client/pc//x<urn:t<FORM_TYPE<"), Err(stuck(2)));
    }

    fn stuck(position: usize) -> Unreadable {
        Unreadable { position }
    }

    #[test]
    fn in_a_known_form_only_its_fields_are_fields() {
        let s = "client/pc//x<urn:xmpp:time<urn:xmpp:dataforms:softwareinfo<\
                 ip_version<ipv4<ipv6<os<Linux<";
        assert_eq!(read(s), Ok(vec![I, F, T, V, X, X, V, X]));
        // In a form the reading does not know, a string that can be a field is one.
        let s = "client/pc//x<urn:xmpp:time<urn:example:form<ip_version<ipv4<ipv6<os<Linux<";
        assert_eq!(read(s), Ok(vec![I, F, T, V, V, V, V, X]));
        // Others' fields in Clark notation.
        let s = "client/pc//x<urn:xmpp:time<urn:xmpp:dataforms:softwareinfo<os<Linux<\
                 {urn:example}z<1<";
        assert_eq!(read(s), Ok(vec![I, F, T, V, X, V, X]));
    }

    #[test]
    fn a_known_form_type_followed_by_its_field_ends_the_features() {
        // Both continue the features' order: only the known form says where the forms begin.
        let s = "server/im//x<games:board<http://jabber.org/network/serverinfo<\
                 security-addresses<https://example.org/security<";
        assert_eq!(read(s), Ok(vec![I, F, T, V, X]));
    }

    #[test]
    fn two_forms_and_empty_fields() {
        let s = "server/im//Prosody<urn:xmpp:ping<http://jabber.org/network/serverinfo<\
                 abuse-addresses<mailto:abuse@localhost<admin-addresses<mailto:admin@localhost<\
                 xmpp:admin@localhost<feedback-addresses<support-addresses<\
                 urn:xmpp:dataforms:softwareinfo<software<Prosody<";
        assert_eq!(read(s), Ok(vec![I, F, T, V, X, V, X, X, V, V, T, V, X]));
    }

    #[test]
    fn the_reading_joins_back_into_its_string() {
        let s = "client/pc/en/a/b<urn:a<urn:x:t<f<<g<1<2<";
        let reading = Reading::parse(s).expect("a reading");
        assert_eq!(reading.to_string(), s);
        assert_eq!(
            reading.identities().collect::<Vec<_>>(),
            [["client", "pc", "en", "a/b"]]
        );
        assert_eq!(
            reading.forms(),
            [("urn:x:t", vec![("f", vec![""]), ("g", vec!["1", "2"])])]
        );
        assert_eq!(Reading::parse(""), Err(stuck(0)));
        assert_eq!(Reading::parse("client/pc//x"), Err(stuck(0)));
    }
}
