//! The three forms of a [`Transmit`] (element, typed IQ, bytes) must say the same thing: every
//! test and fuzz target that drains the machine takes each stanza through all three.

use xmpp_disco::xmpp_parsers::minidom::{Element, Node};
use xmpp_disco::Transmit;

/// The stanza as an element, after checking that its bytes and its typed IQ say the same. A
/// typed IQ has no namespace of its own (xmpp-parsers writes it as `jabber:client`), so it is
/// compared by name, attributes and content.
pub fn element_of(transmit: Transmit) -> Element {
    let mut bytes = Vec::new();
    transmit
        .write_to(&mut bytes)
        .expect("everything the machine queues can be written");
    let written = Element::from_reader(bytes.as_slice()).expect("the machine writes XML");
    let typed = Element::from(transmit.clone().into_iq());
    let to = transmit.to().map(|to| to.to_string());
    let id = transmit.id().to_owned();
    let element = transmit.into_element();
    assert_eq!(written, element, "bytes and element differ");
    assert_eq!(typed.name(), element.name());
    assert_eq!(
        typed.attrs(),
        element.attrs(),
        "typed IQ and element differ"
    );
    assert!(
        same_content(&typed, &element),
        "typed IQ and element differ: {typed:?} {element:?}"
    );
    assert_eq!(element.attr("to").map(str::to_owned), to);
    assert_eq!(element.attr("id"), Some(id.as_str()));
    element
}

/// Whether two stanzas carry the same children, where a stanza error's `<error/>` (which is in
/// the stanza's namespace) may be written in another stanza namespace.
fn same_content(typed: &Element, element: &Element) -> bool {
    typed.nodes().count() == element.nodes().count()
        && typed.nodes().zip(element.nodes()).all(|pair| match pair {
            (Node::Element(a), Node::Element(b)) if a.name() == "error" && b.name() == "error" => {
                a.attrs().eq(b.attrs()) && a.nodes().eq(b.nodes())
            }
            (a, b) => a == b,
        })
}
