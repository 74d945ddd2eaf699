//! Entity capabilities hashes: XEP-0115's verification string and XEP-0390's hash input,
//! computed exactly as the XEPs say, from an answer read element by element; and the rule that
//! decides which answer a hash stands for.
//!
//! A capabilities hash stands for a whole `disco#info` answer, shared by every entity that
//! announces it: a wrong answer accepted under a hash tells everyone claiming it what a stranger
//! wanted them to believe. So the answer is read from the received `<query/>` itself
//! ([`CapsInfo::from_query`]), before anything can merge its duplicates away (xmpp-parsers'
//! `DiscoInfoResult` keeps features in a set), and each XEP judges it by its own text: XEP-0115
//! §5.4 calls it ill-formed for an identity twice, a feature twice, two forms of one
//! `FORM_TYPE` or a `FORM_TYPE` with different values ([`CapsInfo::legacy_check`]); XEP-0390
//! §4.1 refuses foreign children, forms with items and forms without `FORM_TYPE`
//! ([`CapsInfo::input`]). Every sort is `i;octet` (byte order of the UTF-8); XEP-0115 sorts
//! identities field by field, forms by `FORM_TYPE`, fields by `var`, values by their text.
//!
//! # What is shared, and why at most one answer per hash
//!
//! An answer received for a hash is shared, under that hash, by every entity claiming it only
//! if:
//!
//! * its hash is the one claimed, under its XEP's rules above; and
//! * for XEP-0115, it **is the [reading](Reading) of its own string `S`**
//!   ([`CapsInfo::legacy_shareable`]). XEP-0115's `S` joins strings with `<` and `/`, which the
//!   strings may hold, and runs identities, features and forms together; so many different
//!   answers have one `S`, and one `ver` (XEP-0115, Security Considerations), and no check of
//!   the hash can tell which is a program's. The reading is one deterministic parse of `S`,
//!   string by string, that keeps only what XEP-0030 and XEP-0068 allow ([`Reading`] lists its
//!   rules). It is a function of `S`: two answers with one `S` cannot both be it. **So at most
//!   one answer per XEP-0115 hash is ever shared, by construction**, whatever a forger builds,
//!   and not because a list of known attacks was ruled out. Honest answers are their reading:
//!   every well-formed sha-1 answer of the public capsdb (1,558 of 1,563) but five that have no
//!   identity, which XEP-0030 requires (`tests/capsdb.rs`); an honest answer that is not is only
//!   not shared (each entity is asked for its own), never mistaken for another. Of the capsdb's
//!   answers that are not shared, none has a reading at all: no forger can get anything shared
//!   under their hashes.
//! * for XEP-0390, nothing more: its input separates its strings with bytes XML cannot carry,
//!   so one input is one answer. Where an entity claims both, its XEP-0390 hash is asked and
//!   decides what it is answered; the answer is stored under its XEP-0115 hash too only if it
//!   is the reading there.
//!
//! What is shared is what the hash covers, rendered the same way for every answer that covers
//! it alike (the reading of `S`, or the XEP-0390 input's content): field types, labels and the
//! order of the XML are the sender's and are not passed on.
//!
//! An answer that is not shared answers the entity that gave it, and nobody else.
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
//! let reading = info.legacy_shareable()?;                           // it is its S's reading
//! assert_eq!(reading.to_string(), info.legacy_input());
//! let _sha256 = info.hash(Algorithm::Sha256)?;                      // XEP-0390
//! # Ok(())
//! # }
//! ```

mod announcement;
#[cfg(feature = "serde")]
mod capsdb;
mod claim;
mod import;
mod info;
mod language;
mod legacy;
mod reading;

pub use announcement::CapsAnnouncement;
#[cfg(feature = "serde")]
pub use capsdb::{from_json, to_json, CapsDbEntry, CapsDbError, CapsDbFields, CapsDbIdentity};
pub(crate) use claim::{read as read_claim, Claim, Function, HashKey, Interner, Skipped, Verdict};
pub(crate) use import::verify as verify_stored;
pub use import::{CapsImport, CapsStore};
pub use info::{Algorithm, CapsError, CapsInfo};
pub use reading::{ReadFields, Reading, Unreadable, Unshared, KNOWN_FORMS};

#[cfg(test)]
mod tests;
