//! Reading received stanzas: recognising the IQs that are the machine's business, in either
//! form a host hands them over (an [`Element`] or a typed [`Iq`]).
//!
//! Incoming stanzas are matched on their envelope (name, namespace, `type`, `id`, `from`) and
//! parsed into typed values only once they are known to be ours: xmpp-parsers' conversions cost
//! tens of microseconds, attribute reads a few nanoseconds. [`Received`] gives both forms one
//! face, so that the machine routes them with one body. Writing is [`crate::write`]'s job.

use std::str::FromStr;

use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::rxml::Namespace;
use xmpp_parsers::minidom::{Element, NSChoice, Node};
use xmpp_parsers::ns;
use xmpp_parsers::rsm::SetQuery;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use crate::error::{MalformedReply, TextField};
use crate::query::QueryKind;
use crate::text;

mod result;

pub(crate) use result::parse_answer;

/// The namespaces a stanza may carry: client and server streams, and XEP-0114 components.
const STANZA_NAMESPACES: &[&str] = &[ns::JABBER_CLIENT, ns::COMPONENT_ACCEPT, "jabber:server"];

/// Whether `element` is in a namespace a stanza may carry.
pub(crate) fn in_stanza_namespace(element: &Element) -> bool {
    STANZA_NAMESPACES
        .iter()
        .any(|namespace| element.has_ns(*namespace))
}

/// The values of `element`'s attributes `names` (without namespace), read in one walk over
/// its attributes. minidom keeps them in two levels of ordered maps, so a lookup by name
/// compares strings down both: about 150 ns a lookup on the 2-core test machine, while
/// walking a presence's few attributes took about 70 ns (2026-12-01, release build). With this
/// and the shared claims, `cargo bench --bench disco -- caps` went from 1,650 to 810 ns a
/// presence shown as an element.
pub(crate) fn attributes<'a, const N: usize>(
    element: &'a Element,
    names: [&str; N],
) -> [Option<&'a str>; N] {
    let mut values = [None; N];
    for ((namespace, name), value) in element.attrs() {
        if !namespace.is_none() {
            continue;
        }
        if let Some(at) = names.iter().position(|wanted| *wanted == name.as_str()) {
            if let Some(slot) = values.get_mut(at) {
                *slot = Some(value.as_str());
            }
        }
    }
    values
}

/// What [`DiscoMachine::handle_stanza`](crate::DiscoMachine::handle_stanza) (or
/// [`handle_iq`](crate::DiscoMachine::handle_iq)) did with a stanza.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a stanza handed back is the host's to route elsewhere"]
pub enum Handled<T> {
    /// The stanza was the machine's business and has been taken.
    Consumed,
    /// Not the machine's business: here it is back, untouched, for the host's other handlers.
    Unhandled(T),
}

impl<T> Handled<T> {
    /// The stanza handed back, if it was not consumed.
    pub fn into_unhandled(self) -> Option<T> {
        match self {
            Handled::Consumed => None,
            Handled::Unhandled(stanza) => Some(stanza),
        }
    }

    /// Whether the machine took the stanza.
    pub fn is_consumed(&self) -> bool {
        matches!(self, Handled::Consumed)
    }
}

/// The IQ `type` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IqType {
    Get,
    Set,
    Result,
    Error,
}

/// The envelope of an incoming IQ, borrowed from the stanza.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IqHead<'a> {
    pub(crate) type_: IqType,
    pub(crate) id: &'a str,
    /// `from` as written on the wire (not yet parsed as a JID).
    pub(crate) from: Option<&'a str>,
    /// `to` as written on the wire.
    pub(crate) to: Option<&'a str>,
}

/// An incoming disco request (`get` or `set` with a disco query), borrowed from the stanza.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DiscoRequest<'a> {
    pub(crate) kind: QueryKind,
    pub(crate) node: Option<&'a str>,
    /// False for a query no disco answer can be given to: more than one payload, an empty
    /// `node` (XEP-0030 §3.3), or text in the query (XEP-0030 requests are empty).
    pub(crate) well_formed: bool,
    /// The request's RSM `<set/>` (XEP-0059), read by [`parse_page`] when the answer is built.
    pub(crate) page: Option<&'a Element>,
}

/// Reads an RSM `<set/>` of a `disco#items` request. Unknown children are ignored, as XEP-0059
/// asks; what XEP-0059 defines must make sense: `max` and `index` are non-negative integers (a
/// `max` too large to represent is "no limit"), `before` and `after` are not both given, and
/// `index` is given alone.
///
/// # Errors
///
/// The stanza error condition's cause, for a `bad-request`.
pub(crate) fn parse_page(set: &Element) -> Result<SetQuery, &'static str> {
    let mut page = SetQuery {
        max: None,
        after: None,
        before: None,
        index: None,
    };
    for child in set.children().filter(|child| child.ns() == ns::RSM) {
        let text = child.text();
        let (slot, value) = match child.name() {
            "max" => (&mut page.max, count(&text).ok_or("max is not a count")?),
            "index" => (&mut page.index, count(&text).ok_or("index is not a count")?),
            "after" => {
                page.after = Some(text);
                continue;
            }
            "before" => {
                page.before = Some(text);
                continue;
            }
            _ => continue,
        };
        *slot = Some(value);
    }
    if page.after.is_some() && page.before.is_some() {
        return Err("after and before together");
    }
    if page.index.is_some() && (page.after.is_some() || page.before.is_some()) {
        return Err("index with after or before");
    }
    Ok(page)
}

/// A non-negative integer; one past `usize::MAX` is `usize::MAX` (so "no limit" for `max`).
fn count(text: &str) -> Option<usize> {
    let digits = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(usize::MAX))
}

/// An address on a received stanza that is not a JID: nothing can be sent back to it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NotAJid;

/// A received stanza, in either form a host hands it over: what the machine reads of it.
pub(crate) trait Received: Sized {
    /// The IQ's `type`, if the stanza is an IQ with a valid one: all the machine reads to know
    /// which half the stanza is for.
    fn iq_type(&self) -> Option<IqType>;
    /// The rest of the envelope of an IQ whose type was read (`iq_type`), if it has an `id`.
    fn envelope(&self, type_: IqType) -> Option<IqHead<'_>>;
    /// The disco request the IQ carries, if its payload is a disco query.
    fn disco_request(&self) -> Option<DiscoRequest<'_>>;
    /// `from`, as a JID.
    fn sender(&self) -> Result<Option<Jid>, NotAJid>;
    /// `to`, as a JID.
    fn addressee(&self) -> Result<Option<Jid>, NotAJid>;
    /// The stanza's `xml:lang` (a typed [`Iq`] does not carry one).
    fn lang(&self) -> Option<&str>;
    /// The body of a reply (`result` or `error`), taken out of its envelope.
    fn into_reply_body(self) -> ReplyBody;
}

/// Parses an address attribute.
fn parse_address(raw: Option<&str>) -> Result<Option<Jid>, NotAJid> {
    raw.map(|raw| Jid::new(raw).map_err(|_| NotAJid))
        .transpose()
}

impl Received for Element {
    fn iq_type(&self) -> Option<IqType> {
        if !self.is("iq", NSChoice::AnyOf(STANZA_NAMESPACES)) {
            return None;
        }
        match self.attr("type")? {
            "get" => Some(IqType::Get),
            "set" => Some(IqType::Set),
            "result" => Some(IqType::Result),
            "error" => Some(IqType::Error),
            _ => None,
        }
    }

    fn envelope(&self, type_: IqType) -> Option<IqHead<'_>> {
        Some(IqHead {
            type_,
            id: self.attr("id")?,
            from: self.attr("from"),
            to: self.attr("to"),
        })
    }

    fn disco_request(&self) -> Option<DiscoRequest<'_>> {
        let mut children = self.children();
        let query = children.next()?;
        query_request(query, children.next().is_none())
    }

    fn sender(&self) -> Result<Option<Jid>, NotAJid> {
        parse_address(self.attr("from"))
    }

    fn addressee(&self) -> Result<Option<Jid>, NotAJid> {
        parse_address(self.attr("to"))
    }

    fn lang(&self) -> Option<&str> {
        self.attr_ns(Namespace::xml(), "lang")
    }

    fn into_reply_body(mut self) -> ReplyBody {
        if self.attr("type") == Some("error") {
            let error = self
                .children()
                .find(|child| child.is("error", NSChoice::AnyOf(STANZA_NAMESPACES)))
                .ok_or_else(|| MalformedReply::InvalidError(String::from("no <error/> child")))
                .and_then(parse_stanza_error);
            return ReplyBody::Error(error);
        }
        let payload = match self.children().count() {
            0 => Err(MalformedReply::EmptyResult),
            1 => self.unshift_child().ok_or(MalformedReply::EmptyResult),
            count => Err(MalformedReply::MultiplePayloads { count }),
        };
        ReplyBody::Result(payload)
    }
}

impl Received for Iq {
    fn iq_type(&self) -> Option<IqType> {
        Some(match self {
            Iq::Get { .. } => IqType::Get,
            Iq::Set { .. } => IqType::Set,
            Iq::Result { .. } => IqType::Result,
            Iq::Error { .. } => IqType::Error,
        })
    }

    fn envelope(&self, type_: IqType) -> Option<IqHead<'_>> {
        let (Iq::Get { id, .. }
        | Iq::Set { id, .. }
        | Iq::Result { id, .. }
        | Iq::Error { id, .. }) = self;
        let (from, to) = typed_addresses(self);
        Some(IqHead {
            type_,
            id,
            from: from.as_ref().map(Jid::as_str),
            to: to.as_ref().map(Jid::as_str),
        })
    }

    fn disco_request(&self) -> Option<DiscoRequest<'_>> {
        match self {
            Iq::Get { payload, .. } | Iq::Set { payload, .. } => query_request(payload, true),
            Iq::Result { .. } | Iq::Error { .. } => None,
        }
    }

    fn sender(&self) -> Result<Option<Jid>, NotAJid> {
        Ok(typed_addresses(self).0.clone())
    }

    fn addressee(&self) -> Result<Option<Jid>, NotAJid> {
        Ok(typed_addresses(self).1.clone())
    }

    fn lang(&self) -> Option<&str> {
        None
    }

    fn into_reply_body(self) -> ReplyBody {
        match self {
            Iq::Result { payload, .. } => {
                ReplyBody::Result(payload.ok_or(MalformedReply::EmptyResult))
            }
            Iq::Error { error, .. } => ReplyBody::Error(Ok(error)),
            // Never asked for: requests are not replies.
            Iq::Get { .. } | Iq::Set { .. } => ReplyBody::Result(Err(MalformedReply::EmptyResult)),
        }
    }
}

/// The `from` and `to` of a typed IQ.
fn typed_addresses(iq: &Iq) -> (&Option<Jid>, &Option<Jid>) {
    match iq {
        Iq::Get { from, to, .. }
        | Iq::Set { from, to, .. }
        | Iq::Result { from, to, .. }
        | Iq::Error { from, to, .. } => (from, to),
    }
}

/// The body of a reply to one of our requests, taken out of its envelope.
pub(crate) enum ReplyBody {
    /// An IQ `result`: the payload element, or why there is no single one.
    Result(Result<Element, MalformedReply>),
    /// An IQ `error`: the peer's stanza error, or why it cannot be read.
    Error(Result<StanzaError, MalformedReply>),
}

fn query_request(query: &Element, single_payload: bool) -> Option<DiscoRequest<'_>> {
    let kind = if query.is("query", ns::DISCO_INFO) {
        QueryKind::Info
    } else if query.is("query", ns::DISCO_ITEMS) {
        QueryKind::Items
    } else {
        return None;
    };
    let node = query.attr("node");
    // Children the machine does not know are ignored (XEP-0059: a responder that does not know
    // RSM ignores its <set/>); text is not, XEP-0030 requests being empty. Whitespace between
    // children is layout, not text.
    let holds_text = query.nodes().any(|child| match child {
        Node::Text(text) => !text.bytes().all(|b| b" \t\r\n".contains(&b)),
        Node::Element(_) => false,
    });
    // A node holding what XML cannot carry could not be mirrored in the answer (only a host
    // building its own stanzas can bring one in).
    let node_ok =
        node.is_none_or(|node| !node.is_empty() && text::check(TextField::Node, node).is_ok());
    let page = match kind {
        QueryKind::Items => query.get_child("set", ns::RSM),
        QueryKind::Info => None,
    };
    Some(DiscoRequest {
        kind,
        node,
        well_formed: single_payload && node_ok && !holds_text,
        page,
    })
}

/// Reads an `<error/>` element whatever its stanza namespace (xmpp-parsers only accepts the one
/// it was built for, and a component's stream uses another).
fn parse_stanza_error(error: &Element) -> Result<StanzaError, MalformedReply> {
    // Its condition and application element are cloned and converted: both recurse per level.
    if result::nests_deeper(error, result::MAX_NESTING) {
        return Err(MalformedReply::TooDeep {
            limit: result::MAX_NESTING,
        });
    }
    let invalid = |reason: &str| MalformedReply::InvalidError(reason.to_owned());
    let type_ = error
        .attr("type")
        .ok_or_else(|| invalid("no type"))
        .and_then(|value| ErrorType::from_str(value).map_err(|_| invalid("unknown type")))?;
    let mut parsed = StanzaError {
        type_,
        by: error.attr("by").and_then(|by| Jid::new(by).ok()),
        defined_condition: DefinedCondition::UndefinedCondition,
        texts: Default::default(),
        other: None,
    };
    let mut condition = None;
    for child in error.children() {
        if child.is("text", ns::XMPP_STANZAS) {
            let lang = child.attr_ns(Namespace::xml(), "lang").unwrap_or_default();
            parsed.texts.insert(lang.to_owned(), child.text());
        } else if child.has_ns(ns::XMPP_STANZAS) {
            if condition.is_none() {
                condition = Some(
                    DefinedCondition::try_from(child.clone())
                        .map_err(|_| invalid("unknown condition"))?,
                );
            }
        } else if parsed.other.is_none() {
            parsed.other = Some(child.clone());
        }
    }
    parsed.defined_condition = condition.ok_or_else(|| invalid("no defined condition"))?;
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole envelope, as the machine reads it in two steps.
    fn envelope_of(stanza: &Element) -> Option<IqHead<'_>> {
        stanza.envelope(stanza.iq_type()?)
    }

    fn element(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    #[test]
    fn recognises_iq_envelopes() {
        let iq = element("<iq xmlns='jabber:client' type='result' id='a' from='x@y'/>");
        let head = envelope_of(&iq).unwrap();
        assert_eq!(head.type_, IqType::Result);
        assert_eq!(head.id, "a");
        assert_eq!(head.from, Some("x@y"));
        let component = element("<iq xmlns='jabber:component:accept' type='get' id='b'/>");
        assert_eq!(envelope_of(&component).unwrap().type_, IqType::Get);
        for not_iq in [
            "<message xmlns='jabber:client' type='result' id='a'/>",
            "<iq xmlns='urn:other' type='result' id='a'/>",
            "<iq xmlns='jabber:client' type='bogus' id='a'/>",
            "<iq xmlns='jabber:client' id='a'/>",
            "<iq xmlns='jabber:client' type='result'/>",
        ] {
            assert!(envelope_of(&element(not_iq)).is_none(), "{not_iq}");
        }
    }

    #[test]
    fn reads_stanza_errors_in_any_stanza_namespace() {
        for namespace in ["jabber:client", "jabber:component:accept"] {
            let iq = element(&format!(
                "<iq xmlns='{namespace}' type='error' id='a'><error type='cancel' by='s.example'>\
                 <item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
                 <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>gone</text>\
                 <app xmlns='urn:example'/></error></iq>"
            ));
            let ReplyBody::Error(Ok(error)) = iq.into_reply_body() else {
                panic!("not a stanza error");
            };
            assert_eq!(error.type_, ErrorType::Cancel);
            assert_eq!(error.defined_condition, DefinedCondition::ItemNotFound);
            assert_eq!(error.texts.get("en").map(String::as_str), Some("gone"));
            assert_eq!(error.by, Some(Jid::new("s.example").unwrap()));
            assert!(error.other.unwrap().is("app", "urn:example"));
        }
    }

    #[test]
    fn rejects_unreadable_stanza_errors() {
        for body in [
            "",
            "<error/>",
            "<error type='cancel'/>",
            "<error type='bogus'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>",
            "<error type='cancel'><no-such-condition xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>",
        ] {
            let iq = element(&format!(
                "<iq xmlns='jabber:client' type='error' id='a'>{body}</iq>"
            ));
            assert!(
                matches!(
                    iq.into_reply_body(),
                    ReplyBody::Error(Err(MalformedReply::InvalidError(_)))
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn classifies_disco_requests() {
        let request = |xml: &str| element(xml);
        let info = request("<iq xmlns='jabber:client' type='get' id='1'><query xmlns='http://jabber.org/protocol/disco#info' node='n'/></iq>");
        let found = Received::disco_request(&info).unwrap();
        assert_eq!(
            (found.kind, found.node, found.well_formed),
            (QueryKind::Info, Some("n"), true)
        );
        let items = request("<iq xmlns='jabber:client' type='get' id='1'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>");
        assert_eq!(
            Received::disco_request(&items).unwrap().kind,
            QueryKind::Items
        );
        let two = request("<iq xmlns='jabber:client' type='get' id='1'><query xmlns='http://jabber.org/protocol/disco#items'/><x xmlns='y'/></iq>");
        assert!(!Received::disco_request(&two).unwrap().well_formed);
        let empty_node = request("<iq xmlns='jabber:client' type='get' id='1'><query xmlns='http://jabber.org/protocol/disco#items' node=''/></iq>");
        assert!(!Received::disco_request(&empty_node).unwrap().well_formed);
        for other in [
            "<iq xmlns='jabber:client' type='get' id='1'/>",
            "<iq xmlns='jabber:client' type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
            "<iq xmlns='jabber:client' type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>",
        ] {
            assert!(
                Received::disco_request(&request(other)).is_none(),
                "{other}"
            );
        }
    }
}
