//! The door for host text: every string the host hands the machine that will end up in XML is
//! checked here once, when it comes in.
//!
//! XML 1.0 cannot carry every Unicode scalar value: control characters other than tab, line
//! feed and carriage return, and U+FFFE / U+FFFF, are outside its `Char` production. minidom's
//! writer panics on them, and no stream could carry them anyway. Text from the network has
//! passed an XML parser and is always fine; text from the host (nodes, features, identities,
//! items, forms, dynamic and deferred answers, the ids of typed IQs) is checked here, so that
//! what the machine queues can always be written. JIDs need no check: the `jid` crate refuses
//! these characters when a [`Jid`](xmpp_parsers::jid::Jid) is made.

use xmpp_parsers::minidom::rxml::NcName;
use xmpp_parsers::minidom::{Element, Node};

use crate::error::{InvalidArgument, InvalidText, TextField};

/// Checks that XML can carry `text`, the host's `field`.
///
/// Works on bytes: every character XML refuses is either a single byte below 0x20 or the
/// three-byte sequence of U+FFFE / U+FFFF, so plain text costs one comparison per byte.
pub(crate) fn check(field: TextField, text: &str) -> Result<(), InvalidText> {
    let bytes = text.as_bytes();
    let suspect = |(at, &byte): &(usize, &u8)| {
        (byte < 0x20 && !matches!(byte, b'\t' | b'\n' | b'\r'))
            || (byte == 0xEF
                && bytes.get(at + 1) == Some(&0xBF)
                && bytes.get(at + 2) >= Some(&0xBE))
    };
    match bytes.iter().enumerate().find(suspect) {
        None => Ok(()),
        Some((at, _)) => {
            let character = text
                .get(at..)
                .and_then(|rest| rest.chars().next())
                .unwrap_or(char::REPLACEMENT_CHARACTER);
            Err(InvalidText::Character { field, character })
        }
    }
}

/// [`check`] for an optional text.
pub(crate) fn check_opt(field: TextField, text: Option<&str>) -> Result<(), InvalidText> {
    text.map_or(Ok(()), |text| check(field, text))
}

/// Checks a node name the host gives: neither empty (XEP-0030 §3.3) nor holding what XML
/// cannot carry.
pub(crate) fn check_node(node: &str) -> Result<(), InvalidArgument> {
    if node.is_empty() {
        return Err(InvalidArgument::EmptyNode);
    }
    Ok(check(TextField::Node, node)?)
}

/// Checks a whole element the host built (a form, the application condition of a stanza
/// error, an answer's payload): names, namespaces, attribute values and text, all the way down.
pub(crate) fn check_element(field: TextField, element: &Element) -> Result<(), InvalidText> {
    if NcName::try_from(element.name()).is_err() {
        return Err(InvalidText::Name { field });
    }
    check(field, &element.ns())?;
    for ((namespace, _name), value) in element.attrs() {
        check(field, namespace.as_str())?;
        check(field, value)?;
    }
    for node in element.nodes() {
        match node {
            Node::Element(child) => check_element(field, child)?,
            Node::Text(text) => check(field, text)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// XML 1.0's `Char` production, as the specification writes it (Rust's `char` has no
    /// surrogates): the reference the byte check is tested against.
    fn is_xml_char(c: char) -> bool {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
    }

    #[test]
    fn the_byte_check_agrees_with_the_xml_production() {
        let samples = [
            '\0',
            '\u{1}',
            '\t',
            '\n',
            '\u{b}',
            '\r',
            '\u{1f}',
            ' ',
            'a',
            '\u{7f}',
            'é',
            '\u{D7FF}',
            '\u{E000}',
            '\u{FFFD}',
            '\u{FFFE}',
            '\u{FFFF}',
            '\u{10000}',
            '\u{10FFFF}',
            '\u{EFBE}',
            '\u{FFBE}',
            '\u{FBFF}',
        ];
        for c in samples {
            for text in [format!("{c}"), format!("ab{c}cd"), format!("{c}{c}")] {
                let checked = check(TextField::Node, &text);
                assert_eq!(checked.is_ok(), is_xml_char(c), "{c:?} in {text:?}");
                if let Err(InvalidText::Character { character, .. }) = checked {
                    assert_eq!(character, c);
                }
            }
        }
    }

    #[test]
    fn elements_are_checked_all_the_way_down() {
        let good: Element =
            "<x xmlns='jabber:x:data' type='result'><field var='a'><value>1</value></field></x>"
                .parse()
                .unwrap();
        assert_eq!(check_element(TextField::Form, &good), Ok(()));
        let mut bad = good.clone();
        if let Some(field) = bad.children_mut().next() {
            field.append_text("\u{1}");
        }
        assert!(matches!(
            check_element(TextField::Form, &bad),
            Err(InvalidText::Character {
                character: '\u{1}',
                ..
            })
        ));
        let unnamed = Element::builder("not a name", "urn:x").build();
        assert!(matches!(
            check_element(TextField::Form, &unnamed),
            Err(InvalidText::Name { .. })
        ));
    }
}
