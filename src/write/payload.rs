//! Builds the `<query/>` payloads of answers by hand: xmpp-parsers' typed conversion costs tens
//! of microseconds for a reply of thirty children, assembling the elements directly a fraction
//! of that. Static nodes build theirs once and reuse it until they change (see
//! [`Prepared`](super::prepared::Prepared)).

use xmpp_parsers::data_forms::DataForm;
use xmpp_parsers::disco::{DiscoInfoResult, Item};
use xmpp_parsers::minidom::rxml::{xml_ncname, Namespace};
use xmpp_parsers::minidom::{Element, ElementBuilder};
use xmpp_parsers::ns;
use xmpp_parsers::rsm::SetResult;

use crate::query::IdentityView;

fn query(namespace: &str, node: Option<&str>) -> ElementBuilder {
    let query = Element::builder("query", namespace);
    match node {
        Some(node) => query.attr(xml_ncname!("node").into(), node),
        None => query,
    }
}

/// The `disco#info` payload of `identities`, `features` and `forms`, `node` mirrored.
pub(crate) fn info<'a>(
    node: Option<&str>,
    identities: impl Iterator<Item = IdentityView<'a>>,
    features: impl Iterator<Item = &'a str>,
    forms: &[DataForm],
) -> Element {
    let identities = identities.map(|view| {
        let mut identity = Element::builder("identity", ns::DISCO_INFO)
            .attr(xml_ncname!("category").into(), view.category)
            .attr(xml_ncname!("type").into(), view.type_);
        if let Some(lang) = view.lang {
            identity = identity.attr_ns(Namespace::XML, xml_ncname!("lang").into(), lang);
        }
        if let Some(name) = view.name {
            identity = identity.attr(xml_ncname!("name").into(), name);
        }
        identity.build()
    });
    let features = features.map(|var| {
        Element::builder("feature", ns::DISCO_INFO)
            .attr(xml_ncname!("var").into(), var)
            .build()
    });
    let forms = forms.iter().map(|form| Element::from(form.clone()));
    query(ns::DISCO_INFO, node)
        .append_all(identities)
        .append_all(features)
        .append_all(forms)
        .build()
}

/// The `disco#info` payload of `answer` exactly as it is (nothing added, an answer verified
/// against its hash stays verifiable), with `node`.
pub(crate) fn exact_info(node: Option<&str>, answer: &DiscoInfoResult) -> Element {
    info(
        node,
        answer.identities.iter().map(IdentityView::from),
        answer.features.iter().map(String::as_str),
        &answer.extensions,
    )
}

/// The `disco#info` payload of a dynamic or deferred answer, `node` mirrored and `disco#info`
/// added to the features if the host left it out.
pub(crate) fn typed_info(node: Option<&str>, answer: &DiscoInfoResult) -> Element {
    let identities = answer.identities.iter().map(IdentityView::from);
    let registered = answer.features.iter().map(String::as_str);
    let mut features: Vec<&str> = registered.collect();
    if !answer.features.contains(ns::DISCO_INFO) {
        features.push(ns::DISCO_INFO);
        features.sort_unstable();
    }
    info(node, identities, features.into_iter(), &answer.extensions)
}

/// The `disco#items` payload of one page of a list: `items` and the `<set/>` (XEP-0059) that
/// places them in the whole list, `node` mirrored.
pub(crate) fn page(node: Option<&str>, items: &[Item], set: &SetResult) -> Element {
    let mut payload = self::items(node, items);
    payload.append_child(Element::from(set.clone()));
    payload
}

/// The `disco#items` payload listing `items`, `node` mirrored.
pub(crate) fn items(node: Option<&str>, items: &[Item]) -> Element {
    let items = items.iter().map(|item| {
        let mut element = Element::builder("item", ns::DISCO_ITEMS)
            .attr(xml_ncname!("jid").into(), item.jid.as_str());
        if let Some(node) = &item.node {
            element = element.attr(xml_ncname!("node").into(), node.as_str());
        }
        if let Some(name) = &item.name {
            element = element.attr(xml_ncname!("name").into(), name.as_str());
        }
        element.build()
    });
    query(ns::DISCO_ITEMS, node).append_all(items).build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use xmpp_parsers::data_forms::{DataFormType, Field, FieldType};
    use xmpp_parsers::disco::DiscoItemsResult;

    #[test]
    fn an_info_payload_parses_back_to_the_same_answer() {
        let views = [
            IdentityView {
                category: "client",
                type_: "pc",
                lang: Some("de"),
                name: Some("Prüfbot"),
            },
            IdentityView {
                category: "client",
                type_: "pc",
                lang: None,
                name: None,
            },
        ];
        let features = [ns::DISCO_INFO, "urn:xmpp:ping"];
        let forms = [DataForm::new(
            DataFormType::Result_,
            "urn:example:bench",
            vec![Field::new("a", FieldType::TextSingle).with_value("1")],
        )];
        let payload = info(Some("n"), views.into_iter(), features.into_iter(), &forms);
        let parsed = DiscoInfoResult::try_from(payload).unwrap();
        assert_eq!(parsed.node.as_deref(), Some("n"));
        let identities: Vec<_> = parsed
            .identities
            .iter()
            .map(|i| IdentityView {
                category: &i.category,
                type_: &i.type_,
                lang: i.lang.as_deref(),
                name: i.name.as_deref(),
            })
            .collect();
        assert_eq!(identities, views);
        assert!(parsed.features.iter().map(String::as_str).eq(features));
        assert_eq!(parsed.extensions, forms);
    }

    #[test]
    fn typed_info_always_lists_disco_info_once() {
        let mut answer = DiscoInfoResult {
            node: None,
            identities: vec![],
            features: ["urn:a".to_owned()].into_iter().collect(),
            extensions: vec![],
        };
        let parsed = DiscoInfoResult::try_from(typed_info(None, &answer)).unwrap();
        assert!(parsed.features.contains(ns::DISCO_INFO));
        answer.features.insert(ns::DISCO_INFO.to_owned());
        let payload = typed_info(None, &answer);
        assert_eq!(
            payload
                .children()
                .filter(|c| c.is("feature", ns::DISCO_INFO))
                .count(),
            2
        );
    }

    #[test]
    fn an_items_payload_parses_back() {
        let listed = vec![
            Item {
                jid: "conference.example.org".parse().unwrap(),
                node: None,
                name: Some("Chatrooms".into()),
            },
            Item {
                jid: "example.org".parse().unwrap(),
                node: Some("music".into()),
                name: None,
            },
        ];
        let parsed = DiscoItemsResult::try_from(items(None, &listed)).unwrap();
        assert_eq!(parsed.items, listed);
        assert_eq!(parsed.node, None);
    }
}
