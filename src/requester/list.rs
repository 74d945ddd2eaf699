//! Reading a whole item list one page after the other (XEP-0059), and deciding when it ends.
//!
//! The responder's `count` is never trusted to stop (servers get it wrong), and neither is a
//! responder that pages forever: the list ends at an empty page, a page without `<last/>` (a
//! responder without RSM answers the whole list at once), a page shorter than the first one
//! asked for with a `max` (a page sent unasked has the responder's own size), a page that
//! brings no new item or repeats a page id already seen, or a bound. Only the first
//! three are the responder saying the list ended; after the others the list is read as far as
//! it could be, and says it may not be whole.

use std::collections::HashSet;

use xmpp_parsers::disco::{DiscoItemsResult, Item};
use xmpp_parsers::rsm::SetQuery;

use crate::results::ItemList;

/// What to do after a page.
#[derive(Debug, PartialEq)]
pub(super) enum Step {
    /// Ask for the page after this id.
    Next(String),
    /// The list is read.
    Done(ItemList),
}

/// A list being read: the items so far and what the pages said.
#[derive(Debug)]
pub(super) struct ListRead {
    node: Option<String>,
    items: Vec<Item>,
    /// (JID, node) of every item kept: an item is kept once, however often pages repeat it.
    seen: HashSet<(String, Option<String>)>,
    /// Every `<last/>` id so far: one coming back is a responder going round in circles.
    lasts: HashSet<String>,
    pages: usize,
    /// How many items the first page asked for with a `max` held: the responder's page size,
    /// which may be smaller than the `max` asked for. (A page the responder sent unasked, to a
    /// plain first request, has its own size and says nothing of the next pages'.)
    page_len: Option<usize>,
    /// Whether the page awaited was asked for with a `<set/>`.
    paging: bool,
    /// The `max` asked for on each page.
    asked: usize,
    max_pages: usize,
    max_items: usize,
}

impl ListRead {
    pub(super) fn new(
        node: Option<&str>,
        asked: usize,
        max_pages: usize,
        max_items: usize,
    ) -> Self {
        ListRead {
            node: node.map(str::to_owned),
            items: Vec::new(),
            seen: HashSet::new(),
            lasts: HashSet::new(),
            pages: 0,
            page_len: None,
            paging: false,
            asked: asked.max(1),
            max_pages,
            max_items,
        }
    }

    /// Whether this read goes at least as far as one bounded by `max_items` and `max_pages`.
    pub(super) fn reads_as_far(&self, max_items: usize, max_pages: usize) -> bool {
        self.max_items >= max_items && self.max_pages >= max_pages
    }

    /// The `<set/>` asking for the page after `after` (the first page without); the page
    /// awaited is then one asked for with a `max`.
    pub(super) fn request(&mut self, after: Option<String>) -> SetQuery {
        self.paging = true;
        SetQuery {
            max: Some(self.asked),
            after,
            before: None,
            index: None,
        }
    }

    /// Takes a page in; says whether to ask for another.
    pub(super) fn take(&mut self, page: &DiscoItemsResult) -> Step {
        self.pages += 1;
        let before = self.items.len();
        let mut cut = false;
        for item in &page.items {
            let key = (item.jid.as_str().to_owned(), item.node.clone());
            if self.seen.contains(&key) {
                continue;
            }
            if self.items.len() >= self.max_items {
                cut = true;
                break;
            }
            self.seen.insert(key);
            self.items.push(item.clone());
        }
        let added = self.items.len() - before;
        let page_len = match (self.page_len, self.paging) {
            (Some(len), _) => len,
            (None, true) => *self.page_len.insert(page.items.len()),
            (None, false) => page.items.len(),
        };
        let last = page.rsm.as_ref().and_then(|set| set.last.clone());
        // The responder says the list ended; or it goes round in circles (`after` ignored).
        let (ended, circling) = match &last {
            None => (true, false),
            Some(last) => (
                page.items.is_empty() || page.items.len() < page_len,
                added == 0 || !self.lasts.insert(last.clone()),
            ),
        };
        match last {
            _ if cut || circling => self.done(false),
            _ if ended => self.done(true),
            _ if self.pages >= self.max_pages => self.done(false),
            Some(last) => Step::Next(last),
            None => self.done(true),
        }
    }

    fn done(&mut self, complete: bool) -> Step {
        Step::Done(ItemList {
            node: self.node.take(),
            items: std::mem::take(&mut self.items),
            complete,
            pages: self.pages,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xmpp_parsers::jid::Jid;
    use xmpp_parsers::rsm::SetResult;

    fn item(n: usize) -> Item {
        Item {
            jid: Jid::new(&format!("room{n}@rooms.example")).expect("a JID"),
            node: None,
            name: None,
        }
    }

    fn page(numbers: std::ops::Range<usize>, last: Option<&str>) -> DiscoItemsResult {
        DiscoItemsResult {
            node: None,
            items: numbers.map(item).collect(),
            rsm: last.map(|last| SetResult {
                first: None,
                last: Some(last.to_owned()),
                count: Some(1_000_000),
            }),
        }
    }

    /// A read whose first page is asked for with a `<set/>`.
    fn asking(mut list: ListRead) -> ListRead {
        list.request(None);
        list
    }

    fn finished(step: Step) -> ItemList {
        match step {
            Step::Done(list) => list,
            Step::Next(after) => panic!("asked for more after {after}"),
        }
    }

    #[test]
    fn pages_are_followed_until_a_short_one_whatever_the_count_says() {
        let mut list = asking(ListRead::new(None, 3, 10, 100));
        assert_eq!(list.take(&page(0..3, Some("a"))), Step::Next("a".into()));
        assert_eq!(list.take(&page(3..6, Some("b"))), Step::Next("b".into()));
        let done = finished(list.take(&page(6..7, Some("c"))));
        assert_eq!(done.items, (0..7).map(item).collect::<Vec<_>>());
        assert!(done.complete);
        assert_eq!(done.pages, 3);
    }

    #[test]
    fn a_page_sent_unasked_sets_no_page_size() {
        // A plain first request; the responder pages unasked, 7 items, then pages of the 5
        // asked for, which are not short.
        let mut list = ListRead::new(None, 5, 10, 100);
        assert_eq!(list.take(&page(0..7, Some("a"))), Step::Next("a".into()));
        list.request(Some("a".into()));
        assert_eq!(list.take(&page(7..12, Some("b"))), Step::Next("b".into()));
        list.request(Some("b".into()));
        let done = finished(list.take(&page(12..14, Some("c"))));
        assert_eq!((done.items.len(), done.complete), (14, true));
    }

    #[test]
    fn a_responder_without_rsm_answers_the_whole_list_at_once() {
        let mut list = asking(ListRead::new(None, 3, 10, 100));
        let done = finished(list.take(&page(0..50, None)));
        assert_eq!(done.items.len(), 50);
        assert!(done.complete);
    }

    #[test]
    fn a_responder_with_smaller_pages_than_asked_is_followed_to_an_empty_page() {
        let mut list = asking(ListRead::new(None, 100, 10, 1000));
        assert_eq!(list.take(&page(0..20, Some("a"))), Step::Next("a".into()));
        assert_eq!(list.take(&page(20..40, Some("b"))), Step::Next("b".into()));
        let done = finished(list.take(&page(40..40, None)));
        assert_eq!(done.items.len(), 40);
        assert!(done.complete);
    }

    #[test]
    fn repeated_items_are_kept_once_and_a_page_of_repeats_ends_the_list() {
        let mut list = asking(ListRead::new(None, 3, 10, 100));
        assert_eq!(list.take(&page(0..3, Some("a"))), Step::Next("a".into()));
        assert_eq!(list.take(&page(2..5, Some("b"))), Step::Next("b".into()));
        let done = finished(list.take(&page(2..5, Some("c"))));
        assert_eq!(done.items, (0..5).map(item).collect::<Vec<_>>());
        assert!(
            !done.complete,
            "a responder ignoring `after` never said it ended"
        );
    }

    #[test]
    fn a_last_id_seen_before_ends_the_list() {
        let mut list = asking(ListRead::new(None, 3, 10, 100));
        assert_eq!(list.take(&page(0..3, Some("a"))), Step::Next("a".into()));
        let done = finished(list.take(&page(3..6, Some("a"))));
        assert_eq!(done.items.len(), 6);
        assert!(!done.complete, "a loop is no end");
    }

    #[test]
    fn pages_that_never_end_are_cut_by_the_page_bound() {
        let mut list = asking(ListRead::new(None, 2, 3, 100));
        assert!(matches!(list.take(&page(0..2, Some("a"))), Step::Next(_)));
        assert!(matches!(list.take(&page(2..4, Some("b"))), Step::Next(_)));
        let done = finished(list.take(&page(4..6, Some("c"))));
        assert_eq!((done.items.len(), done.complete, done.pages), (6, false, 3));
    }

    #[test]
    fn the_item_bound_cuts_the_list_short() {
        let mut list = asking(ListRead::new(None, 4, 10, 6));
        assert!(matches!(list.take(&page(0..4, Some("a"))), Step::Next(_)));
        let done = finished(list.take(&page(4..8, Some("b"))));
        assert_eq!((done.items.len(), done.complete), (6, false));
    }
}
