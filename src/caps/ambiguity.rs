//! When XEP-0115's string `S` could stand for another answer too.
//!
//! `S` joins strings with `<` and an identity's fields with `/`, and XML lets both appear in
//! the strings themselves; it also runs identities, features and forms together with nothing
//! marking where one part ends. So two different answers can hash alike, and a peer that wants
//! to lie about a popular program answers that program's hash with such a twin (XEP-0115,
//! Security Considerations, "Caps Poisoning"). A twin that verifies is the twin's true hash, so
//! verification cannot tell which of the two is the program's: the machine shares an answer
//! under a XEP-0115 hash only when it shows none of the marks that the twins of ordinary
//! answers carry. XEP-0390's input separates with bytes XML cannot carry and has no twins.
//!
//! Why marks and not a count of readings: every answer with a feature or more has a second
//! reading (its last features as a form), and XEP-0115's own §5.3 example more (a field's two
//! values as two fields), so "`S` has exactly one reading" would share nothing at all. The
//! marks look at the answer received, which is the forger's when there is one.

use std::cmp::Ordering;

use super::legacy::{FormString, LegacyString};

/// Why a XEP-0115 answer is not shared under its hash though it matches it: the string `S` it
/// hashes could be read as a different answer, which a peer lying about a popular program
/// would send in place of the program's true one. Such an answer answers the entity that gave
/// it (and is cached as that entity's own), never the other entities claiming the hash.
///
/// Each variant names a mark that the twins of an ordinary answer carry, so that ordinary
/// answers (XEP-0115's own examples among them) are shared as before. XEP-0115 cannot be made
/// safe entirely: a program whose forms' strings, in the order `S` lists them, sort after its
/// last feature and one after another could be answered as a program without forms; a
/// program with two forms could be answered with their fields moved between them. Where an
/// entity also claims a XEP-0390 hash, that one is asked and trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Ambiguity {
    /// A string holds `<`, the separator of `S`: moving it splits or joins strings.
    #[error("a string holds '<', the separator of the XEP-0115 string")]
    SeparatorInText,
    /// An identity's category, type or `xml:lang` holds `/`, the separator of its fields.
    #[error("an identity's category, type or language holds '/'")]
    SlashInIdentity,
    /// The first feature could be read as one more identity (it has the shape
    /// `category/type/lang/name` and sorts after the last identity): an identity moved among
    /// the features looks so.
    #[error("the first feature could be read as an identity")]
    IdentityBoundary,
    /// The forms' strings could be read as more features (in `S` they continue the features'
    /// order): features moved into a form look so.
    #[error("the forms could be read as features")]
    FormBoundary,
    /// A form field without a value whose name sorts after the last value of the field before
    /// it: a field's last value split off into a field of its own looks so. (Fields without
    /// values after one without values, as a server's unconfigured contact addresses are, do
    /// not count: they could be read as values, but no split makes them.)
    #[error("a form field without a value could be the previous field's last value")]
    EmptyField,
    /// A form without a hidden `FORM_TYPE`, which XEP-0115 leaves out of `S`: the hash does
    /// not cover it, so nothing vouches for it to anyone but its sender.
    #[error("a form the hash does not cover (no hidden FORM_TYPE)")]
    UncoveredForm,
}

/// The first mark of an ambiguous `S` that `s` shows, if any.
pub(super) fn legacy(s: &LegacyString<'_>) -> Option<Ambiguity> {
    if s.uncovered_form {
        return Some(Ambiguity::UncoveredForm);
    }
    let identities = &s.identities;
    for &[category, type_, lang, name] in identities {
        if [category, type_, lang]
            .iter()
            .any(|field| field.contains('/'))
        {
            return Some(Ambiguity::SlashInIdentity);
        }
        if [category, type_, lang, name]
            .iter()
            .any(|field| field.contains('<'))
        {
            return Some(Ambiguity::SeparatorInText);
        }
    }
    let (features, form_strings) = (&s.features, &s.form_strings);
    if features
        .iter()
        .chain(form_strings.iter().map(|(text, _)| text))
        .any(|text| text.contains('<'))
    {
        return Some(Ambiguity::SeparatorInText);
    }
    // The string after the last identity, read as an identity.
    let next = features
        .first()
        .or(form_strings.first().map(|(text, _)| text));
    if let (Some(last), Some(next)) = (identities.last(), next) {
        if as_identity(next).is_some_and(|fields| fields.cmp(last) == Ordering::Greater) {
            return Some(Ambiguity::IdentityBoundary);
        }
    }
    // The forms' strings, read as features: strictly after the last feature, one after another.
    if !form_strings.is_empty() {
        let mut previous = features.last().copied();
        let continues = form_strings.iter().all(|(text, _)| {
            let after = previous.is_none_or(|previous| *text > previous);
            previous = Some(text);
            after
        });
        if continues {
            return Some(Ambiguity::FormBoundary);
        }
    }
    let split_off = form_strings.windows(2).any(|pair| {
        matches!(
            pair,
            [(value, FormString::Value), (field, FormString::EmptyField)] if field >= value
        )
    });
    split_off.then_some(Ambiguity::EmptyField)
}

/// `text` read as an identity's `category/type/lang/name`, split at its first three `/`, if
/// that gives the category and type XEP-0030 requires.
fn as_identity(text: &str) -> Option<[&str; 4]> {
    let mut parts = text.splitn(4, '/');
    let fields = [parts.next()?, parts.next()?, parts.next()?, parts.next()?];
    (!fields[0].is_empty() && !fields[1].is_empty()).then_some(fields)
}
