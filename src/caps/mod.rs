//! Entity capabilities hashes: XEP-0115's verification string and XEP-0390's hash input,
//! computed exactly as the XEPs say, from an answer read element by element.
//!
//! A capabilities hash stands for a whole `disco#info` answer, shared by every entity that
//! announces it: a wrong hash accepted poisons what other entities are believed to support.
//! So the answer is read from the received `<query/>` itself ([`CapsInfo::from_query`]), before
//! anything can merge its duplicates away (xmpp-parsers' `DiscoInfoResult` keeps features in a
//! set), and each XEP judges it by its own text: XEP-0115 §5.4 calls it ill-formed for an
//! identity twice, a feature twice, two forms of one `FORM_TYPE` or a `FORM_TYPE` with
//! different values ([`CapsInfo::legacy_check`]); XEP-0390 §4.1 refuses foreign children, forms
//! with items and forms without `FORM_TYPE` ([`CapsInfo::input`]). Every sort is `i;octet`
//! (byte order of the UTF-8); XEP-0115 sorts identities field by field, forms by `FORM_TYPE`,
//! fields by `var`, values by their text. An XEP-0115 answer that hashes right may still be a
//! forged twin of another ([`CapsInfo::legacy_ambiguity`], [`Ambiguity`]).
//!
//! ```
//! use xmpp_disco::caps::{Algorithm, CapsInfo};
//! use xmpp_disco::xmpp_parsers::minidom::Element;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let query: Element = "<query xmlns='http://jabber.org/protocol/disco#info'>\
//!     <identity category='client' type='pc' name='Exodus 0.9.1'/>\
//!     <feature var='http://jabber.org/protocol/caps'/>\
//!     <feature var='http://jabber.org/protocol/disco#info'/>\
//!     <feature var='http://jabber.org/protocol/disco#items'/>\
//!     <feature var='http://jabber.org/protocol/muc'/></query>".parse()?;
//! let info = CapsInfo::from_query(&query)?;
//! info.legacy_check()?;                                             // XEP-0115 §5.4
//! assert_eq!(info.legacy_ver(), "QgayPKawpkPSDYmwT/WM94uAlu0="); // XEP-0115 §5.2
//! assert_eq!(info.legacy_ambiguity(), None);                        // no forged twin's marks
//! let _sha256 = info.hash(Algorithm::Sha256)?;                      // XEP-0390
//! # Ok(())
//! # }
//! ```

mod ambiguity;
mod announcement;
#[cfg(feature = "serde")]
mod capsdb;
mod claim;
mod info;
mod legacy;

pub use ambiguity::Ambiguity;
pub use announcement::CapsAnnouncement;
#[cfg(feature = "serde")]
pub use capsdb::{from_json, to_json, CapsDbEntry, CapsDbError, CapsDbIdentity};
pub(crate) use claim::{read as read_claim, Claim, Function, HashKey, Interner, Verdict};
pub use info::{Algorithm, CapsError, CapsInfo};

#[cfg(test)]
mod tests;
