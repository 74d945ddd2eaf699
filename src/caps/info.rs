//! A `disco#info` answer as the two XEPs hash it: read element by element, checked by each
//! XEP's rules, and turned into XEP-0115's string `S` or XEP-0390's hash input.

use std::collections::BTreeSet;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use xmpp_parsers::data_forms::{DataForm, FieldType};
use xmpp_parsers::disco::DiscoInfoResult;
use xmpp_parsers::minidom::rxml::Namespace;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::ns;

use super::legacy::LegacyString;
use super::reading::{self, Reading, Role, Unreadable, Unshared, FORM_TYPE};

/// Why an answer cannot stand for a capabilities hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CapsError {
    /// Not a `disco#info` `<query/>`.
    #[error("not a disco#info query")]
    NotInfo,
    /// Two identities share a category, type, `xml:lang` and name (XEP-0115 §5.4).
    #[error(
        "two identities of category {category:?}, type {type_:?}, language {lang:?} and one name"
    )]
    DuplicateIdentity {
        /// The category.
        category: String,
        /// The type.
        type_: String,
        /// The language.
        lang: Option<String>,
    },
    /// An identity without its category or type.
    #[error("an identity without its category or type")]
    IncompleteIdentity,
    /// A feature listed twice (XEP-0115 §5.4).
    #[error("the feature {0:?} is listed twice")]
    DuplicateFeature(String),
    /// A feature without `var`.
    #[error("a feature without var")]
    IncompleteFeature,
    /// Two forms of one `FORM_TYPE` (XEP-0115 §5.4).
    #[error("two forms of FORM_TYPE {0:?}")]
    DuplicateFormType(String),
    /// A `FORM_TYPE` with different values (XEP-0115 §5.4).
    #[error("a FORM_TYPE field with different values")]
    FormTypeValues,
    /// A form without a hidden `FORM_TYPE` (XEP-0068), which XEP-0390 refuses (XEP-0115 ignores
    /// the form).
    #[error("a form without a hidden FORM_TYPE field")]
    FormWithoutFormType,
    /// A form with `<reported/>` or `<item/>`, which XEP-0390 refuses.
    #[error("a form with reported fields or items")]
    FormWithItems,
    /// A child other than identities, features and forms, which XEP-0390 refuses.
    #[error("an unexpected child <{0}/> in the query")]
    UnexpectedChild(String),
}

/// A hash function of XEP-0390 (the names are XEP-0300's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// `sha-256`, which every implementation must have.
    Sha256,
    /// `sha3-256`.
    Sha3_256,
    /// `blake2b-256`.
    Blake2b256,
}

impl Algorithm {
    /// The name XEP-0300 gives the function (the `algo` attribute).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha-256",
            Algorithm::Sha3_256 => "sha3-256",
            Algorithm::Blake2b256 => "blake2b-256",
        }
    }

    /// The function named `name`, if it is one of these.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Algorithm::Sha256,
            Algorithm::Sha3_256,
            Algorithm::Blake2b256,
        ]
        .into_iter()
        .find(|algorithm| algorithm.name() == name)
    }

    /// The digest of `input`.
    pub fn digest(self, input: &[u8]) -> Vec<u8> {
        match self {
            Algorithm::Sha256 => {
                use sha2::Digest;
                sha2::Sha256::digest(input).to_vec()
            }
            Algorithm::Sha3_256 => {
                use sha3::Digest;
                sha3::Sha3_256::digest(input).to_vec()
            }
            Algorithm::Blake2b256 => {
                use blake2::digest::consts::U32;
                use blake2::Digest;
                blake2::Blake2b::<U32>::digest(input).to_vec()
            }
        }
    }
}

/// One identity, as the hash sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Identity {
    category: String,
    type_: String,
    lang: Option<String>,
    name: Option<String>,
}

impl Identity {
    /// Category, type, language and name, an absent one empty: as they enter both hashes.
    fn fields(&self) -> [&str; 4] {
        [
            &self.category,
            &self.type_,
            self.lang.as_deref().unwrap_or_default(),
            self.name.as_deref().unwrap_or_default(),
        ]
    }
}

/// One XEP-0128 form, as the hash sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Form {
    /// The `FORM_TYPE`, if the form has one of type `hidden`.
    form_type: Option<String>,
    /// The first value of a `FORM_TYPE` field of any type: XEP-0115 §5.4's step 5 looks at
    /// every form's `FORM_TYPE` before step 6 ignores those that are not hidden.
    declared_type: Option<String>,
    /// Every field, `FORM_TYPE` included: (`var`, values).
    fields: Vec<(String, Vec<String>)>,
}

/// A `disco#info` answer as entity capabilities hash it, checked as XEP-0115 §5.4 asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapsInfo {
    identities: Vec<Identity>,
    features: Vec<String>,
    forms: Vec<Form>,
    /// What XEP-0390 refuses and XEP-0115 tolerates, found while reading.
    strict: Option<CapsError>,
}

impl CapsInfo {
    /// Reads a received `disco#info` `<query/>`, element by element, keeping every
    /// duplicate: each XEP judges the answer by its own rules ([`legacy_check`](Self::legacy_check)
    /// for XEP-0115, [`input`](Self::input) for XEP-0390).
    ///
    /// # Errors
    ///
    /// [`CapsError::NotInfo`], or an identity or feature without its required attributes: no
    /// hash can be computed over such an answer.
    pub fn from_query(query: &Element) -> Result<Self, CapsError> {
        if !query.is("query", ns::DISCO_INFO) {
            return Err(CapsError::NotInfo);
        }
        let mut info = CapsInfo {
            identities: Vec::new(),
            features: Vec::new(),
            forms: Vec::new(),
            strict: None,
        };
        for child in query.children() {
            if child.is("identity", ns::DISCO_INFO) {
                let (Some(category), Some(type_)) = (child.attr("category"), child.attr("type"))
                else {
                    return Err(CapsError::IncompleteIdentity);
                };
                info.identities.push(Identity {
                    category: category.to_owned(),
                    type_: type_.to_owned(),
                    lang: child.attr_ns(Namespace::xml(), "lang").map(str::to_owned),
                    name: child.attr("name").map(str::to_owned),
                });
            } else if child.is("feature", ns::DISCO_INFO) {
                let var = child.attr("var").ok_or(CapsError::IncompleteFeature)?;
                info.features.push(var.to_owned());
            } else if child.is("x", ns::DATA_FORMS) {
                info.forms.push(read_form(child, &mut info.strict));
            } else {
                info.strict
                    .get_or_insert(CapsError::UnexpectedChild(child.name().to_owned()));
            }
        }
        Ok(info)
    }

    /// The answer `info` makes (the machine's own, say). Its features are a set already, so
    /// only identities and forms can be ill-formed.
    ///
    /// # Errors
    ///
    /// What [`legacy_check`](Self::legacy_check) refuses: an answer announced under a hash
    /// must be one every peer can verify.
    pub fn from_info(info: &DiscoInfoResult) -> Result<Self, CapsError> {
        let mut caps = CapsInfo {
            identities: info
                .identities
                .iter()
                .map(|identity| Identity {
                    category: identity.category.clone(),
                    type_: identity.type_.clone(),
                    lang: identity.lang.clone(),
                    name: identity.name.clone(),
                })
                .collect(),
            features: info.features.iter().cloned().collect(),
            forms: Vec::new(),
            strict: None,
        };
        for form in &info.extensions {
            caps.forms.push(typed_form(form));
        }
        caps.legacy_check()?;
        Ok(caps)
    }

    /// XEP-0115 §5.4's rules for a well-formed answer, in the order of its steps: an identity
    /// twice (same category, type, `xml:lang` and name), a feature twice, then two forms of one
    /// `FORM_TYPE` or a `FORM_TYPE` with different values. Step 5 comes before step 6, which
    /// ignores forms whose `FORM_TYPE` is not hidden: so a form's `FORM_TYPE` field counts here
    /// whatever its type.
    ///
    /// # Errors
    ///
    /// The first rule broken. An answer that breaks one answers the entity that gave it, and
    /// never stands for a XEP-0115 hash. (XEP-0390 has rules of its own: see
    /// [`input`](Self::input).)
    pub fn legacy_check(&self) -> Result<(), CapsError> {
        let mut identities = BTreeSet::new();
        for identity in &self.identities {
            if !identities.insert(identity.fields()) {
                return Err(CapsError::DuplicateIdentity {
                    category: identity.category.clone(),
                    type_: identity.type_.clone(),
                    lang: identity.lang.clone(),
                });
            }
        }
        let mut features = BTreeSet::new();
        for feature in &self.features {
            if !features.insert(feature) {
                return Err(CapsError::DuplicateFeature(feature.clone()));
            }
        }
        let mut form_types = BTreeSet::new();
        for form in &self.forms {
            let Some(form_type) = &form.declared_type else {
                continue;
            };
            let values: BTreeSet<&String> = form
                .fields
                .iter()
                .filter(|(var, _)| var == FORM_TYPE)
                .flat_map(|(_, values)| values)
                .collect();
            if values.len() > 1 {
                return Err(CapsError::FormTypeValues);
            }
            if !form_types.insert(form_type) {
                return Err(CapsError::DuplicateFormType(form_type.clone()));
            }
        }
        Ok(())
    }

    /// XEP-0115 §5.1's string `S`, whose SHA-1 is the verification string.
    pub fn legacy_input(&self) -> String {
        self.legacy_string().joined()
    }

    /// The parts of `S`, each in XEP-0115 §5.1's order: identities by category, then type,
    /// then `xml:lang`, field by field (sorting the joined strings instead would put `en-GB`
    /// before `en`, since `-` sorts before `/`), by name last, where §5.4 lets two identities
    /// differ only by it; features in `i;octet` order; then the forms' strings (steps 6 and 7),
    /// each with its role: forms without a hidden `FORM_TYPE` are left out (§5.4 step 6), forms
    /// sort by `FORM_TYPE`, fields by `var`, values by their text.
    fn legacy_string(&self) -> LegacyString<'_> {
        let mut identities: Vec<[&str; 4]> = self.identities.iter().map(Identity::fields).collect();
        identities.sort_unstable();
        let mut features: Vec<&str> = self.features.iter().map(String::as_str).collect();
        features.sort_unstable();
        let mut forms: Vec<(&str, &Form)> = self
            .forms
            .iter()
            .filter_map(|form| Some((form.form_type.as_deref()?, form)))
            .collect();
        forms.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut form_strings = Vec::new();
        for (form_type, form) in forms {
            form_strings.push((form_type, Role::FormType));
            let mut fields: Vec<&(String, Vec<String>)> = form
                .fields
                .iter()
                .filter(|(var, _)| var != FORM_TYPE)
                .collect();
            fields.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            for (var, values) in fields {
                form_strings.push((var.as_str(), Role::Field));
                let mut values: Vec<&str> = values.iter().map(String::as_str).collect();
                values.sort_unstable();
                form_strings.extend(values.into_iter().map(|value| (value, Role::Value)));
            }
        }
        LegacyString {
            identities,
            features,
            form_strings,
            uncovered_form: self.forms.iter().any(|form| form.form_type.is_none()),
        }
    }

    /// The reading of this answer's XEP-0115 string `S` (see [`Reading`]), if `S` has one.
    ///
    /// # Errors
    ///
    /// [`Unreadable`] when `S` has no reading.
    pub fn legacy_reading(&self) -> Result<Reading, Unreadable> {
        Reading::parse(&self.legacy_input())
    }

    /// Whether this answer may be shared under its XEP-0115 hash, by every entity claiming the
    /// hash: only if it **is** the reading of its own `S` (see [`Reading`]). At most one
    /// answer per `S` passes, whatever the others are, since the reading is a function of `S`.
    /// Returns the reading, which is this answer.
    ///
    /// # Errors
    ///
    /// [`Unshared`]: a form the hash does not cover, an `S` without a reading, or an `S` that
    /// reads as a different answer (a forged twin is one).
    pub fn legacy_shareable(&self) -> Result<Reading, Unshared> {
        let parts = self.legacy_string();
        if parts.uncovered_form {
            return Err(Unshared::UncoveredForm);
        }
        let reading = Reading::parse(&parts.joined())?;
        if !parts.is(&reading) {
            return Err(Unshared::OtherReading);
        }
        Ok(reading)
    }

    /// The answer as XEP-0390 covers it, for every entity claiming its hash: identities (an
    /// empty language or name absent), features, and each form's fields with their values,
    /// sorted, with no field type of the sender's. Two answers with one XEP-0390 input give
    /// the same.
    pub(crate) fn modern_info(&self) -> DiscoInfoResult {
        let mut identities: Vec<[&str; 4]> = self.identities.iter().map(Identity::fields).collect();
        identities.sort_unstable();
        let mut forms: Vec<Vec<(&str, Vec<String>)>> = self
            .forms
            .iter()
            .map(|form| {
                let mut fields: Vec<(&str, Vec<String>)> = form
                    .fields
                    .iter()
                    .map(|(var, values)| {
                        let mut values = values.clone();
                        values.sort_unstable();
                        (var.as_str(), values)
                    })
                    .collect();
                fields.sort_unstable();
                fields
            })
            .collect();
        forms.sort_unstable();
        let forms = forms.into_iter().map(reading::form).collect();
        reading::info(&identities, self.features.iter().map(String::as_str), forms)
    }

    /// XEP-0115's verification string: the SHA-1 of [`legacy_input`](Self::legacy_input), in
    /// Base64.
    pub fn legacy_ver(&self) -> String {
        BASE64.encode(self.legacy_digest())
    }

    /// The SHA-1 of [`legacy_input`](Self::legacy_input).
    pub(crate) fn legacy_digest(&self) -> [u8; 20] {
        use sha1::Digest;
        sha1::Sha1::digest(self.legacy_input().as_bytes()).into()
    }

    /// XEP-0390 §4.1's hash function input.
    ///
    /// # Errors
    ///
    /// What XEP-0390 refuses beyond XEP-0115: a form without a hidden `FORM_TYPE`, a form with
    /// items, a child that is not an identity, a feature or a form.
    pub fn input(&self) -> Result<Vec<u8>, CapsError> {
        if let Some(error) = &self.strict {
            return Err(error.clone());
        }
        if self.forms.iter().any(|form| form.form_type.is_none()) {
            return Err(CapsError::FormWithoutFormType);
        }
        let mut input = Vec::new();
        let mut features: Vec<Vec<u8>> = self
            .features
            .iter()
            .map(|feature| unit(feature.as_bytes(), 0x1f))
            .collect();
        features.sort_unstable();
        input.extend(features.concat());
        input.push(0x1c);
        let mut identities: Vec<Vec<u8>> = self
            .identities
            .iter()
            .map(|identity| {
                let mut bytes = Vec::new();
                for part in [
                    identity.category.as_str(),
                    identity.type_.as_str(),
                    identity.lang.as_deref().unwrap_or_default(),
                    identity.name.as_deref().unwrap_or_default(),
                ] {
                    bytes.extend(unit(part.as_bytes(), 0x1f));
                }
                bytes.push(0x1e);
                bytes
            })
            .collect();
        identities.sort_unstable();
        input.extend(identities.concat());
        input.push(0x1c);
        let mut forms: Vec<Vec<u8>> = self
            .forms
            .iter()
            .map(|form| {
                let mut fields: Vec<Vec<u8>> = form
                    .fields
                    .iter()
                    .map(|(var, values)| {
                        let mut values: Vec<Vec<u8>> = values
                            .iter()
                            .map(|value| unit(value.as_bytes(), 0x1f))
                            .collect();
                        values.sort_unstable();
                        let mut field = unit(var.as_bytes(), 0x1f);
                        field.extend(values.concat());
                        field.push(0x1e);
                        field
                    })
                    .collect();
                fields.sort_unstable();
                let mut form = fields.concat();
                form.push(0x1d);
                form
            })
            .collect();
        forms.sort_unstable();
        input.extend(forms.concat());
        input.push(0x1c);
        Ok(input)
    }

    /// The XEP-0390 hash of this answer with `algorithm`, in Base64.
    ///
    /// # Errors
    ///
    /// As [`input`](Self::input).
    pub fn hash(&self, algorithm: Algorithm) -> Result<String, CapsError> {
        Ok(BASE64.encode(algorithm.digest(&self.input()?)))
    }
}

/// `bytes` followed by the separator `end`.
fn unit(bytes: &[u8], end: u8) -> Vec<u8> {
    let mut unit = Vec::with_capacity(bytes.len() + 1);
    unit.extend_from_slice(bytes);
    unit.push(end);
    unit
}

/// A received form: its fields, and its `FORM_TYPE` if that field is hidden.
fn read_form(x: &Element, strict: &mut Option<CapsError>) -> Form {
    let mut fields = Vec::new();
    let (mut form_type, mut declared_type) = (None, None);
    for child in x.children() {
        if child.is("field", ns::DATA_FORMS) {
            let var = child.attr("var").unwrap_or_default().to_owned();
            let values: Vec<String> = child
                .children()
                .filter(|value| value.is("value", ns::DATA_FORMS))
                .map(Element::text)
                .collect();
            if var == FORM_TYPE {
                declared_type = declared_type.or_else(|| values.first().cloned());
                if child.attr("type") == Some("hidden") {
                    form_type = form_type.or_else(|| values.first().cloned());
                }
            }
            fields.push((var, values));
        } else if child.is("reported", ns::DATA_FORMS) || child.is("item", ns::DATA_FORMS) {
            strict.get_or_insert(CapsError::FormWithItems);
        }
    }
    Form {
        form_type,
        declared_type,
        fields,
    }
}

/// A typed form (the machine's own): the same as [`read_form`] reads. (xmpp-parsers' forms
/// hold no reported fields or items.)
fn typed_form(form: &DataForm) -> Form {
    let mut fields = Vec::new();
    let (mut form_type, mut declared_type) = (None, None);
    for field in &form.fields {
        let var = field.var.clone().unwrap_or_default();
        if var == FORM_TYPE {
            declared_type = declared_type.or_else(|| field.values.first().cloned());
            if field.type_ == FieldType::Hidden {
                form_type = form_type.or_else(|| field.values.first().cloned());
            }
        }
        fields.push((var, field.values.clone()));
    }
    Form {
        form_type,
        declared_type,
        fields,
    }
}
