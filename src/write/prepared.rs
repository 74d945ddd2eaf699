//! An answer's `<query/>` payload, built once and shared by every response that carries it,
//! with its XML bytes written on first need.
//!
//! A static node answers the same payload until it changes. Responses in the queue share it
//! through an `Arc`, so queueing an answer copies nothing; the copy a host receives is made when
//! it takes the [`Transmit`](crate::Transmit), and only in the form it asks for: an `Element`
//! clone for [`into_element`](crate::Transmit::into_element), or, for
//! [`write_to`](crate::Transmit::write_to), the payload's bytes, serialised once per payload
//! and copied after a hand-written envelope. Serialising the
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

    /// The payload.
    pub(crate) fn element(&self) -> &Element {
        &self.element
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

#[cfg(test)]
mod tests {
    use super::*;

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
