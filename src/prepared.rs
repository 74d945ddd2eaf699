//! An answer's `<query/>` payload, built once and shared by every response that carries it,
//! with its XML bytes written on first need.
//!
//! A static node answers the same payload until it changes. Responses in the queue share it
//! through an `Arc`, so queueing an answer copies nothing; the copy a host receives is made when
//! it drains the queue, and only in the form it asks for: an `Element` clone for
//! [`poll_transmit`](crate::DiscoMachine::poll_transmit), or, for
//! [`poll_transmit_bytes`](crate::DiscoMachine::poll_transmit_bytes), the payload's bytes,
//! serialised once per payload and copied after a hand-written envelope. Serialising the
//! payload is most of what writing a response costs; doing it once per node change instead of
//! once per request is what makes the byte path cheap.

use std::sync::{Arc, OnceLock};

use xmpp_parsers::minidom::Element;

use crate::error::WriteError;

#[derive(Debug)]
pub(crate) struct Prepared {
    element: Element,
    bytes: OnceLock<Result<Vec<u8>, WriteError>>,
}

impl Prepared {
    pub(crate) fn new(element: Element) -> Arc<Prepared> {
        Arc::new(Prepared {
            element,
            bytes: OnceLock::new(),
        })
    }

    /// The payload as an element of its own: moved out if this is the last reference.
    pub(crate) fn into_element(self: Arc<Self>) -> Element {
        match Arc::try_unwrap(self) {
            Ok(prepared) => prepared.element,
            Err(shared) => shared.element.clone(),
        }
    }

    /// The payload as XML, written the first time it is asked for.
    pub(crate) fn bytes(&self) -> Result<&[u8], WriteError> {
        self.bytes
            .get_or_init(|| {
                let mut bytes = Vec::with_capacity(1024);
                self.element.write_to(&mut bytes)?;
                Ok(bytes)
            })
            .as_ref()
            .map(Vec::as_slice)
            .map_err(Clone::clone)
    }
}

/// Appends `value` to `out` as the content of an attribute quoted with `'`, escaped.
///
/// Tabs and line breaks become character references, so that attribute-value normalisation
/// gives the value back unchanged. A character XML cannot carry at all is an error.
pub(crate) fn write_attribute_value(out: &mut Vec<u8>, value: &str) -> Result<(), WriteError> {
    let mut plain = 0;
    for (at, c) in value.char_indices() {
        let escape: &[u8] = match c {
            '&' => b"&amp;",
            '<' => b"&lt;",
            '>' => b"&gt;",
            '\'' => b"&apos;",
            '"' => b"&quot;",
            '\t' => b"&#9;",
            '\n' => b"&#10;",
            '\r' => b"&#13;",
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                return Err(WriteError::InvalidCharacter(c));
            }
            _ => continue,
        };
        out.extend_from_slice(&value.as_bytes()[plain..at]);
        out.extend_from_slice(escape);
        plain = at + c.len_utf8();
    }
    out.extend_from_slice(&value.as_bytes()[plain..]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(value: &str) -> Result<String, WriteError> {
        let mut out = Vec::new();
        write_attribute_value(&mut out, value)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn attribute_values_read_back_unchanged() {
        for value in [
            "plain",
            "",
            "a&b<c>d'e\"f",
            "tab\tnew\nline\rend",
            "ünï ✓ 𝄞",
            "&amp;",
        ] {
            let xml = format!("<x xmlns='urn:t' v='{}'/>", attribute(value).unwrap());
            let element: Element = xml.parse().unwrap();
            assert_eq!(element.attr("v"), Some(value), "{xml}");
        }
    }

    #[test]
    fn characters_xml_cannot_carry_are_refused() {
        for c in ['\0', '\u{1}', '\u{1F}', '\u{FFFE}', '\u{FFFF}'] {
            assert!(matches!(
                attribute(&format!("a{c}b")),
                Err(WriteError::InvalidCharacter(found)) if found == c
            ));
        }
    }

    #[test]
    fn a_shared_payload_is_cloned_a_last_one_moved() {
        let payload: Element = "<query xmlns='http://jabber.org/protocol/disco#info'/>"
            .parse()
            .unwrap();
        let shared = Prepared::new(payload.clone());
        let other = Arc::clone(&shared);
        assert_eq!(shared.into_element(), payload);
        assert_eq!(other.into_element(), payload);
    }
}
