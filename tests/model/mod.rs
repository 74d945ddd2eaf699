//! The operation model shared by the property tests (`tests/model_*.rs`), the corpus replay
//! (`tests/fuzz_corpus.rs`) and the fuzz targets (`fuzz/`), which include this directory by
//! path so that there is one model, not copies.
//!
//! * [`requester`]: operations on the requester half and a reference model of DESIGN.md's
//!   requester semantics, written for obviousness (vectors and linear scans), checked against
//!   the machine after every step.
//! * [`responder`]: registry operations and requests against a model of nodes.
//! * [`stanzas`]: a machine with something of everything in it, for hostile stanzas.
//! * [`bytes`]: decoding operations from raw fuzzer bytes.

#![allow(dead_code)]

pub mod bytes;
pub mod requester;
pub mod responder;
pub mod stanzas;

pub const INFO: &str = "http://jabber.org/protocol/disco#info";
pub const ITEMS: &str = "http://jabber.org/protocol/disco#items";
