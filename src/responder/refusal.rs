//! The stanza errors the responder answers with, each with the type RFC 6120 gives its
//! condition.

use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use crate::write::ResponseBody;

fn stanza_error(type_: ErrorType, condition: DefinedCondition) -> ResponseBody {
    ResponseBody::Error(Box::new(StanzaError {
        type_,
        by: None,
        defined_condition: condition,
        texts: Default::default(),
        other: None,
    }))
}

/// `item-not-found`, type `cancel`: no such node, or a node with nothing to say to this requester.
pub(super) fn item_not_found() -> ResponseBody {
    stanza_error(ErrorType::Cancel, DefinedCondition::ItemNotFound)
}

/// `service-unavailable`, type `cancel`: a `set`, or a requester the policy refuses.
pub(super) fn service_unavailable() -> ResponseBody {
    stanza_error(ErrorType::Cancel, DefinedCondition::ServiceUnavailable)
}

/// `bad-request`, type `modify`: a query no answer can be given to.
pub(super) fn bad_request() -> ResponseBody {
    stanza_error(ErrorType::Modify, DefinedCondition::BadRequest)
}

/// `resource-constraint`, type `wait`: too many deferred requests are waiting for the host.
pub(super) fn resource_constraint() -> ResponseBody {
    stanza_error(ErrorType::Wait, DefinedCondition::ResourceConstraint)
}

/// `internal-server-error`, type `cancel` (RFC 6120 §8.3.3.6): the host's dynamic node answered
/// what XML cannot carry.
pub(super) fn internal_server_error() -> ResponseBody {
    stanza_error(ErrorType::Cancel, DefinedCondition::InternalServerError)
}
