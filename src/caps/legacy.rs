//! XEP-0115 §5.1's string `S`, in the parts it is joined from: what the verification string
//! hashes, and what [`Ambiguity`](super::ambiguity::Ambiguity) reads for the marks of a
//! forged twin.

/// What a string of the forms' part of XEP-0115's `S` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FormString {
    FormType,
    /// A field's `var` followed by at least one value.
    Field,
    /// A field's `var` followed by no value.
    EmptyField,
    Value,
}

/// The parts of `S`, each sorted as XEP-0115 §5.1 says.
#[derive(Debug)]
pub(super) struct LegacyString<'a> {
    /// Each identity's category, type, `xml:lang` and name, an absent one empty.
    pub(super) identities: Vec<[&'a str; 4]>,
    pub(super) features: Vec<&'a str>,
    /// The strings the forms put in `S`, in its order, each with its role.
    pub(super) form_strings: Vec<(&'a str, FormString)>,
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
}
