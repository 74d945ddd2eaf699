//! The operation model shared by the property tests (`tests/model_*.rs`), the corpus replay
//! (`tests/fuzz_corpus.rs`) and the fuzz targets (`fuzz/`), which include this directory by
//! path so that there is one model, not copies.
//!
//! * [`requester`]: operations on the requester half and a reference model of DESIGN.md's
//!   requester semantics, written for obviousness (vectors and linear scans), checked against
//!   the machine after every step.
//! * [`responder`]: registry operations and requests against a model of nodes.
//! * [`questions`]: whole lists, pages and questions about trees against honest and lying
//!   responders, for exactly-once completion.
//! * [`caps`]: entity capabilities against contacts honest and lying, for exactly-once
//!   completion and "a lie never reaches another contact".
//! * [`stanzas`]: a machine with something of everything in it, for hostile stanzas.
//! * [`twins`]: every answer with a given XEP-0115 string, the forger's toolbox.
//! * [`reading`]: the reading of XEP-0115 strings on its own, for "no other reading is shared".
//! * [`bytes`]: decoding operations from raw fuzzer bytes.
//! * [`forms`]: the three forms of a stanza the machine sends, checked to agree.

#![allow(dead_code)]

pub mod bytes;
pub mod caps;
pub mod forms;
pub mod questions;
pub mod reading;
pub mod requester;
pub mod responder;
pub mod stanzas;
pub mod twins;

pub const INFO: &str = "http://jabber.org/protocol/disco#info";
pub const ITEMS: &str = "http://jabber.org/protocol/disco#items";

/// XML 1.0's `Char` production, as the specification writes it: whether a stanza can carry `c`.
pub fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Whether the machine must accept `text` as a node name: not empty, every character XML's.
pub fn valid_node(text: &str) -> bool {
    !text.is_empty() && text.chars().all(xml_char)
}
