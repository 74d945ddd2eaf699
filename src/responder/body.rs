//! The body of an answer: a static node's built answer or a page of its items, or what a
//! dynamic node or the host said, checked for text XML cannot carry before it goes anywhere.

use std::sync::Arc;

use xmpp_parsers::disco::{DiscoInfoResult, Item};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::rsm::SetQuery;
use xmpp_parsers::stanza_error::StanzaError;

use super::dynamic::ItemsPage;
use super::mount::AnswerCache;
use super::node::StaticNode;
use super::page;
use super::refusal::item_not_found;
use crate::error::{InvalidText, TextField};
use crate::text;
use crate::write::payload;
use crate::write::prepared::Prepared;
use crate::write::ResponseBody;

/// An answer a dynamic node or the host gave: a payload, `None` for "no such node", or text
/// XML cannot carry.
pub(super) type HostAnswer = Result<Option<Element>, InvalidText>;

/// The payload of what a dynamic node or the host said: `None` or an identity-less info is
/// "no such node".
pub(super) fn typed_info(node: Option<&str>, info: Option<DiscoInfoResult>) -> HostAnswer {
    match info {
        Some(info) if !info.identities.is_empty() => checked(payload::typed_info(node, &info)),
        _ => Ok(None),
    }
}

/// The payload of the items a dynamic node or the host gave, or of the page asked for out of
/// them, each page holding at most `limit` items; an unknown page id is "no such node".
pub(super) fn typed_items(
    node: Option<&str>,
    items: Option<Vec<Item>>,
    page: Option<&SetQuery>,
    limit: Option<usize>,
) -> HostAnswer {
    let Some(items) = items else {
        return Ok(None);
    };
    match page::select(&items, page, limit) {
        Ok(None) => checked(payload::items(node, &items)),
        Ok(Some(page)) => {
            let listed = items.get(page.range).unwrap_or_default();
            checked(payload::page(node, listed, &page.set))
        }
        Err(page::UnknownId) => Ok(None),
    }
}

/// The items payload a dynamic node's answer to a page request makes.
pub(super) fn typed_page(
    node: Option<&str>,
    answer: Option<ItemsPage>,
    page: &SetQuery,
    limit: Option<usize>,
) -> HostAnswer {
    match answer {
        Some(ItemsPage::Page(items, set)) => checked(payload::page(node, &items, &set)),
        Some(ItemsPage::Whole(items)) => typed_items(node, Some(items), Some(page), limit),
        None => Ok(None),
    }
}

/// The items answer of a static node: its built answer when the whole list is asked for and
/// fits, otherwise the page, built from the items it holds (no copy of the rest).
pub(super) fn static_items(
    name: Option<&str>,
    node: &StaticNode,
    cache: &mut AnswerCache,
    page: Option<&SetQuery>,
    limit: Option<usize>,
) -> ResponseBody {
    match page::select(node.items(), page, limit) {
        Ok(None) => ResponseBody::Result(Arc::clone(cache.items(name, node))),
        Ok(Some(page)) => {
            let items = node.items().get(page.range).unwrap_or_default();
            ResponseBody::Result(Prepared::new(payload::page(name, items, &page.set)))
        }
        Err(page::UnknownId) => item_not_found(),
    }
}

/// The answer a host's payload makes: a result, or `item-not-found` for "no such node".
pub(super) fn found(payload: Option<Element>) -> ResponseBody {
    payload.map_or_else(item_not_found, |payload| {
        ResponseBody::Result(Prepared::new(payload))
    })
}

/// The payload, once every text in it is known to be writable.
fn checked(payload: Element) -> HostAnswer {
    text::check_element(TextField::Answer, &payload)?;
    Ok(Some(payload))
}

/// Whether XML can carry a stanza error the host chose: its condition (`gone` and `redirect`
/// carry an address as text), its texts and its application condition.
pub(super) fn check_stanza_error(error: &StanzaError) -> Result<(), InvalidText> {
    let condition = Element::from(error.defined_condition.clone());
    text::check_element(TextField::ErrorCondition, &condition)?;
    for (lang, message) in &error.texts {
        text::check(TextField::ErrorLang, lang)?;
        text::check(TextField::ErrorText, message)?;
    }
    error.other.as_ref().map_or(Ok(()), |other| {
        text::check_element(TextField::ErrorCondition, other)
    })
}
