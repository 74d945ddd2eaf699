//! One page of an item list (XEP-0059), chosen by position: no copy of the list, no state.
//!
//! A page id is the item's position and a fingerprint of the item (`"17.9c3f2a1b0d4e5f60"`):
//! finding the item after or before an id costs one parse and one hash, and an id whose
//! position now holds another item (the list changed since) names no item, which XEP-0059 answers
//! with `item-not-found`. So ids are stable while the list does not change, and a requester
//! paging through a list that changes under it is told rather than shown duplicates or gaps.

use std::ops::Range;

use xmpp_parsers::disco::Item;
use xmpp_parsers::rsm::{First, SetQuery, SetResult};

/// The page a request asks for: which items, and the `<set/>` that describes them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Page {
    pub(crate) range: Range<usize>,
    pub(crate) set: SetResult,
}

/// An `after` or `before` id that names no item of the list (XEP-0059 §2.5: `item-not-found`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UnknownId;

/// The page of `items` that `query` asks for, each page holding at most `limit` items.
///
/// `Ok(None)`: no page was asked for and the list fits within `limit`, so the whole list is the
/// answer, without a `<set/>` (XEP-0030). A longer list without a query answers its first page,
/// with the `<set/>` that tells the requester there is more.
pub(crate) fn select(
    items: &[Item],
    query: Option<&SetQuery>,
    limit: Option<usize>,
) -> Result<Option<Page>, UnknownId> {
    let count = items.len();
    let limit = limit.unwrap_or(usize::MAX);
    let Some(query) = query else {
        return Ok((count > limit).then(|| describe(items, 0..limit)));
    };
    let max = query.max.unwrap_or(usize::MAX).min(limit);
    let range = match (&query.after, &query.before, query.index) {
        (Some(after), _, _) => {
            let start = position(items, after).ok_or(UnknownId)? + 1;
            start..start.saturating_add(max).min(count)
        }
        (None, Some(before), _) => {
            let end = if before.is_empty() {
                count
            } else {
                position(items, before).ok_or(UnknownId)?
            };
            end.saturating_sub(max)..end
        }
        // An index past the end is an empty page (XEP-0059 §2.6).
        (None, None, Some(index)) => {
            let start = index.min(count);
            start..start.saturating_add(max).min(count)
        }
        (None, None, None) => 0..max.min(count),
    };
    // An empty list is an empty answer, without a `<set/>` (XEP-0059 §2.3).
    Ok((count > 0).then(|| describe(items, range)))
}

/// The `<set/>` of the page `range` (clamped to the list): `first` with its index and `last`
/// when the page holds items, and always the `count` of the whole list.
fn describe(items: &[Item], range: Range<usize>) -> Page {
    let range = range.start.min(items.len())..range.end.min(items.len());
    let first = items.get(range.clone()).and_then(|page| page.first());
    let last = range.end.checked_sub(1).filter(|_| !range.is_empty());
    Page {
        set: SetResult {
            first: first.map(|item| First {
                index: Some(range.start),
                item: id(range.start, item),
            }),
            last: last.and_then(|at| items.get(at).map(|item| id(at, item))),
            count: Some(items.len()),
        },
        range,
    }
}

/// The page id of `item`, at `index` in its list.
pub(crate) fn id(index: usize, item: &Item) -> String {
    format!("{index}.{:016x}", fingerprint(item))
}

/// Where the item `id` names is, if it is still there.
fn position(items: &[Item], id: &str) -> Option<usize> {
    let (index, print) = id.split_once('.')?;
    let canonical = !index.is_empty()
        && index.bytes().all(|b| b.is_ascii_digit())
        && (index.len() == 1 || !index.starts_with('0'));
    let index: usize = index.parse().ok().filter(|_| canonical)?;
    let item = items.get(index)?;
    (format!("{:016x}", fingerprint(item)) == print).then_some(index)
}

/// FNV-1a over what makes an item itself (XEP-0030 §4.2: its JID and node), so that an id
/// depends on nothing but the item and is the same in every run.
fn fingerprint(item: &Item) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let node = item.node.as_deref();
    let bytes = item
        .jid
        .as_str()
        .bytes()
        // 0xff never occurs in UTF-8: the JID's end cannot be confused with the node's start,
        // nor "no node" with an empty one.
        .chain(node.map(|_| 0xff))
        .chain(node.unwrap_or_default().bytes());
    bytes.fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use xmpp_parsers::jid::Jid;

    fn rooms(count: usize) -> Vec<Item> {
        (0..count)
            .map(|n| Item {
                jid: Jid::new(&format!("room{n}@rooms.example")).expect("a JID"),
                node: None,
                name: None,
            })
            .collect()
    }

    fn query(max: Option<usize>, after: Option<String>, before: Option<String>) -> SetQuery {
        SetQuery {
            max,
            after,
            before,
            index: None,
        }
    }

    #[test]
    fn a_short_list_without_a_query_is_answered_whole() {
        assert_eq!(select(&rooms(5), None, None), Ok(None));
        assert_eq!(select(&rooms(5), None, Some(5)), Ok(None));
    }

    #[test]
    fn a_list_longer_than_the_limit_answers_its_first_page() {
        let page = select(&rooms(7), None, Some(3)).unwrap().unwrap();
        assert_eq!(page.range, 0..3);
        assert_eq!(page.set.count, Some(7));
        assert_eq!(page.set.first.unwrap().index, Some(0));
    }

    #[test]
    fn pages_follow_each_other_forwards_and_backwards() {
        let items = rooms(10);
        let first = select(&items, Some(&query(Some(4), None, None)), None)
            .unwrap()
            .unwrap();
        assert_eq!(first.range, 0..4);
        let next = select(
            &items,
            Some(&query(Some(4), first.set.last.clone(), None)),
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(next.range, 4..8);
        let last = select(&items, Some(&query(Some(4), next.set.last, None)), None)
            .unwrap()
            .unwrap();
        assert_eq!(last.range, 8..10);
        let before = first_id(&last);
        let back = select(&items, Some(&query(Some(4), None, Some(before))), None)
            .unwrap()
            .unwrap();
        assert_eq!(back.range, 4..8);
        let end = select(
            &items,
            Some(&query(Some(3), None, Some(String::new()))),
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(end.range, 7..10);
    }

    fn first_id(page: &Page) -> String {
        page.set.first.as_ref().expect("a first item").item.clone()
    }

    #[test]
    fn an_empty_list_is_answered_without_a_set() {
        assert_eq!(
            select(&[], Some(&query(Some(5), None, None)), Some(2)),
            Ok(None)
        );
        let unknown = query(None, Some("0.0000000000000000".into()), None);
        assert_eq!(select(&[], Some(&unknown), None), Err(UnknownId));
    }

    #[test]
    fn max_zero_counts_without_items() {
        let page = select(&rooms(10), Some(&query(Some(0), None, None)), None)
            .unwrap()
            .unwrap();
        assert!(page.range.is_empty());
        assert_eq!(
            page.set,
            SetResult {
                first: None,
                last: None,
                count: Some(10)
            }
        );
    }

    #[test]
    fn an_index_past_the_end_is_an_empty_page() {
        let mut past = query(Some(5), None, None);
        past.index = Some(12);
        let page = select(&rooms(10), Some(&past), None).unwrap().unwrap();
        assert!(page.range.is_empty());
        assert_eq!(page.set.count, Some(10));
    }

    #[test]
    fn an_id_whose_item_changed_or_never_was_is_unknown() {
        let mut items = rooms(10);
        let stale = id(3, &items[3]);
        items.remove(0);
        let asked = query(Some(2), Some(stale), None);
        assert_eq!(select(&items, Some(&asked), None), Err(UnknownId));
        for bogus in ["", "3", "x.0", "03.0000000000000000", "99.0000000000000000"] {
            let asked = query(None, Some(bogus.into()), None);
            assert_eq!(
                select(&items, Some(&asked), None),
                Err(UnknownId),
                "{bogus:?}"
            );
        }
    }

    #[test]
    fn a_huge_max_is_capped_by_the_limit() {
        let page = select(
            &rooms(10),
            Some(&query(Some(usize::MAX), None, None)),
            Some(4),
        )
        .unwrap()
        .unwrap();
        assert_eq!(page.range, 0..4);
    }

    #[test]
    fn an_item_with_a_node_differs_from_the_same_jid_without() {
        let jid = Jid::new("pubsub.example").expect("a JID");
        let bare = Item {
            jid: jid.clone(),
            node: None,
            name: None,
        };
        let empty = Item {
            jid,
            node: Some(String::new()),
            name: None,
        };
        assert_ne!(fingerprint(&bare), fingerprint(&empty));
    }
}
