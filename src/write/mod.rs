//! Writing: what the machine hands out to be sent, the three forms a host can take it in, and
//! the answer payloads behind them ([`payload`] builds them, [`prepared`] keeps their bytes).
//!
//! A [`Transmit`] holds the stanza in the machine's own terms (a request, or an answer around a
//! shared payload) and becomes an [`Element`], a typed [`Iq`] or XML bytes only when the host
//! asks, so that each form costs only itself: the bytes of an answer are its payload's bytes,
//! serialised once per change of the node, behind an envelope written by hand; the typed form
//! moves the envelope's fields instead of converting an element through xmpp-parsers.
//!
//! Every text in a transmit was checked when it came in ([`crate::text`]) and every address is a
//! [`Jid`], so the three forms always say the same thing.

use std::sync::Arc;

use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::rxml::{xml_ncname, Namespace};
use xmpp_parsers::minidom::{Element, ElementBuilder};
use xmpp_parsers::ns;
use xmpp_parsers::rsm::SetQuery;
use xmpp_parsers::stanza_error::StanzaError;

use crate::error::{error_type_name, WriteError};
use crate::query::QueryKind;
use prepared::Prepared;

mod namespace;
pub(crate) mod payload;
pub(crate) mod prepared;

pub use namespace::StanzaNamespace;

/// A stanza the machine wants sent, drained with
/// [`DiscoMachine::poll_transmit`](crate::DiscoMachine::poll_transmit). The host takes it in the
/// form its stream wants:
///
/// * [`into_element`](Self::into_element): a [`minidom::Element`](Element), the form most XMPP
///   stacks write;
/// * [`into_iq`](Self::into_iq): a typed [`Iq`], the form tokio-xmpp sends;
/// * [`write_to`](Self::write_to): XML appended to the host's buffer, for hosts that write
///   their stream themselves (a component, a custom transport); the cheapest form.
///
/// All three say the same thing: the same addresses, id and payload.
///
/// ```
/// use std::time::Instant;
/// use xmpp_disco::{DiscoMachine, Handled};
/// use xmpp_disco::xmpp_parsers::minidom::Element;
///
/// let mut disco = DiscoMachine::default();
/// let request: Element = "<iq xmlns='jabber:client' type='get' id='q1' from='romeo@example.net/orchard'>\
///     <query xmlns='http://jabber.org/protocol/disco#info'/></iq>".parse()?;
/// assert!(matches!(disco.handle_stanza(Instant::now(), request), Handled::Consumed));
///
/// let answer = disco.poll_transmit().expect("the answer");
/// assert_eq!(answer.to().map(|to| to.as_str()), Some("romeo@example.net/orchard"));
/// let mut buffer = Vec::new();
/// answer.write_to(&mut buffer)?;
/// let written = Element::from_reader(buffer.as_slice())?;
/// assert_eq!(written, answer.into_element());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a transmit is a stanza the machine wants sent"]
pub struct Transmit {
    namespace: StanzaNamespace,
    stanza: Outgoing,
}

/// The stanza inside a [`Transmit`].
#[derive(Debug, Clone)]
pub(crate) enum Outgoing {
    Query(OutgoingQuery),
    Response(OutgoingResponse),
}

impl Transmit {
    pub(crate) fn new(namespace: StanzaNamespace, stanza: Outgoing) -> Self {
        Transmit { namespace, stanza }
    }

    /// The addressee: the entity asked, or the requester answered. `None` for an answer to a
    /// request that came without `from`, which goes back to the own server.
    pub fn to(&self) -> Option<&Jid> {
        match &self.stanza {
            Outgoing::Query(query) => Some(&query.to),
            Outgoing::Response(response) => response.to.as_ref(),
        }
    }

    /// The stanza's `from`, when the machine writes one ([`Config::stamp_from`](crate::Config)).
    pub fn from(&self) -> Option<&Jid> {
        match &self.stanza {
            Outgoing::Query(query) => query.from.as_deref(),
            Outgoing::Response(response) => response.from.as_ref(),
        }
    }

    /// The IQ's `id`: one of the machine's for a request, the request's for an answer.
    pub fn id(&self) -> &str {
        match &self.stanza {
            Outgoing::Query(query) => &query.id,
            Outgoing::Response(response) => &response.id,
        }
    }

    /// Whether this is a request of the machine's own (`get`), rather than an answer.
    pub fn is_request(&self) -> bool {
        matches!(self.stanza, Outgoing::Query(_))
    }

    /// The stanza as an element in the configured stanza namespace.
    pub fn into_element(self) -> Element {
        let namespace = self.namespace.as_str();
        match self.stanza {
            Outgoing::Query(query) => query.into_element(namespace),
            Outgoing::Response(response) => response.into_element(namespace),
        }
    }

    /// The stanza as a typed [`Iq`], the form tokio-xmpp sends. The envelope's fields are moved,
    /// not converted.
    pub fn into_iq(self) -> Iq {
        match self.stanza {
            Outgoing::Query(query) => query.into_iq(),
            Outgoing::Response(response) => response.into_iq(),
        }
    }

    /// Appends the stanza to `out` as XML: one element with its namespace declared
    /// (`<iq xmlns='jabber:client' ...>`), ready to be written into an open stream. When `out`
    /// has room, nothing is allocated.
    ///
    /// # Errors
    ///
    /// [`WriteError`] if the XML writer refuses the stanza; `out` is then left as it was. The
    /// machine checks every text the host hands it when it comes in, so that this cannot happen
    /// for what it queues (the fuzz targets check that it never does); the error exists
    /// because minidom's writer, which writes the payloads, is fallible.
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), WriteError> {
        let start = out.len();
        let namespace = self.namespace.as_str();
        let written = match &self.stanza {
            Outgoing::Query(query) => {
                query.write_to(namespace, out);
                Ok(())
            }
            Outgoing::Response(response) => response.write_to(namespace, out),
        };
        if written.is_err() {
            out.truncate(start);
        }
        written
    }
}

impl From<Transmit> for Element {
    fn from(transmit: Transmit) -> Self {
        transmit.into_element()
    }
}

impl From<Transmit> for Iq {
    fn from(transmit: Transmit) -> Self {
        transmit.into_iq()
    }
}

/// A disco request waiting to be sent.
#[derive(Debug, Clone)]
pub(crate) struct OutgoingQuery {
    pub(crate) kind: QueryKind,
    pub(crate) to: Jid,
    /// The asking address: the query's own ([`QueryOptions::from`](crate::QueryOptions)), or
    /// the machine's when it stamps it ([`Config::stamp_from`](crate::Config)).
    pub(crate) from: Option<Arc<Jid>>,
    pub(crate) id: String,
    pub(crate) node: Option<String>,
    /// The page asked for (XEP-0059), for an items query that reads a list page by page.
    pub(crate) page: Option<Box<SetQuery>>,
}

impl OutgoingQuery {
    fn payload(&self) -> Element {
        let mut query = Element::builder("query", self.kind.namespace());
        if let Some(node) = &self.node {
            query = query.attr(xml_ncname!("node").into(), node.as_str());
        }
        if let Some(page) = &self.page {
            query = query.append(page_element(page));
        }
        query.build()
    }

    fn into_element(self, namespace: &str) -> Element {
        let payload = self.payload();
        let from = self
            .from
            .map(|from| Arc::unwrap_or_clone(from).into_inner());
        envelope(namespace, "get", self.id, Some(self.to.into_inner()), from)
            .append(payload)
            .build()
    }

    /// Written by hand: it is a handful of attributes, every one checked when it came in.
    fn write_to(&self, namespace: &str, out: &mut Vec<u8>) {
        let from = self.from.as_deref().map(Jid::as_str);
        write_envelope_head(
            out,
            namespace,
            "get",
            &self.id,
            Some(self.to.as_str()),
            from,
        );
        out.extend_from_slice(b"<query xmlns='");
        out.extend_from_slice(self.kind.namespace().as_bytes());
        if let Some(node) = &self.node {
            out.extend_from_slice(b"' node='");
            write_attribute_value(out, node);
        }
        match &self.page {
            None => out.extend_from_slice(b"'/></iq>"),
            Some(page) => {
                out.extend_from_slice(b"'>");
                write_page(out, page);
                out.extend_from_slice(b"</query></iq>");
            }
        }
    }

    fn into_iq(self) -> Iq {
        let payload = self.payload();
        Iq::Get {
            from: self.from.map(Arc::unwrap_or_clone),
            to: Some(self.to),
            id: self.id,
            payload,
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
    pub(crate) to: Option<Jid>,
    /// The address the request was sent to, when the answer must say it (components).
    pub(crate) from: Option<Jid>,
    pub(crate) id: String,
    pub(crate) body: ResponseBody,
}

impl OutgoingResponse {
    fn into_element(self, namespace: &str) -> Element {
        let (type_, child) = match self.body {
            ResponseBody::Result(payload) => ("result", payload.into_element()),
            ResponseBody::Error(error) => ("error", error_element(&error, namespace)),
        };
        let (to, from) = (self.to.map(Jid::into_inner), self.from.map(Jid::into_inner));
        envelope(namespace, type_, self.id, to, from)
            .append(child)
            .build()
    }

    /// A result is written by hand around its payload's bytes, which are serialised once per
    /// payload; an error (rare) goes through its element.
    fn write_to(&self, namespace: &str, out: &mut Vec<u8>) -> Result<(), WriteError> {
        let ResponseBody::Result(payload) = &self.body else {
            return Ok(self.clone().into_element(namespace).write_to(out)?);
        };
        let payload = payload.bytes()?;
        out.reserve(payload.len() + 160);
        let to = self.to.as_ref().map(Jid::as_str);
        let from = self.from.as_ref().map(Jid::as_str);
        write_envelope_head(out, namespace, "result", &self.id, to, from);
        out.extend_from_slice(payload);
        out.extend_from_slice(b"</iq>");
        Ok(())
    }

    fn into_iq(self) -> Iq {
        let (to, from, id) = (self.to, self.from, self.id);
        match self.body {
            ResponseBody::Result(payload) => Iq::Result {
                from,
                to,
                id,
                payload: Some(payload.into_element()),
            },
            ResponseBody::Error(error) => Iq::Error {
                from,
                to,
                id,
                error: *error,
                payload: None,
            },
        }
    }
}

/// The `<iq/>` around a payload. The texts are moved in: a JID's text becomes the attribute
/// without a copy.
fn envelope(
    namespace: &str,
    type_: &str,
    id: String,
    to: Option<String>,
    from: Option<String>,
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
) {
    out.extend_from_slice(b"<iq xmlns='");
    write_attribute_value(out, namespace);
    out.extend_from_slice(b"' type='");
    out.extend_from_slice(type_.as_bytes());
    out.extend_from_slice(b"' id='");
    write_attribute_value(out, id);
    for (name, value) in [(&b"' to='"[..], to), (b"' from='", from)] {
        if let Some(value) = value {
            out.extend_from_slice(name);
            write_attribute_value(out, value);
        }
    }
    out.extend_from_slice(b"'>");
}

/// Appends `value` to `out` as the content of an attribute quoted with `'`, escaped.
///
/// Tabs and line breaks become character references, so that attribute-value normalisation
/// gives the value back unchanged. Characters XML cannot carry never get here: they were
/// refused when the text came in ([`crate::text`]).
fn write_attribute_value(out: &mut Vec<u8>, value: &str) {
    let mut plain = 0;
    for (at, byte) in value.bytes().enumerate() {
        let escape: &[u8] = match byte {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'\'' => b"&apos;",
            b'"' => b"&quot;",
            b'\t' => b"&#9;",
            b'\n' => b"&#10;",
            b'\r' => b"&#13;",
            _ => continue,
        };
        out.extend_from_slice(value.as_bytes().get(plain..at).unwrap_or_default());
        out.extend_from_slice(escape);
        plain = at + 1;
    }
    out.extend_from_slice(value.as_bytes().get(plain..).unwrap_or_default());
}

/// The RSM `<set/>` of a page request, each part present only if asked (an empty `before`:
/// the last page).
fn page_element(page: &SetQuery) -> Element {
    let part = |name: &str, text: String| {
        let element = Element::builder(name, ns::RSM);
        if text.is_empty() {
            element.build()
        } else {
            element.append(text).build()
        }
    };
    let mut set = Element::builder("set", ns::RSM);
    if let Some(max) = page.max {
        set = set.append(part("max", max.to_string()));
    }
    if let Some(after) = &page.after {
        set = set.append(part("after", after.clone()));
    }
    if let Some(before) = &page.before {
        set = set.append(part("before", before.clone()));
    }
    if let Some(index) = page.index {
        set = set.append(part("index", index.to_string()));
    }
    set.build()
}

/// [`page_element`] written by hand, the same parts in the same order.
fn write_page(out: &mut Vec<u8>, page: &SetQuery) {
    out.extend_from_slice(b"<set xmlns='");
    out.extend_from_slice(ns::RSM.as_bytes());
    out.extend_from_slice(b"'>");
    let mut part = |name: &str, text: &str| {
        out.push(b'<');
        out.extend_from_slice(name.as_bytes());
        if text.is_empty() {
            out.extend_from_slice(b"/>");
        } else {
            out.push(b'>');
            write_attribute_value(out, text);
            out.extend_from_slice(b"</");
            out.extend_from_slice(name.as_bytes());
            out.push(b'>');
        }
    };
    let (max, index) = (
        page.max.map(|n| n.to_string()),
        page.index.map(|n| n.to_string()),
    );
    if let Some(max) = &max {
        part("max", max);
    }
    if let Some(after) = &page.after {
        part("after", after);
    }
    if let Some(before) = &page.before {
        part("before", before);
    }
    if let Some(index) = &index {
        part("index", index);
    }
    out.extend_from_slice(b"</set>");
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
    use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};

    fn element(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    fn attribute(value: &str) -> String {
        let mut out = Vec::new();
        write_attribute_value(&mut out, value);
        String::from_utf8(out).unwrap()
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
            let xml = format!("<x xmlns='urn:t' v='{}'/>", attribute(value));
            let element: Element = xml.parse().unwrap();
            assert_eq!(element.attr("v"), Some(value), "{xml}");
        }
    }

    /// The three forms of one transmit say the same thing (a typed IQ has no namespace of its
    /// own: xmpp-parsers writes it as `jabber:client`).
    fn forms(transmit: Transmit) -> Element {
        let mut bytes = Vec::new();
        transmit.write_to(&mut bytes).unwrap();
        let written = Element::from_reader(bytes.as_slice()).unwrap();
        let typed = Element::from(transmit.clone().into_iq());
        let element = transmit.into_element();
        assert_eq!(written, element);
        assert_eq!(typed.name(), element.name());
        assert_eq!(typed.attrs(), element.attrs());
        assert!(typed.nodes().eq(element.nodes()));
        element
    }

    #[test]
    fn builds_queries() {
        let query = OutgoingQuery {
            kind: QueryKind::Items,
            to: Jid::new("conference.example").unwrap(),
            from: None,
            id: String::from("disco-7"),
            node: Some(String::from("rooms & halls")),
            page: None,
        };
        let transmit = Transmit::new(StanzaNamespace::Client, Outgoing::Query(query.clone()));
        assert_eq!(
            forms(transmit),
            element(
                "<iq xmlns='jabber:client' type='get' id='disco-7' to='conference.example'>\
                 <query xmlns='http://jabber.org/protocol/disco#items' node='rooms &amp; halls'/></iq>",
            )
        );
        let stamped = OutgoingQuery {
            from: Some(Arc::new(Jid::new("component.example").unwrap())),
            ..query
        };
        let transmit = Transmit::new(StanzaNamespace::ComponentAccept, Outgoing::Query(stamped));
        assert_eq!(
            forms(transmit),
            element(
                "<iq xmlns='jabber:component:accept' type='get' id='disco-7' to='conference.example' \
                 from='component.example'>\
                 <query xmlns='http://jabber.org/protocol/disco#items' node='rooms &amp; halls'/></iq>",
            )
        );
    }

    #[test]
    fn builds_error_responses() {
        let response = OutgoingResponse {
            to: Some(Jid::new("romeo@example.net/orchard").unwrap()),
            from: None,
            id: "q1".into(),
            body: ResponseBody::Error(Box::new(StanzaError::new(
                ErrorType::Cancel,
                DefinedCondition::ItemNotFound,
                "en",
                "no such node",
            ))),
        };
        let transmit = Transmit::new(StanzaNamespace::Client, Outgoing::Response(response));
        assert_eq!(
            forms(transmit),
            element(
                "<iq xmlns='jabber:client' type='error' id='q1' to='romeo@example.net/orchard'>\
                 <error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
                 <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>no such node</text>\
                 </error></iq>"
            )
        );
    }
}
