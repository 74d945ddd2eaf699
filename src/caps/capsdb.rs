//! The hash cache in the capsdb's JSON form (the XSF's database of known capabilities, whose
//! entries aioxmpp's `InfoQuery.to_dict` writes a subset of), so that a client can ship or load
//! a file of known-good hashes and skip the disco flood at its very first login.
//!
//! An entry names its hash (`hash`: the function, `ver`: the digest in Base64), the software's
//! `node` where known, and the answer: `identities` (`category`, `type`, `lang`, `name`),
//! `features`, and `forms`, each an object from field `var` to its values, `FORM_TYPE`
//! included. A file holds a JSON array of entries (a single entry is read too).
//!
//! Field types are not part of the format: a loaded form's `FORM_TYPE` is `hidden`, a field
//! with one value `text-single`, any other `text-multi` (neither hash covers them).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use xmpp_parsers::data_forms::{DataForm, DataFormType, Field, FieldType};
use xmpp_parsers::disco::DiscoInfoResult;
use xmpp_parsers::minidom::Element;

use super::claim::{Function, HashKey};
use super::info::{Algorithm, FORM_TYPE};
use crate::query::IdentityView;
use crate::write::payload;

/// One known hash and the answer it stands for, as the capsdb writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CapsDbEntry {
    /// The hash function: `sha-1` for XEP-0115, a XEP-0300 name (`sha-256`, ...) for XEP-0390.
    pub hash: String,
    /// The digest, in Base64 (XEP-0115's `ver`).
    pub ver: String,
    /// The software's XEP-0115 `node`, where known (the machine does not keep it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The answer's identities.
    pub identities: Vec<CapsDbIdentity>,
    /// The answer's features.
    pub features: Vec<String>,
    /// The answer's XEP-0128 forms, each from field `var` to its values.
    #[serde(default)]
    pub forms: Vec<BTreeMap<String, Vec<String>>>,
}

/// One identity of a [`CapsDbEntry`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CapsDbIdentity {
    /// The category.
    pub category: String,
    /// The type.
    #[serde(rename = "type")]
    pub type_: String,
    /// The `xml:lang` of the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// The name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A capsdb file that is not one.
#[derive(Debug, thiserror::Error)]
#[error("not a capsdb file: {0}")]
pub struct CapsDbError(#[from] serde_json::Error);

/// Reads a capsdb file: a JSON array of entries, or a single entry.
///
/// # Errors
///
/// [`CapsDbError`] when the text is not JSON of that shape. Entries are not verified here:
/// [`DiscoMachine::import_capsdb`](crate::DiscoMachine::import_capsdb) does that.
pub fn from_json(json: &str) -> Result<Vec<CapsDbEntry>, CapsDbError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum File {
        Many(Vec<CapsDbEntry>),
        One(CapsDbEntry),
    }
    Ok(match serde_json::from_str(json)? {
        File::Many(entries) => entries,
        File::One(entry) => vec![entry],
    })
}

/// Writes `entries` as a capsdb file (a JSON array, indented).
pub fn to_json(entries: &[CapsDbEntry]) -> String {
    // Strings, vectors and maps of strings always serialise.
    serde_json::to_string_pretty(entries).unwrap_or_default()
}

impl CapsDbEntry {
    /// The entry for `info`, verified under `hash`.
    pub(crate) fn new(hash: HashKey, info: &DiscoInfoResult) -> Self {
        CapsDbEntry {
            hash: hash.function().name().to_owned(),
            ver: hash.encoded(),
            node: None,
            identities: info
                .identities
                .iter()
                .map(|identity| CapsDbIdentity {
                    category: identity.category.clone(),
                    type_: identity.type_.clone(),
                    lang: identity.lang.clone(),
                    name: identity.name.clone(),
                })
                .collect(),
            features: info.features.iter().cloned().collect(),
            forms: info
                .extensions
                .iter()
                .map(|form| {
                    form.fields
                        .iter()
                        .filter_map(|field| Some((field.var.clone()?, field.values.clone())))
                        .collect()
                })
                .collect(),
        }
    }

    /// The hash this entry names, if it is one the machine computes.
    pub(crate) fn key(&self) -> Option<HashKey> {
        let function = match self.hash.as_str() {
            "sha-1" => Function::Legacy,
            name => Function::Modern(Algorithm::from_name(name)?),
        };
        HashKey::decode(function, &self.ver)
    }

    /// The answer as a `disco#info` `<query/>`: what the machine verifies on import, as it
    /// verifies an answer received from the network.
    pub fn to_query(&self) -> Element {
        let identities = self.identities.iter().map(|identity| IdentityView {
            category: &identity.category,
            type_: &identity.type_,
            lang: identity.lang.as_deref(),
            name: identity.name.as_deref(),
        });
        let forms: Vec<DataForm> = self.forms.iter().map(form).collect();
        payload::info(
            None,
            identities,
            self.features.iter().map(String::as_str),
            &forms,
        )
    }
}

/// A form from its fields: `FORM_TYPE` hidden and first, as XEP-0068 writes it.
fn form(fields: &BTreeMap<String, Vec<String>>) -> DataForm {
    let mut form = DataForm {
        type_: DataFormType::Result_,
        title: None,
        instructions: None,
        fields: Vec::new(),
    };
    for (var, values) in fields {
        let type_ = match (var.as_str(), values.len()) {
            (FORM_TYPE, _) => FieldType::Hidden,
            (_, 1) => FieldType::TextSingle,
            _ => FieldType::TextMulti,
        };
        let mut field = Field::new(var, type_);
        field.values.clone_from(values);
        if var == FORM_TYPE {
            form.fields.insert(0, field);
        } else {
            form.fields.push(field);
        }
    }
    form
}
