//! The typed errors of the crate.
//!
//! Two families, kept apart on purpose:
//!
//! * [`QueryError`] is the *outcome* of a query that was accepted: it travels in a completion
//!   [`Event`](crate::Event) and is shared by every waiter of the request that failed.
//! * [`InvalidArgument`] refuses a command *at the call*: nothing was started, so no
//!   [`RequestId`](crate::RequestId) exists and no completion will follow.

use std::fmt;
use std::sync::Arc;

use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use crate::ids::ResponseHandle;
use crate::query::QueryKind;

/// Why a query completed without a result.
///
/// Cheap to clone: waiters aliased to one request all receive a clone of the same error, so the
/// large parts are behind an [`Arc`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The queried entity answered with a stanza error (type, condition and texts as sent).
    ///
    /// XEP-0030 peers typically answer `item-not-found` for an unknown node and
    /// `service-unavailable` or `feature-not-implemented` when they do not do disco at all.
    #[error("the entity answered with an error: {}", DisplayStanzaError(.0))]
    Stanza(Arc<StanzaError>),
    /// This waiter's deadline passed before an answer arrived. Other waiters aliased to the same
    /// request are not affected.
    #[error("no answer before the query's deadline")]
    Timeout,
    /// The host cancelled this query with [`DiscoMachine::cancel`](crate::DiscoMachine::cancel).
    #[error("the query was cancelled")]
    Cancelled,
    /// The stream was destroyed before an answer arrived
    /// ([`DiscoMachine::stream_destroyed`](crate::DiscoMachine::stream_destroyed)).
    #[error("the stream was destroyed before an answer arrived")]
    Disconnected,
    /// An answer arrived from the right entity with the right id but is not a valid disco reply.
    /// Behind an [`Arc`], like the other large parts: a malformed reply is rare, and every
    /// completion would otherwise carry the size of its details.
    #[error("malformed reply: {0}")]
    Malformed(Arc<MalformedReply>),
    /// Sending this query would exceed [`Config::max_in_flight`](crate::Config::max_in_flight).
    /// Nothing was sent; retry once some requests have completed.
    #[error("too many requests in flight (limit {limit})")]
    TooManyRequests {
        /// The configured limit that was reached.
        limit: usize,
    },
    /// A pending primed cache entry was failed by the host
    /// ([`DiscoMachine::fail_prime`](crate::DiscoMachine::fail_prime)). The failure sticks to the
    /// key until a query with [`QueryOptions::fresh`](crate::QueryOptions::fresh) replaces it.
    #[error("the primed entry failed: {0}")]
    PrimeFailed(Arc<str>),
}

impl QueryError {
    /// The peer's stanza error, when the query failed with one.
    pub fn stanza_error(&self) -> Option<&StanzaError> {
        match self {
            QueryError::Stanza(error) => Some(error),
            _ => None,
        }
    }

    /// What was wrong with the reply, when the query failed with a malformed one.
    pub fn malformed(&self) -> Option<&MalformedReply> {
        match self {
            QueryError::Malformed(reply) => Some(reply),
            _ => None,
        }
    }
}

impl From<MalformedReply> for QueryError {
    fn from(reply: MalformedReply) -> Self {
        QueryError::Malformed(Arc::new(reply))
    }
}

/// How a reply from the queried entity failed to be a valid disco answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedReply {
    /// An IQ `result` without a payload; a disco answer always carries a `<query/>`.
    #[error("the result carries no payload")]
    EmptyResult,
    /// An IQ `result` with more than one payload element (RFC 6120 §8.2.3 allows one).
    #[error("the result carries {count} payload elements, at most one is allowed")]
    MultiplePayloads {
        /// How many child elements the result carried.
        count: usize,
    },
    /// The payload is not the `<query/>` of the namespace that was asked for.
    #[error("expected a <query xmlns='{expected}'/> payload, got <{name} xmlns='{namespace}'/>")]
    UnexpectedPayload {
        /// The namespace of the query that was sent.
        expected: &'static str,
        /// The payload's element name.
        name: String,
        /// The payload's namespace.
        namespace: String,
    },
    /// The payload has the right name but does not follow the disco schema.
    #[error("invalid disco payload: {0}")]
    InvalidPayload(String),
    /// A `disco#info` result without any `<identity/>`; XEP-0030 §3.1 requires at least one.
    #[error("a disco#info result must contain at least one identity")]
    NoIdentity,
    /// The answer names another node than the one asked for (XEP-0030 §3.2: the response mirrors
    /// the request's `node`). An answer that omits the node is accepted.
    #[error("the answer is for node {answered:?}, the query was for node {asked:?}")]
    NodeMismatch {
        /// The node the query asked for.
        asked: Option<String>,
        /// The node the answer claims to describe.
        answered: Option<String>,
    },
    /// An IQ `error` whose `<error/>` element cannot be understood.
    #[error("the error reply carries no valid <error/> element: {0}")]
    InvalidError(String),
    /// A payload (or an error's condition) nested deeper than any disco answer is: refused
    /// before xmpp-parsers reads it, since its conversion recurses once per level and a
    /// hostile peer could nest deep enough to overflow the stack.
    #[error("the payload nests elements more than {limit} levels deep")]
    TooDeep {
        /// The most levels below the payload that are read.
        limit: usize,
    },
}

/// A command refused at the call: nothing was started and no event will follow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidArgument {
    /// An empty `node` string. XEP-0030 §3.3: the value of the node attribute MUST NOT be null;
    /// pass `None` for "no node".
    #[error("a disco node must not be empty; use None for no node")]
    EmptyNode,
    /// Text that would go into a stanza and that XML cannot carry (a node with a control
    /// character, or a [`Config::id_prefix`](crate::Config::id_prefix) with one).
    #[error(transparent)]
    Text(#[from] InvalidText),
}

/// Text from the host that XML cannot carry, refused when it came in.
///
/// XML 1.0 has no place for control characters other than tab, line feed and carriage return,
/// nor for U+FFFE and U+FFFF: no stream can carry a stanza holding one. The machine checks
/// every string the host hands it that will end up in a stanza when it comes in, and refuses
/// it with this error instead of queueing a stanza nobody could send.
///
/// Small on purpose (it travels in the errors of the hottest calls, such as
/// [`query_info`](crate::DiscoMachine::query_info)): it says where and what, not the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidText {
    /// A character outside XML's character range.
    #[error("the {field} holds {character:?}, a character XML cannot carry")]
    Character {
        /// What held it.
        field: TextField,
        /// The first such character.
        character: char,
    },
    /// An element whose name is not an XML name (in a form or another element the host built).
    #[error("the {field} holds an element whose name is not an XML name")]
    Name {
        /// What held it.
        field: TextField,
    },
}

/// Which text of the host's an [`InvalidText`] was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TextField {
    /// A node name: of a query, a primed entry, a mount (or a typed request's query).
    Node,
    /// [`Config::id_prefix`](crate::Config::id_prefix).
    IdPrefix,
    /// The id of a request handed over by the host.
    IqId,
    /// A feature's `var`.
    Feature,
    /// An identity's category.
    IdentityCategory,
    /// An identity's type.
    IdentityType,
    /// An identity's name.
    IdentityName,
    /// An identity name's `xml:lang`.
    IdentityLang,
    /// An item's node.
    ItemNode,
    /// An item's name.
    ItemName,
    /// An XEP-0128 form.
    Form,
    /// The answer of a dynamic or deferred node.
    Answer,
    /// A stanza error's text.
    ErrorText,
    /// A stanza error text's `xml:lang`.
    ErrorLang,
    /// A stanza error's application-specific condition.
    ErrorCondition,
    /// A page id (`after` or `before`) of a page query (XEP-0059).
    PageId,
}

impl fmt::Display for TextField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TextField::Node => "node",
            TextField::IdPrefix => "id prefix",
            TextField::IqId => "IQ id",
            TextField::Feature => "feature",
            TextField::IdentityCategory => "identity category",
            TextField::IdentityType => "identity type",
            TextField::IdentityName => "identity name",
            TextField::IdentityLang => "identity name's xml:lang",
            TextField::ItemNode => "item node",
            TextField::ItemName => "item name",
            TextField::Form => "form",
            TextField::Answer => "answer",
            TextField::ErrorText => "error text",
            TextField::ErrorLang => "error text's xml:lang",
            TextField::ErrorCondition => "error condition",
            TextField::PageId => "page id",
        })
    }
}

/// A change to a node registry that cannot be made. The node is left as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The feature is registered already (`disco#info` always is).
    #[error("feature {0:?} is already registered")]
    FeatureAlreadyRegistered(String),
    /// The feature is not registered (`disco#info` cannot be unregistered).
    #[error("feature {0:?} is not registered")]
    FeatureNotRegistered(String),
    /// The machine needs the feature where it is: the root's
    /// `http://jabber.org/protocol/caps` and `urn:xmpp:caps` while own capabilities are
    /// announced ([`Config::caps_node`](crate::Config::caps_node)), since the announced hashes
    /// say the root has them.
    #[error("feature {0:?} is required while own capabilities are announced")]
    FeatureRequired(String),
    /// An identity with this category and type exists already.
    #[error("identity {category}/{type_} is already registered")]
    IdentityAlreadyRegistered {
        /// The identity's category.
        category: String,
        /// The identity's type.
        type_: String,
    },
    /// No identity with this category and type exists.
    #[error("identity {category}/{type_} is not registered")]
    IdentityNotRegistered {
        /// The identity's category.
        category: String,
        /// The identity's type.
        type_: String,
    },
    /// The identity is the node's last one; XEP-0030 requires at least one. Register another
    /// first.
    #[error("identity {category}/{type_} is the node's last one")]
    LastIdentity {
        /// The identity's category.
        category: String,
        /// The identity's type.
        type_: String,
    },
    /// The XEP-0128 form is not usable as extended information.
    #[error("invalid extended-information form: {0}")]
    InvalidForm(&'static str),
    /// No node is mounted under this name.
    #[error("no node is mounted at {0:?}")]
    NotMounted(String),
    /// Text XML cannot carry (a feature, an identity, an item, a form, a node name).
    #[error(transparent)]
    Text(#[from] InvalidText),
}

impl RegistryError {
    pub(crate) fn identity_exists(category: &str, type_: &str) -> Self {
        RegistryError::IdentityAlreadyRegistered {
            category: category.to_owned(),
            type_: type_.to_owned(),
        }
    }

    pub(crate) fn identity_missing(category: &str, type_: &str) -> Self {
        RegistryError::IdentityNotRegistered {
            category: category.to_owned(),
            type_: type_.to_owned(),
        }
    }
}

/// An answer to a deferred request that cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The handle was answered already, or the stream it came on was destroyed.
    #[error("{0} is not waiting for an answer")]
    UnknownHandle(ResponseHandle),
    /// An info answer to an items request, or the other way round. The request still waits.
    #[error("{handle} asks for {expected:?}")]
    WrongKind {
        /// The request.
        handle: ResponseHandle,
        /// What it asks for.
        expected: QueryKind,
    },
    /// The answer holds text XML cannot carry. The request still waits for a valid answer.
    #[error("{handle} cannot be answered with this: {error}")]
    Text {
        /// The request.
        handle: ResponseHandle,
        /// What is wrong with the answer.
        error: InvalidText,
    },
}

/// The XML writer refused a stanza ([`Transmit::write_to`](crate::Transmit::write_to)).
///
/// Every text the machine queues was checked when it came in ([`InvalidText`]), so this is not
/// expected to happen, and the fuzz targets check that it does not; it exists because minidom's
/// writer, which serialises answers' payloads, is fallible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The XML writer's message.
    #[error("the stanza could not be written as XML: {0}")]
    Xml(String),
}

impl From<xmpp_parsers::minidom::Error> for WriteError {
    fn from(error: xmpp_parsers::minidom::Error) -> Self {
        WriteError::Xml(error.to_string())
    }
}

/// Displays a stanza error as `type/condition` followed by its first text, the way a log line
/// wants it.
struct DisplayStanzaError<'a>(&'a StanzaError);

impl fmt::Display for DisplayStanzaError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let error = self.0;
        write!(
            f,
            "{}/{}",
            error_type_name(&error.type_),
            condition_name(&error.defined_condition)
        )?;
        if let Some(text) = error.texts.values().next() {
            write!(f, " ({text})")?;
        }
        Ok(())
    }
}

/// The wire name of an error type (RFC 6120 §8.3.2).
pub(crate) fn error_type_name(type_: &ErrorType) -> &'static str {
    match type_ {
        ErrorType::Auth => "auth",
        ErrorType::Cancel => "cancel",
        ErrorType::Continue => "continue",
        ErrorType::Modify => "modify",
        ErrorType::Wait => "wait",
    }
}

/// The wire name of a defined condition (RFC 6120 §8.3.3).
pub(crate) fn condition_name(condition: &DefinedCondition) -> &'static str {
    match condition {
        DefinedCondition::BadRequest => "bad-request",
        DefinedCondition::Conflict => "conflict",
        DefinedCondition::FeatureNotImplemented => "feature-not-implemented",
        DefinedCondition::Forbidden => "forbidden",
        DefinedCondition::Gone { .. } => "gone",
        DefinedCondition::InternalServerError => "internal-server-error",
        DefinedCondition::ItemNotFound => "item-not-found",
        DefinedCondition::JidMalformed => "jid-malformed",
        DefinedCondition::NotAcceptable => "not-acceptable",
        DefinedCondition::NotAllowed => "not-allowed",
        DefinedCondition::NotAuthorized => "not-authorized",
        DefinedCondition::PolicyViolation => "policy-violation",
        DefinedCondition::RecipientUnavailable => "recipient-unavailable",
        DefinedCondition::Redirect { .. } => "redirect",
        DefinedCondition::RegistrationRequired => "registration-required",
        DefinedCondition::RemoteServerNotFound => "remote-server-not-found",
        DefinedCondition::RemoteServerTimeout => "remote-server-timeout",
        DefinedCondition::ResourceConstraint => "resource-constraint",
        DefinedCondition::ServiceUnavailable => "service-unavailable",
        DefinedCondition::SubscriptionRequired => "subscription-required",
        DefinedCondition::UndefinedCondition => "undefined-condition",
        DefinedCondition::UnexpectedRequest => "unexpected-request",
    }
}
