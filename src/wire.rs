//! The stanzas on the wire: recognising incoming IQs and building outgoing ones.
//!
//! Incoming stanzas are matched on the `Element` (name, namespace, `type`, `id`, `from`) and
//! parsed into typed values only once they are known to be ours: xmpp-parsers' conversions cost
//! tens of microseconds, attribute reads a few nanoseconds. Outgoing IQs are assembled by hand
//! for the same reason.

use std::str::FromStr;
use std::sync::Arc;

use xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::rxml::{xml_ncname, Namespace};
use xmpp_parsers::minidom::{Element, ElementBuilder, NSChoice};
use xmpp_parsers::ns;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use crate::error::{error_type_name, MalformedReply, WriteError};
use crate::prepared::{write_attribute_value, Prepared};
use crate::reader;

/// The namespaces a stanza may carry: client and server streams, and XEP-0114 components.
const STANZA_NAMESPACES: &[&str] = &[ns::JABBER_CLIENT, ns::COMPONENT_ACCEPT, "jabber:server"];

/// Which of the two disco queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryKind {
    /// `http://jabber.org/protocol/disco#info`: identities, features, extended information.
    Info,
    /// `http://jabber.org/protocol/disco#items`: the entity's items.
    Items,
}

impl QueryKind {
    /// The namespace of this kind's `<query/>`.
    pub fn namespace(self) -> &'static str {
        match self {
            QueryKind::Info => ns::DISCO_INFO,
            QueryKind::Items => ns::DISCO_ITEMS,
        }
    }
}

/// A parsed, validated disco answer, shared by every waiter it completes.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Info(Arc<DiscoInfoResult>),
    Items(Arc<DiscoItemsResult>),
}

impl Answer {
    pub(crate) fn info(&self) -> Option<Arc<DiscoInfoResult>> {
        match self {
            Answer::Info(info) => Some(Arc::clone(info)),
            Answer::Items(_) => None,
        }
    }

    pub(crate) fn items(&self) -> Option<Arc<DiscoItemsResult>> {
        match self {
            Answer::Items(items) => Some(Arc::clone(items)),
            Answer::Info(_) => None,
        }
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
}

/// Reads the envelope of `stanza` if it is an IQ with a valid `type` and an `id`.
pub(crate) fn iq_head(stanza: &Element) -> Option<IqHead<'_>> {
    if !stanza.is("iq", NSChoice::AnyOf(STANZA_NAMESPACES)) {
        return None;
    }
    let type_ = match stanza.attr("type")? {
        "get" => IqType::Get,
        "set" => IqType::Set,
        "result" => IqType::Result,
        "error" => IqType::Error,
        _ => return None,
    };
    Some(IqHead {
        type_,
        id: stanza.attr("id")?,
        from: stanza.attr("from"),
    })
}

/// The envelope of a typed IQ.
pub(crate) fn typed_iq_head(iq: &Iq) -> IqHead<'_> {
    let (type_, id, from) = match iq {
        Iq::Get { id, from, .. } => (IqType::Get, id, from),
        Iq::Set { id, from, .. } => (IqType::Set, id, from),
        Iq::Result { id, from, .. } => (IqType::Result, id, from),
        Iq::Error { id, from, .. } => (IqType::Error, id, from),
    };
    IqHead {
        type_,
        id,
        from: from.as_ref().map(Jid::as_str),
    }
}

/// The body of a reply to one of our requests, taken out of its envelope.
pub(crate) enum ReplyBody {
    /// An IQ `result`: the payload element, or why there is no single one.
    Result(Result<Element, MalformedReply>),
    /// An IQ `error`: the peer's stanza error, or why it cannot be read.
    Error(Result<StanzaError, MalformedReply>),
}

/// Takes the body out of an IQ element already recognised as a reply (`result` or `error`).
pub(crate) fn reply_body(mut stanza: Element, type_: IqType) -> ReplyBody {
    if type_ == IqType::Error {
        let error = stanza
            .children()
            .find(|child| child.is("error", NSChoice::AnyOf(STANZA_NAMESPACES)))
            .ok_or_else(|| MalformedReply::InvalidError(String::from("no <error/> child")))
            .and_then(parse_stanza_error);
        return ReplyBody::Error(error);
    }
    let payload = match stanza.children().count() {
        0 => Err(MalformedReply::EmptyResult),
        1 => stanza.unshift_child().ok_or(MalformedReply::EmptyResult),
        count => Err(MalformedReply::MultiplePayloads { count }),
    };
    ReplyBody::Result(payload)
}

/// Takes the body out of a typed IQ reply; `None` for a request (`get`/`set`).
pub(crate) fn typed_reply_body(iq: Iq) -> Option<ReplyBody> {
    match iq {
        Iq::Result { payload, .. } => Some(ReplyBody::Result(
            payload.ok_or(MalformedReply::EmptyResult),
        )),
        Iq::Error { error, .. } => Some(ReplyBody::Error(Ok(error))),
        Iq::Get { .. } | Iq::Set { .. } => None,
    }
}

/// An incoming disco request (`get` or `set` with a disco query), borrowed from the stanza.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DiscoRequest<'a> {
    pub(crate) kind: QueryKind,
    pub(crate) node: Option<&'a str>,
    /// False for a query no disco answer can be given to: more than one payload, or an empty
    /// `node` (XEP-0030 §3.3).
    pub(crate) well_formed: bool,
}

/// The disco request an IQ element carries, if its payload is a disco query.
pub(crate) fn disco_request(stanza: &Element) -> Option<DiscoRequest<'_>> {
    let mut children = stanza.children();
    let query = children.next()?;
    query_request(query, children.next().is_none())
}

/// The disco request a typed IQ's payload carries, if it is a disco query.
pub(crate) fn typed_disco_request(iq: &Iq) -> Option<DiscoRequest<'_>> {
    match iq {
        Iq::Get { payload, .. } | Iq::Set { payload, .. } => query_request(payload, true),
        Iq::Result { .. } | Iq::Error { .. } => None,
    }
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
    Some(DiscoRequest {
        kind,
        node,
        well_formed: single_payload && node != Some(""),
    })
}

/// The `xml:lang` of a stanza, if it declares one.
pub(crate) fn stanza_lang(stanza: &Element) -> Option<&str> {
    stanza.attr_ns(Namespace::xml(), "lang")
}

/// Parses and validates the payload of a result to a query of `kind` for node `asked`.
pub(crate) fn parse_answer(
    kind: QueryKind,
    payload: Element,
    asked: Option<&str>,
) -> Result<Answer, MalformedReply> {
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
            let info = match reader::read_info(&payload) {
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
            let items = match reader::read_items(&payload) {
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

/// Reads an `<error/>` element whatever its stanza namespace (xmpp-parsers only accepts the one
/// it was built for, and a component's stream uses another).
fn parse_stanza_error(error: &Element) -> Result<StanzaError, MalformedReply> {
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

/// A disco request waiting to be sent.
#[derive(Debug, Clone)]
pub(crate) struct OutgoingQuery {
    pub(crate) kind: QueryKind,
    pub(crate) to: Jid,
    pub(crate) id: String,
    pub(crate) node: Option<String>,
}

impl OutgoingQuery {
    fn payload(&self) -> Element {
        let mut query = Element::builder("query", self.kind.namespace());
        if let Some(node) = &self.node {
            query = query.attr(xml_ncname!("node").into(), node.as_str());
        }
        query.build()
    }

    /// `<iq type='get'>` around the query, in `namespace`, from `from` if given.
    pub(crate) fn into_element(self, namespace: &str, from: Option<&Jid>) -> Element {
        let payload = self.payload();
        envelope(
            namespace,
            "get",
            self.id,
            Some(self.to.as_str()),
            from.map(Jid::as_str),
        )
        .append(payload)
        .build()
    }

    /// Appends the request to `out` as XML, written by hand: it is a handful of attributes.
    pub(crate) fn write_to(
        &self,
        namespace: &str,
        from: Option<&Jid>,
        out: &mut Vec<u8>,
    ) -> Result<(), WriteError> {
        let to = Some(self.to.as_str());
        write_envelope_head(out, namespace, "get", &self.id, to, from.map(Jid::as_str))?;
        out.extend_from_slice(b"<query xmlns='");
        out.extend_from_slice(self.kind.namespace().as_bytes());
        if let Some(node) = &self.node {
            out.extend_from_slice(b"' node='");
            write_attribute_value(out, node)?;
        }
        out.extend_from_slice(b"'/></iq>");
        Ok(())
    }

    /// The same request as a typed [`Iq`], the form tokio-xmpp sends.
    pub(crate) fn into_iq(self, from: Option<&Jid>) -> Iq {
        let payload = self.payload();
        Iq::Get {
            from: from.cloned(),
            to: Some(self.to),
            id: self.id,
            payload,
        }
    }
}

/// The `<iq/>` around a payload.
fn envelope(
    namespace: &str,
    type_: &str,
    id: String,
    to: Option<&str>,
    from: Option<&str>,
) -> ElementBuilder {
    let mut iq = Element::builder("iq", namespace)
        .attr(xml_ncname!("type").into(), type_)
        .attr(xml_ncname!("id").into(), id);
    if let Some(to) = to {
        iq = iq.attr(xml_ncname!("to").into(), to);
    }
    if let Some(from) = from {
        iq = iq.attr(xml_ncname!("from").into(), from);
    }
    iq
}

/// Appends the start tag of an `<iq/>` of `type_` in `namespace`, the same envelope
/// [`envelope`] builds as an element.
fn write_envelope_head(
    out: &mut Vec<u8>,
    namespace: &str,
    type_: &str,
    id: &str,
    to: Option<&str>,
    from: Option<&str>,
) -> Result<(), WriteError> {
    out.extend_from_slice(b"<iq xmlns='");
    write_attribute_value(out, namespace)?;
    out.extend_from_slice(b"' type='");
    out.extend_from_slice(type_.as_bytes());
    out.extend_from_slice(b"' id='");
    write_attribute_value(out, id)?;
    for (name, value) in [(&b"' to='"[..], to), (b"' from='", from)] {
        if let Some(value) = value {
            out.extend_from_slice(name);
            write_attribute_value(out, value)?;
        }
    }
    out.extend_from_slice(b"'>");
    Ok(())
}

/// An address as it came in: raw text from an element (parsed only if a typed stanza needs
/// it), or a JID from a typed stanza.
#[derive(Debug, Clone)]
pub(crate) enum Address {
    Raw(String),
    Jid(Jid),
}

impl Address {
    fn as_str(&self) -> &str {
        match self {
            Address::Raw(raw) => raw,
            Address::Jid(jid) => jid.as_str(),
        }
    }

    fn into_jid(self) -> Option<Jid> {
        match self {
            Address::Raw(raw) => Jid::new(&raw).ok(),
            Address::Jid(jid) => Some(jid),
        }
    }
}

/// What an answer to an incoming request says.
#[derive(Debug, Clone)]
pub(crate) enum ResponseBody {
    Result(Arc<Prepared>),
    /// Boxed: errors are rare, and the queue should not pay their size for every answer.
    Error(Box<StanzaError>),
}

/// An answer to an incoming request, waiting to be sent.
#[derive(Debug, Clone)]
pub(crate) struct OutgoingResponse {
    /// The requester (the request's `from`); `None` answers the server on the account's behalf.
    pub(crate) to: Option<Address>,
    /// The address the request was sent to, when the answer must say it (components).
    pub(crate) from: Option<Address>,
    pub(crate) id: String,
    pub(crate) body: ResponseBody,
}

impl OutgoingResponse {
    pub(crate) fn into_element(self, namespace: &str) -> Element {
        let to = self.to.as_ref().map(Address::as_str);
        let from = self.from.as_ref().map(Address::as_str);
        match self.body {
            ResponseBody::Result(payload) => envelope(namespace, "result", self.id, to, from)
                .append(payload.into_element())
                .build(),
            ResponseBody::Error(error) => envelope(namespace, "error", self.id, to, from)
                .append(error_element(&error, namespace))
                .build(),
        }
    }

    /// Appends the response to `out` as XML. A result is written by hand around its payload's
    /// bytes, which are serialised once per payload; an error goes through its element.
    pub(crate) fn write_to(self, namespace: &str, out: &mut Vec<u8>) -> Result<(), WriteError> {
        let ResponseBody::Result(payload) = &self.body else {
            return Ok(self.into_element(namespace).write_to(out)?);
        };
        let payload = payload.bytes()?;
        out.reserve(payload.len() + 160);
        let to = self.to.as_ref().map(Address::as_str);
        let from = self.from.as_ref().map(Address::as_str);
        write_envelope_head(out, namespace, "result", &self.id, to, from)?;
        out.extend_from_slice(payload);
        out.extend_from_slice(b"</iq>");
        Ok(())
    }

    pub(crate) fn into_iq(self) -> Iq {
        let to = self.to.and_then(Address::into_jid);
        let from = self.from.and_then(Address::into_jid);
        match self.body {
            ResponseBody::Result(payload) => Iq::Result {
                from,
                to,
                id: self.id,
                payload: Some(payload.into_element()),
            },
            ResponseBody::Error(error) => Iq::Error {
                from,
                to,
                id: self.id,
                error: *error,
                payload: None,
            },
        }
    }
}

/// A stanza error as an element of the stanza namespace `namespace`.
fn error_element(error: &StanzaError, namespace: &str) -> Element {
    let mut element = Element::builder("error", namespace)
        .attr(xml_ncname!("type").into(), error_type_name(&error.type_));
    if let Some(by) = &error.by {
        element = element.attr(xml_ncname!("by").into(), by.as_str());
    }
    element = element.append(Element::from(error.defined_condition.clone()));
    for (lang, text) in &error.texts {
        let mut text_element = Element::builder("text", ns::XMPP_STANZAS);
        if !lang.is_empty() {
            text_element =
                text_element.attr_ns(Namespace::XML, xml_ncname!("lang").into(), lang.as_str());
        }
        element = element.append(text_element.append(text.as_str()).build());
    }
    if let Some(other) = &error.other {
        element = element.append(other.clone());
    }
    element.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    #[test]
    fn recognises_iq_envelopes() {
        let iq = element("<iq xmlns='jabber:client' type='result' id='a' from='x@y'/>");
        let head = iq_head(&iq).unwrap();
        assert_eq!(head.type_, IqType::Result);
        assert_eq!(head.id, "a");
        assert_eq!(head.from, Some("x@y"));
        let component = element("<iq xmlns='jabber:component:accept' type='get' id='b'/>");
        assert_eq!(iq_head(&component).unwrap().type_, IqType::Get);
        for not_iq in [
            "<message xmlns='jabber:client' type='result' id='a'/>",
            "<iq xmlns='urn:other' type='result' id='a'/>",
            "<iq xmlns='jabber:client' type='bogus' id='a'/>",
            "<iq xmlns='jabber:client' id='a'/>",
            "<iq xmlns='jabber:client' type='result'/>",
        ] {
            assert!(iq_head(&element(not_iq)).is_none(), "{not_iq}");
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
            let ReplyBody::Error(Ok(error)) = reply_body(iq, IqType::Error) else {
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
                    reply_body(iq, IqType::Error),
                    ReplyBody::Error(Err(MalformedReply::InvalidError(_)))
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn builds_queries() {
        let query = OutgoingQuery {
            kind: QueryKind::Items,
            to: Jid::new("conference.example").unwrap(),
            id: String::from("disco-7"),
            node: Some(String::from("rooms")),
        };
        let sent = query.clone().into_element(ns::JABBER_CLIENT, None);
        let expected = element(
            "<iq xmlns='jabber:client' type='get' id='disco-7' to='conference.example'>\
             <query xmlns='http://jabber.org/protocol/disco#items' node='rooms'/></iq>",
        );
        assert_eq!(sent, expected);
        let from = Jid::new("component.example").unwrap();
        let iq = query.into_iq(Some(&from));
        assert_eq!(
            Element::from(iq),
            element(
                "<iq xmlns='jabber:client' type='get' id='disco-7' to='conference.example' \
                 from='component.example'>\
                 <query xmlns='http://jabber.org/protocol/disco#items' node='rooms'/></iq>",
            )
        );
    }

    #[test]
    fn classifies_disco_requests() {
        let request = |xml: &str| element(xml);
        let info = request("<iq xmlns='jabber:client' type='get' id='1'><query xmlns='http://jabber.org/protocol/disco#info' node='n'/></iq>");
        let found = disco_request(&info).unwrap();
        assert_eq!(
            (found.kind, found.node, found.well_formed),
            (QueryKind::Info, Some("n"), true)
        );
        let items = request("<iq xmlns='jabber:client' type='get' id='1'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>");
        assert_eq!(disco_request(&items).unwrap().kind, QueryKind::Items);
        let two = request("<iq xmlns='jabber:client' type='get' id='1'><query xmlns='http://jabber.org/protocol/disco#items'/><x xmlns='y'/></iq>");
        assert!(!disco_request(&two).unwrap().well_formed);
        let empty_node = request("<iq xmlns='jabber:client' type='get' id='1'><query xmlns='http://jabber.org/protocol/disco#items' node=''/></iq>");
        assert!(!disco_request(&empty_node).unwrap().well_formed);
        for other in [
            "<iq xmlns='jabber:client' type='get' id='1'/>",
            "<iq xmlns='jabber:client' type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
            "<iq xmlns='jabber:client' type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>",
        ] {
            assert!(disco_request(&request(other)).is_none(), "{other}");
        }
    }

    #[test]
    fn builds_error_responses() {
        let response = OutgoingResponse {
            to: Some(Address::Raw("romeo@example.net/orchard".into())),
            from: None,
            id: "q1".into(),
            body: ResponseBody::Error(Box::new(StanzaError::new(
                ErrorType::Cancel,
                DefinedCondition::ItemNotFound,
                "en",
                "no such node",
            ))),
        };
        let sent = response.clone().into_element(ns::JABBER_CLIENT);
        assert_eq!(
            sent,
            element(
                "<iq xmlns='jabber:client' type='error' id='q1' to='romeo@example.net/orchard'>\
                 <error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
                 <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>no such node</text>\
                 </error></iq>"
            )
        );
        assert_eq!(Iq::try_from(sent).unwrap(), response.into_iq());
    }
}
