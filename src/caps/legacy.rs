//! XEP-0115 §5.1's string `S`, in the parts it is joined from: what the verification string
//! hashes, and what the share rule compares with the [reading](super::reading) of `S`.

use super::reading::{identity, Reading, Role};

/// The parts of `S`, each sorted as XEP-0115 §5.1 says.
#[derive(Debug)]
pub(super) struct LegacyString<'a> {
    /// Each identity's category, type, `xml:lang` and name, an absent one empty.
    pub(super) identities: Vec<[&'a str; 4]>,
    pub(super) features: Vec<&'a str>,
    /// The strings the forms put in `S`, in its order, each with its role: a `FORM_TYPE`, a
    /// field's name or a value.
    pub(super) form_strings: Vec<(&'a str, Role)>,
    /// Whether a form without a hidden `FORM_TYPE` was left out: the hash does not cover it.
    pub(super) uncovered_form: bool,
}

impl LegacyString<'_> {
    /// `S` itself: identities as `category/type/lang/name`, then features, then the forms'
    /// strings, each followed by `<`.
    pub(super) fn joined(&self) -> String {
        let mut s = String::new();
        for [category, type_, lang, name] in &self.identities {
            s.push_str(&format!("{category}/{type_}/{lang}/{name}<"));
        }
        for text in self
            .features
            .iter()
            .chain(self.form_strings.iter().map(|(text, _)| text))
        {
            s.push_str(text);
            s.push('<');
        }
        s
    }

    /// Whether the answer these parts come from is `reading`, the reading of its `S`: each of
    /// its strings, in `S`'s order, is the reading's string at that place with the same role,
    /// and each identity splits at the reading's slashes. (An answer whose strings hold `<` has
    /// more strings in `S` than its own, so it fails here too.)
    pub(super) fn is(&self, reading: &Reading) -> bool {
        let count = self.identities.len() + self.features.len() + self.form_strings.len();
        let read: Vec<(&str, Role)> = reading.strings().collect();
        let (read_identities, read_others) = read.split_at(self.identities.len().min(read.len()));
        let identities =
            self.identities
                .iter()
                .zip(read_identities)
                .all(|(fields, (read, role))| {
                    *role == Role::Identity && identity(read).as_ref() == Some(fields)
                });
        let own_others = self
            .features
            .iter()
            .map(|feature| (*feature, Role::Feature))
            .chain(self.form_strings.iter().copied());
        count == read.len() && identities && own_others.eq(read_others.iter().copied())
    }
}
