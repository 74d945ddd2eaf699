//! Reads disco results: straight from the `<query/>` element for the usual shapes, through
//! xmpp-parsers for the rest, then checked against what was asked.
//!
//! xmpp-parsers' derived conversion replays an element as XML events through a generated
//! state machine; for a server's usual answer (a few identities, twenty features, a form) that
//! costs tens of microseconds, most of a cache miss. Reading the attributes directly costs a
//! fraction of it.
//!
//! Only the usual shape is read here. Whatever this reader does not recognise (an attribute or
//! child it does not know, text, an `xml:lang` an identity would inherit, result set paging, a
//! form xmpp-parsers refuses) makes it decline, and xmpp-parsers decides: so what is accepted,
//! what each field holds and how a refusal reads stay exactly xmpp-parsers'. The unit tests
//! below and the stanza fuzz target check that every result this reader produces is the one
//! xmpp-parsers produces.

use std::collections::BTreeSet;
use std::sync::Arc;

use xmpp_parsers::data_forms::{DataForm, DataFormType, Field, FieldType};
use xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult, Identity, Item};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::rxml::Namespace;
use xmpp_parsers::minidom::{Element, Node};
use xmpp_parsers::ns;
use xmpp_parsers::rsm::SetResult;

use crate::error::MalformedReply;
use crate::query::QueryKind;
use crate::results::Answer;

/// The most levels of elements below a payload that are read. A disco answer needs four
/// (`query/x/field/value`), a media element in a form two more. Deeper payloads are refused
/// before anything reads them: xmpp-parsers' conversion recurses once per level (one boxed
/// iterator each), and a 1,000-deep element, 7 KB of `<x>` a hostile peer could send,
/// overflowed a 2 MiB debug thread in `DiscoInfoResult::try_from`.
pub(crate) const MAX_NESTING: usize = 32;

/// Whether `element` has elements more than `limit` levels below it, found without recursion.
pub(crate) fn nests_deeper(element: &Element, limit: usize) -> bool {
    let mut below = vec![element.children()];
    while let Some(children) = below.last_mut() {
        match children.next() {
            Some(child) => {
                if below.len() > limit {
                    return true;
                }
                below.push(child.children());
            }
            None => {
                below.pop();
            }
        }
    }
    false
}

/// `payload`, unless it nests deeper than [`MAX_NESTING`] (one walk over its elements).
fn shallow(payload: Element) -> Result<Element, MalformedReply> {
    if nests_deeper(&payload, MAX_NESTING) {
        return Err(MalformedReply::TooDeep { limit: MAX_NESTING });
    }
    Ok(payload)
}

/// Parses and validates the payload of a result to a query of `kind` for node `asked`.
pub(crate) fn parse_answer(
    kind: QueryKind,
    payload: Element,
    asked: Option<&str>,
) -> Result<Answer, MalformedReply> {
    // Before anything reads it: the fast reader clones a page's <set/> into xmpp-parsers.
    let payload = shallow(payload)?;
    let expected = kind.namespace();
    if !payload.is("query", expected) {
        return Err(MalformedReply::UnexpectedPayload {
            expected,
            name: payload.name().to_owned(),
            namespace: payload.ns(),
        });
    }
    let invalid =
        |error: xmpp_parsers::FromElementError| MalformedReply::InvalidPayload(error.to_string());
    let (answer, answered) = match kind {
        QueryKind::Info => {
            let info = match read_info(&payload) {
                Some(info) => info,
                None => DiscoInfoResult::try_from(payload).map_err(invalid)?,
            };
            if info.identities.is_empty() {
                return Err(MalformedReply::NoIdentity);
            }
            let node = info.node.clone();
            (Answer::Info(Arc::new(info)), node)
        }
        QueryKind::Items => {
            let items = match read_items(&payload) {
                Some(items) => items,
                None => DiscoItemsResult::try_from(payload).map_err(invalid)?,
            };
            let node = items.node.clone();
            (Answer::Items(Arc::new(items)), node)
        }
    };
    match answered {
        Some(answered) if Some(answered.as_str()) != asked => Err(MalformedReply::NodeMismatch {
            asked: asked.map(str::to_owned),
            answered: Some(answered),
        }),
        _ => Ok(answer),
    }
}

/// The `disco#info` result in `query`, or `None` if its shape is not the usual one.
pub(crate) fn read_info(query: &Element) -> Option<DiscoInfoResult> {
    if !query.is("query", ns::DISCO_INFO) {
        return None;
    }
    let node = node_only(query)?;
    let mut identities = Vec::new();
    let mut features = BTreeSet::new();
    let mut extensions = Vec::new();
    for child in child_elements(query) {
        let child = child?;
        if child.is("identity", ns::DISCO_INFO) {
            identities.push(identity(child)?);
        } else if child.is("feature", ns::DISCO_INFO) {
            features.insert(only_attribute(child, "var")?.to_owned());
        } else if child.is("x", ns::DATA_FORMS) {
            extensions.push(form(child)?);
        } else {
            return None;
        }
    }
    Some(DiscoInfoResult {
        node,
        identities,
        features,
        extensions,
    })
}

/// The `disco#items` result in `query`, or `None` if its shape is not the usual one.
pub(crate) fn read_items(query: &Element) -> Option<DiscoItemsResult> {
    if !query.is("query", ns::DISCO_ITEMS) {
        return None;
    }
    let node = node_only(query)?;
    let mut items = Vec::new();
    let mut rsm = None;
    for child in child_elements(query) {
        let child = child?;
        if child.is("item", ns::DISCO_ITEMS) {
            items.push(item(child)?);
        } else if child.is("set", ns::RSM) && rsm.is_none() {
            // A page's <set/> (XEP-0059): small, so xmpp-parsers reads it; the items, which
            // are many, are read by hand.
            rsm = Some(SetResult::try_from(child.clone()).ok()?);
        } else {
            return None;
        }
    }
    Some(DiscoItemsResult { node, items, rsm })
}

/// The query's `node`, if that is its only attribute.
fn node_only(query: &Element) -> Option<Option<String>> {
    let node = query.attr("node");
    (query.attrs().len() == usize::from(node.is_some())).then(|| node.map(str::to_owned))
}

/// The element children of `parent`, `None` for text other than whitespace between them.
fn child_elements(parent: &Element) -> impl Iterator<Item = Option<&Element>> {
    parent.nodes().filter_map(|node| match node {
        Node::Element(child) => Some(Some(child)),
        Node::Text(text) if text.bytes().all(|b| b" \t\r\n".contains(&b)) => None,
        Node::Text(_) => Some(None),
    })
}

/// Every child of `parent` read by `read`, if all are `name` elements of `namespace` and `read`
/// reads each.
fn all_children<T>(
    parent: &Element,
    name: &str,
    namespace: &str,
    read: impl Fn(&Element) -> Option<T>,
) -> Option<Vec<T>> {
    child_elements(parent)
        .map(|child| {
            child
                .filter(|child| child.is(name, namespace))
                .and_then(&read)
        })
        .collect()
}

/// The value of `name`, if `element` is empty and has no other attribute.
fn only_attribute<'a>(element: &'a Element, name: &'a str) -> Option<&'a str> {
    let value = element.attr(name)?;
    (element.attrs().len() == 1 && element.nodes().next().is_none()).then_some(value)
}

/// Whether `element`'s attributes are its `required` ones and the optional ones `present`,
/// nothing else.
fn attributes_are(element: &Element, required: usize, present: &[bool]) -> bool {
    let optional = present.iter().filter(|present| **present).count();
    element.attrs().len() == required + optional
}

/// `present` optional attributes beside `required` ones, and nothing else in `element`.
fn exactly(element: &Element, required: usize, present: &[bool]) -> bool {
    attributes_are(element, required, present) && element.nodes().next().is_none()
}

fn identity(element: &Element) -> Option<Identity> {
    let category = element.attr("category")?;
    let type_ = element.attr("type")?;
    let lang = element.attr_ns(Namespace::xml(), "lang");
    let name = element.attr("name");
    exactly(element, 2, &[lang.is_some(), name.is_some()]).then(|| Identity {
        category: category.to_owned(),
        type_: type_.to_owned(),
        lang: lang.map(str::to_owned),
        name: name.map(str::to_owned),
    })
}

/// An XEP-0004 form of the usual shape in an answer: a type, fields of `var`, `type` and
/// `label` attributes and `<value/>` children, the FORM_TYPE field first (where xmpp-parsers
/// puts it).
fn form(element: &Element) -> Option<DataForm> {
    let type_ = element.attr("type")?.parse::<DataFormType>().ok()?;
    if !attributes_are(element, 1, &[]) {
        return None;
    }
    let mut fields = all_children(element, "field", ns::DATA_FORMS, field)?;
    // xmpp-parsers refuses a second FORM_TYPE or one without exactly one value.
    let mut form_types = fields
        .iter()
        .enumerate()
        .filter(|(_, field)| field.is_form_type(&type_));
    let form_type = form_types
        .next()
        .map(|(at, field)| (at, field.values.len()));
    if form_types.next().is_some() {
        return None;
    }
    match form_type {
        Some((_, values)) if values != 1 => return None,
        Some((at, _)) => {
            let field = fields.remove(at);
            fields.insert(0, field);
        }
        None => {}
    }
    Some(DataForm {
        type_,
        title: None,
        instructions: None,
        fields,
    })
}

fn field(element: &Element) -> Option<Field> {
    // A field without `var` is valid only if fixed: left to xmpp-parsers.
    let var = element.attr("var")?;
    let type_ = match element.attr("type") {
        Some(type_) => type_.parse::<FieldType>().ok()?,
        None => FieldType::default(),
    };
    let label = element.attr("label");
    if !attributes_are(
        element,
        1,
        &[element.attr("type").is_some(), label.is_some()],
    ) {
        return None;
    }
    let values = all_children(element, "value", ns::DATA_FORMS, text_only)?;
    Some(Field {
        label: label.map(str::to_owned),
        values,
        ..Field::new(var, type_)
    })
}

/// The text of an element that holds nothing else (no attribute, no child element).
fn text_only(element: &Element) -> Option<String> {
    if !element.attrs().is_empty() {
        return None;
    }
    let mut nodes = element.nodes();
    let text = match nodes.next() {
        None => String::new(),
        Some(Node::Text(text)) => text.clone(),
        Some(Node::Element(_)) => return None,
    };
    nodes.next().is_none().then_some(text)
}

fn item(element: &Element) -> Option<Item> {
    let jid = Jid::new(element.attr("jid")?).ok()?;
    let node = element.attr("node");
    let name = element.attr("name");
    exactly(element, 1, &[node.is_some(), name.is_some()]).then(|| Item {
        jid,
        node: node.map(str::to_owned),
        name: name.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `<query>` of `kind` (an info one with an identity) and `<y>` holding `levels - 1`
    /// nested `<x>`: `levels` levels of elements below the payload.
    fn nested_in(kind: QueryKind, levels: usize) -> Element {
        let open: String = (1..levels).map(|_| "<x>").collect();
        let close: String = (1..levels).map(|_| "</x>").collect();
        let identity = match kind {
            QueryKind::Info => "<identity category='a' type='b'/>",
            QueryKind::Items => "",
        };
        format!(
            "<query xmlns='{}'>{identity}<y xmlns='urn:other'>{open}{close}</y></query>",
            kind.namespace()
        )
        .parse()
        .expect("XML")
    }

    fn nested(levels: usize) -> Element {
        nested_in(QueryKind::Info, levels)
    }

    #[test]
    fn nesting_is_measured_without_recursion() {
        assert!(!nests_deeper(&nested(1), 1));
        assert!(nests_deeper(&nested(2), 1));
        assert!(!nests_deeper(&nested(MAX_NESTING), MAX_NESTING));
        assert!(nests_deeper(&nested(MAX_NESTING + 1), MAX_NESTING));
    }

    #[test]
    fn a_payload_deeper_than_any_disco_answer_is_refused_before_xmpp_parsers_reads_it() {
        // An unknown child sends the answer to xmpp-parsers, which ignores it when shallow.
        assert!(parse_answer(QueryKind::Info, nested(MAX_NESTING), None).is_ok());
        assert_eq!(
            parse_answer(QueryKind::Info, nested(MAX_NESTING + 1), None).err(),
            Some(MalformedReply::TooDeep { limit: MAX_NESTING })
        );
        assert_eq!(
            parse_answer(QueryKind::Items, nested_in(QueryKind::Items, 200), None).err(),
            Some(MalformedReply::TooDeep { limit: MAX_NESTING })
        );
        // The fast reader's way too: a page's <set/> would be cloned into xmpp-parsers.
        let open: String = (0..200).map(|_| "<x>").collect();
        let close: String = (0..200).map(|_| "</x>").collect();
        let page: Element = format!(
            "<query xmlns='{}'><item jid='a.example'/><set xmlns='{}'>{open}{close}</set></query>",
            ns::DISCO_ITEMS,
            ns::RSM
        )
        .parse()
        .expect("XML");
        assert_eq!(
            parse_answer(QueryKind::Items, page, None).err(),
            Some(MalformedReply::TooDeep { limit: MAX_NESTING })
        );
    }
    use proptest::prelude::*;

    fn parse(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    /// What xmpp-parsers makes of `query`, as comparable values.
    fn reference_info(query: &Element) -> Option<String> {
        DiscoInfoResult::try_from(query.clone())
            .ok()
            .map(|info| format!("{info:?}"))
    }

    fn reference_items(query: &Element) -> Option<DiscoItemsResult> {
        DiscoItemsResult::try_from(query.clone()).ok()
    }

    /// Every result the reader gives is xmpp-parsers' result.
    fn agrees(query: &Element) {
        if let Some(info) = read_info(query) {
            assert_eq!(
                Some(format!("{info:?}")),
                reference_info(query),
                "{query:?}"
            );
        }
        if let Some(items) = read_items(query) {
            assert_eq!(Some(items), reference_items(query), "{query:?}");
        }
    }

    #[test]
    fn reads_a_servers_usual_answers() {
        let info = parse(
            "<query xmlns='http://jabber.org/protocol/disco#info'>\n\
             <identity category='server' type='im' name='Prosody'/>\n\
             <identity category='pubsub' type='pep' xml:lang='en' name='PEP'/>\n\
             <feature var='http://jabber.org/protocol/disco#info'/>\n\
             <feature var='urn:xmpp:ping'/><feature var='urn:xmpp:ping'/>\n\
             <x xmlns='jabber:x:data' type='result'>\
             <field var='FORM_TYPE' type='hidden'><value>http://jabber.org/network/serverinfo</value></field>\
             <field var='abuse-addresses'><value>mailto:abuse@example.org</value></field></x>\
             </query>",
        );
        let read = read_info(&info).expect("the usual shape is read");
        assert_eq!(read.identities.len(), 2);
        assert_eq!(read.features.len(), 2);
        assert_eq!(read.extensions.len(), 1);
        agrees(&info);

        let items = parse(
            "<query xmlns='http://jabber.org/protocol/disco#items' node='music'>\
             <item jid='conference.example.org'/>\
             <item jid='pubsub.example.org' node='n' name='A &amp; B'/></query>",
        );
        let read = read_items(&items).expect("the usual shape is read");
        assert_eq!(read.items.len(), 2);
        assert_eq!(read.node.as_deref(), Some("music"));
        agrees(&items);
    }

    #[test]
    fn reads_a_page_as_xmpp_parsers_does() {
        for xml in [
            "<query xmlns='http://jabber.org/protocol/disco#items'>\
             <item jid='room1@conference.example.org'/><item jid='room2@conference.example.org'/>\
             <set xmlns='http://jabber.org/protocol/rsm'><first index='0'>a</first>\
             <last>b</last><count>800</count></set></query>",
            "<query xmlns='http://jabber.org/protocol/disco#items'>\
             <set xmlns='http://jabber.org/protocol/rsm'><count>1</count></set></query>",
            "<query xmlns='http://jabber.org/protocol/disco#items' node='n'>\
             <set xmlns='http://jabber.org/protocol/rsm'><last>z</last></set>\
             <item jid='a.example.org'/></query>",
        ] {
            let query = parse(xml);
            let read = read_items(&query).expect("a page is read by hand");
            assert!(read.rsm.is_some(), "{xml}");
            agrees(&query);
        }
    }

    #[test]
    fn declines_what_xmpp_parsers_must_decide() {
        for xml in [
            // An identity inherits the query's language in xmpp-parsers.
            "<query xmlns='http://jabber.org/protocol/disco#info' xml:lang='en'><identity category='a' type='b'/></query>",
            "<query xmlns='http://jabber.org/protocol/disco#info'>text<identity category='a' type='b'/></query>",
            "<query xmlns='http://jabber.org/protocol/disco#info'><identity category='a' type='b' extra='1'/></query>",
            "<query xmlns='http://jabber.org/protocol/disco#info'><identity type='b'/></query>",
            "<query xmlns='http://jabber.org/protocol/disco#info'><feature/></query>",
            "<query xmlns='http://jabber.org/protocol/disco#info'><other xmlns='urn:x'/></query>",
            "<query xmlns='http://jabber.org/protocol/disco#info'><x xmlns='jabber:x:data' type='bogus'/></query>",
            "<query xmlns='http://jabber.org/protocol/disco#items'><item jid='not a jid@@'/></query>",
            "<query xmlns='http://jabber.org/protocol/disco#items'><set xmlns='http://jabber.org/protocol/rsm'/><set xmlns='http://jabber.org/protocol/rsm'/></query>",
            "<query xmlns='http://jabber.org/protocol/disco#items'><set xmlns='http://jabber.org/protocol/rsm'><count>many</count></set></query>",
        ] {
            let query = parse(xml);
            assert!(read_info(&query).is_none() && read_items(&query).is_none(), "{xml}");
        }
    }

    /// A child as peers usually send it: what the reader must read.
    fn usual_child() -> impl Strategy<Value = String> {
        let value = prop::sample::select(vec!["a", "", "b c", "&amp;&lt;", "ünï"]);
        let optional = |name: &'static str| {
            prop::option::of(value.clone())
                .prop_map(move |v| v.map(|v| format!(" {name}='{v}'")).unwrap_or_default())
        };
        prop_oneof![
            (
                value.clone(),
                value.clone(),
                optional("xml:lang"),
                optional("name")
            )
                .prop_map(|(category, type_, lang, name)| {
                    format!("<identity category='{category}' type='{type_}'{lang}{name}/>")
                }),
            value
                .clone()
                .prop_map(|var| format!("<feature var='{var}'/>")),
            (
                prop::sample::select(vec!["a@example.org/r", "example.org", "Ünï@EXAMPLE.org"]),
                optional("node"),
                optional("name")
            )
                .prop_map(|(jid, node, name)| format!("<item jid='{jid}'{node}{name}/>")),
            form(),
        ]
    }

    /// A data form, usual or not: fields with and without types, labels and values, no, one
    /// or two FORM_TYPEs anywhere, and now and then something the reader leaves alone.
    fn form() -> impl Strategy<Value = String> {
        let field = (
            prop::sample::select(vec![
                " var='FORM_TYPE' type='hidden'",
                " var='FORM_TYPE'",
                " var='f'",
                " var='g' type='text-multi'",
                " var='h' type='list-single' label='H &amp; I'",
                " type='fixed'",
                " var='b' type='bogus'",
            ]),
            prop::collection::vec(
                prop::sample::select(vec![
                    "<value>urn:example</value>",
                    "<value>urn:example</value>",
                    "<value/>",
                    "<value> two words </value>",
                    "<value>a&amp;b</value>",
                    "<desc>d</desc>",
                    "<value><b/></value>",
                ]),
                0..3,
            ),
        )
            .prop_map(|(attributes, values)| {
                format!("<field{attributes}>{}</field>", values.concat())
            });
        (
            prop::sample::select(vec![
                "result", "result", "result", "form", "submit", "cancel", "bogus",
            ]),
            prop::sample::select(vec![
                "",
                "",
                "",
                "",
                "<title>T</title>",
                "<instructions>I</instructions>",
            ]),
            prop::collection::vec(field, 0..4),
        )
            .prop_map(|(type_, head, fields)| {
                format!(
                    "<x xmlns='jabber:x:data' type='{type_}'>{head}{}</x>",
                    fields.concat()
                )
            })
    }

    /// A child as nobody should send it: what the reader must leave to xmpp-parsers.
    fn unusual_child() -> impl Strategy<Value = String> {
        (
            prop::sample::select(vec![
                "identity",
                "identity category='c' type='t'",
                "feature",
                "feature var='v'",
                "item",
                "item jid='a@example.org'",
                "x xmlns='jabber:x:data'",
                "other xmlns='urn:other'",
            ]),
            prop::sample::select(vec![
                "",
                " extra='1'",
                " xml:lang='en'",
                " var='v'",
                " jid='@'",
            ]),
            prop::sample::select(vec!["", " ", "text", "<inner/>"]),
        )
            .prop_map(|(head, attribute, content)| {
                let name = head.split(' ').next().unwrap_or(head);
                format!("<{head}{attribute}>{content}</{name}>")
            })
    }

    /// A `<query/>` of either kind, mostly of usual children with now and then an unusual one.
    fn query() -> impl Strategy<Value = String> {
        let child = prop_oneof![4 => usual_child(), 1 => unusual_child()];
        (
            prop::sample::select(vec!["info", "items"]),
            prop::sample::select(vec!["", "", " node='n'", " xml:lang='en'", " extra='1'"]),
            prop::collection::vec(
                (child, prop::sample::select(vec!["", "", "\n  ", "x"])),
                0..8,
            ),
        )
            .prop_map(|(kind, attributes, children)| {
                let children: String = children
                    .into_iter()
                    .map(|(child, separator)| format!("{child}{separator}"))
                    .collect();
                format!(
                    "<query xmlns='http://jabber.org/protocol/disco#{kind}'{attributes}>{children}</query>"
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn every_result_read_is_the_one_xmpp_parsers_gives(xml in query()) {
            // Repeated attributes are not XML: those strings are skipped.
            if let Ok(query) = xml.parse::<Element>() {
                agrees(&query);
            }
        }

        #[test]
        fn every_form_read_is_the_one_xmpp_parsers_gives(form in form()) {
            let xml = format!("<query xmlns='http://jabber.org/protocol/disco#info'>{form}</query>");
            agrees(&parse(&xml));
        }
    }
}
