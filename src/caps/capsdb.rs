//! Verified answers in the capsdb's JSON form: the shape of the public capsdb's `db.json` (a
//! collection of answers captured from real clients, published for pre-loading), so that one
//! file format serves a database a client ships and the answers a machine keeps across runs.
//!
//! A file is one JSON object from each hash's digest in Base64 (XEP-0115's `ver`) to its
//! entry: `hash` (the function: `sha-1` for XEP-0115, a XEP-0300 name such as `sha-256` for
//! XEP-0390), `node` (the software's XEP-0115 `node`, where known), and the answer:
//! `identities` (`category`, `type`, `lang`, `name`), `features`, and `forms`, an object from
//! each form's `FORM_TYPE` to its fields, each from its `var` to its values. Files this crate
//! wrote before (a JSON array of entries each with its `ver`, their forms a list of field
//! maps, `FORM_TYPE` among the fields) are read too.
//!
//! Field types are not part of the format, nor covered by either hash: a loaded form's
//! `FORM_TYPE` is `hidden`, a field with one value `text-single`, any other `text-multi`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use xmpp_parsers::disco::DiscoInfoResult;
use xmpp_parsers::minidom::Element;

use super::claim::{HashKey, Skipped};
use super::reading::{self, FORM_TYPE};
use crate::query::IdentityView;
use crate::write::payload;

/// A form's fields, each from its `var` to its values.
pub type CapsDbFields = BTreeMap<String, Vec<String>>;

/// One known hash and the answer it stands for, as the capsdb writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CapsDbEntry {
    /// The hash function: `sha-1` for XEP-0115, a XEP-0300 name (`sha-256`, ...) for XEP-0390.
    pub hash: String,
    /// The digest, in Base64 (XEP-0115's `ver`): the key of the entry in a file.
    #[serde(default, skip_serializing)]
    pub ver: String,
    /// The software's XEP-0115 `node`, where known (the machine does not keep it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The answer's identities.
    pub identities: Vec<CapsDbIdentity>,
    /// The answer's features.
    pub features: Vec<String>,
    /// The answer's XEP-0128 forms, from each form's `FORM_TYPE` to its other fields.
    #[serde(default, deserialize_with = "forms")]
    pub forms: BTreeMap<String, CapsDbFields>,
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

/// Forms as `db.json` writes them (by `FORM_TYPE`), or as this crate wrote them before (a list
/// of field maps, `FORM_TYPE` among the fields; a form without one cannot stand for a hash and
/// is dropped).
fn forms<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, CapsDbFields>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Forms {
        ByType(BTreeMap<String, CapsDbFields>),
        Listed(Vec<CapsDbFields>),
    }
    Ok(match Forms::deserialize(deserializer)? {
        Forms::ByType(forms) => forms,
        Forms::Listed(forms) => forms
            .into_iter()
            .filter_map(|mut fields| {
                let form_type = fields.remove(FORM_TYPE)?.into_iter().next()?;
                Some((form_type, fields))
            })
            .collect(),
    })
}

/// Reads a capsdb file: `db.json` as the capsdb ships it, or a file this crate wrote (see the
/// module docs).
///
/// # Errors
///
/// [`CapsDbError`] when the text is not JSON of one of these shapes. Entries are not verified
/// here: [`DiscoMachine::import_capsdb`](crate::DiscoMachine::import_capsdb) does that.
pub fn from_json(json: &str) -> Result<Vec<CapsDbEntry>, CapsDbError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum File {
        ByVer(BTreeMap<String, CapsDbEntry>),
        Many(Vec<CapsDbEntry>),
        One(CapsDbEntry),
    }
    Ok(match serde_json::from_str(json)? {
        File::ByVer(entries) => entries
            .into_iter()
            .map(|(ver, entry)| CapsDbEntry { ver, ..entry })
            .collect(),
        File::Many(entries) => entries,
        File::One(entry) => vec![entry],
    })
}

/// Writes `entries` as a capsdb file in `db.json`'s shape (an object keyed by `ver`, indented).
pub fn to_json(entries: &[CapsDbEntry]) -> String {
    let file: BTreeMap<&str, &CapsDbEntry> = entries
        .iter()
        .map(|entry| (entry.ver.as_str(), entry))
        .collect();
    // Strings, vectors and maps of strings always serialise.
    serde_json::to_string_pretty(&file).unwrap_or_default()
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
                .filter_map(|form| {
                    let mut fields: CapsDbFields = form
                        .fields
                        .iter()
                        .filter_map(|field| Some((field.var.clone()?, field.values.clone())))
                        .collect();
                    let form_type = fields.remove(FORM_TYPE)?.into_iter().next()?;
                    Some((form_type, fields))
                })
                .collect(),
        }
    }

    /// The hash this entry names.
    pub(crate) fn key(&self) -> Result<HashKey, Skipped> {
        HashKey::named(&self.hash, &self.ver)
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
        let forms: Vec<_> = self
            .forms
            .iter()
            .map(|(form_type, fields)| {
                let form_type = (FORM_TYPE, vec![form_type.clone()]);
                let fields = fields
                    .iter()
                    .map(|(var, values)| (var.as_str(), values.clone()));
                reading::form(std::iter::once(form_type).chain(fields))
            })
            .collect();
        payload::info(
            None,
            identities,
            self.features.iter().map(String::as_str),
            &forms,
        )
    }
}
