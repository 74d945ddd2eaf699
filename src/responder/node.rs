//! A node whose identities, features, items and forms are held by the machine.

use xmpp_parsers::data_forms::{DataForm, DataFormType};
use xmpp_parsers::disco::Item;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::ns;

use crate::error::{InvalidText, RegistryError, TextField};
use crate::query::IdentityView;
use crate::text;

/// The names of one identity, by `xml:lang` (`None`: a name without a language). XEP-0030
/// allows one name per language.
///
/// ```
/// use xmpp_disco::IdentityNames;
///
/// let localised = IdentityNames::from([(Some("en"), "Bench Bot"), (Some("de"), "Prüfbot")]);
/// let plain = IdentityNames::from("Bench Bot"); // one name, no language
/// let unnamed = IdentityNames::new();
/// assert_eq!(localised.iter().count(), 2);
/// assert_eq!(plain.iter().next(), Some((None, "Bench Bot")));
/// assert!(unnamed.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityNames(
    /// Sorted by language, one name per language: a vector, since an identity has a name or
    /// two (a `BTreeMap` allocates a node of eleven places for one).
    Vec<(Option<String>, String)>,
);

impl IdentityNames {
    /// No names: the identity goes out without a `name`.
    pub fn new() -> Self {
        IdentityNames::default()
    }

    /// Sets the name for `lang` (`None`: without a language), replacing the one it had.
    pub fn insert(&mut self, lang: Option<&str>, name: impl Into<String>) {
        match self
            .0
            .binary_search_by(|(held, _)| held.as_deref().cmp(&lang))
        {
            Ok(at) => {
                if let Some((_, held)) = self.0.get_mut(at) {
                    *held = name.into();
                }
            }
            Err(at) => self.0.insert(at, (lang.map(str::to_owned), name.into())),
        }
    }

    /// The names, `(xml:lang, name)`, by language.
    pub fn iter(&self) -> impl Iterator<Item = (Option<&str>, &str)> {
        self.0
            .iter()
            .map(|(lang, name)| (lang.as_deref(), name.as_str()))
    }

    /// Whether there is no name at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether XML can carry every name and language.
    fn check(&self) -> Result<(), InvalidText> {
        self.iter().try_for_each(|(lang, name)| {
            text::check_opt(TextField::IdentityLang, lang)?;
            text::check(TextField::IdentityName, name)
        })
    }
}

impl<L: Into<String>, N: Into<String>> FromIterator<(Option<L>, N)> for IdentityNames {
    fn from_iter<I: IntoIterator<Item = (Option<L>, N)>>(names: I) -> Self {
        let mut all = IdentityNames::new();
        for (lang, name) in names {
            let lang: Option<String> = lang.map(Into::into);
            all.insert(lang.as_deref(), name);
        }
        all
    }
}

impl<L: Into<String>, N: Into<String>, const K: usize> From<[(Option<L>, N); K]> for IdentityNames {
    fn from(names: [(Option<L>, N); K]) -> Self {
        names.into_iter().collect()
    }
}

impl From<&str> for IdentityNames {
    /// One name without a language.
    fn from(name: &str) -> Self {
        IdentityNames::from(name.to_owned())
    }
}

impl From<String> for IdentityNames {
    /// One name without a language.
    fn from(name: String) -> Self {
        IdentityNames(vec![(None, name)])
    }
}

/// A node's identities, features and forms as they were at some moment: what an edit of the
/// node is compared with, to know whether the host must hear of it.
#[derive(Debug)]
pub(crate) struct InfoSnapshot {
    identities: Vec<IdentityEntry>,
    features: Vec<String>,
    forms: Vec<DataForm>,
    /// Whether the node had items: it then advertises RSM.
    has_items: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdentityEntry {
    pub(crate) category: String,
    pub(crate) type_: String,
    pub(crate) names: IdentityNames,
}

/// A disco node with a fixed answer: identities (each with names per `xml:lang`), features,
/// an ordered list of items and XEP-0128 extended-information forms. The machine's root node is
/// one; others are [mounted](crate::DiscoMachine::mount) under a node name.
///
/// `http://jabber.org/protocol/disco#info` is always a feature: it is listed, and can be neither
/// registered nor unregistered (aioxmpp's rule). A node without any identity answers
/// `disco#info` with `item-not-found`, as XEP-0030 requires every entity to have one.
///
/// ```
/// use xmpp_disco::{RegistryError, StaticNode};
///
/// let mut node = StaticNode::new();
/// node.register_identity("pubsub", "leaf", [(Some("en"), "Balcony news")])?;
/// node.register_feature("http://jabber.org/protocol/pubsub")?;
/// assert_eq!(
///     node.register_feature("http://jabber.org/protocol/pubsub"),
///     Err(RegistryError::FeatureAlreadyRegistered("http://jabber.org/protocol/pubsub".into()))
/// );
/// assert_eq!(node.features().count(), 2); // with disco#info
/// # Ok::<(), RegistryError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StaticNode {
    pub(crate) identities: Vec<IdentityEntry>,
    /// Sorted and unique, without `disco#info`: a vector, since a `BTreeSet` allocates a node
    /// of eleven places even for one feature (a registered entity of one identity and one
    /// feature cost 1,718 bytes with B-trees).
    pub(crate) features: Vec<String>,
    pub(crate) items: Vec<Item>,
    pub(crate) forms: Vec<DataForm>,
}

impl StaticNode {
    /// A node with no identity, no feature but `disco#info`, no item and no form.
    pub fn new() -> Self {
        StaticNode::default()
    }

    /// The root node a machine starts with: the identity `client`/`bot` and nothing else. The
    /// identity keeps XEP-0030's "at least one identity" true until the host registers its own;
    /// it can be removed once another exists.
    pub fn default_root() -> Self {
        StaticNode {
            identities: vec![IdentityEntry {
                category: String::from("client"),
                type_: String::from("bot"),
                names: IdentityNames::new(),
            }],
            ..StaticNode::default()
        }
    }

    /// The node's identities, features and forms as they are now.
    pub(crate) fn info_snapshot(&self) -> InfoSnapshot {
        InfoSnapshot {
            identities: self.identities.clone(),
            features: self.features.clone(),
            forms: self.forms.clone(),
            has_items: !self.items.is_empty(),
        }
    }

    /// Whether the node's identities, features and forms are those of `snapshot`.
    pub(crate) fn info_is(&self, snapshot: &InfoSnapshot) -> bool {
        self.identities == snapshot.identities
            && self.features == snapshot.features
            && self.forms == snapshot.forms
            && self.items.is_empty() != snapshot.has_items
    }

    /// Adds the feature `var`.
    ///
    /// # Errors
    ///
    /// [`RegistryError::FeatureAlreadyRegistered`] if it is, or if it is `disco#info` (always
    /// registered); [`RegistryError::Text`] if XML cannot carry `var`. Nothing changes then.
    pub fn register_feature(&mut self, var: impl Into<String>) -> Result<(), RegistryError> {
        let var = var.into();
        text::check(TextField::Feature, &var)?;
        if var == ns::DISCO_INFO {
            return Err(RegistryError::FeatureAlreadyRegistered(var));
        }
        match self.features.binary_search(&var) {
            Ok(_) => Err(RegistryError::FeatureAlreadyRegistered(var)),
            Err(at) => {
                self.features.insert(at, var);
                Ok(())
            }
        }
    }

    /// Removes the feature `var`.
    ///
    /// # Errors
    ///
    /// [`RegistryError::FeatureNotRegistered`] if it is not, or if it is `disco#info` (which
    /// behaves as never registered for this purpose). Nothing changes then. (The machine's
    /// root, edited through [`NodeMut`](crate::NodeMut), also keeps the caps features while
    /// own capabilities are announced.)
    pub fn unregister_feature(&mut self, var: &str) -> Result<(), RegistryError> {
        match self
            .features
            .binary_search_by(|held| held.as_str().cmp(var))
        {
            Ok(at) if var != ns::DISCO_INFO => {
                self.features.remove(at);
                Ok(())
            }
            _ => Err(RegistryError::FeatureNotRegistered(var.to_owned())),
        }
    }

    /// Adds the identity (`category`, `type_`) with its `names` (one `<identity/>` per name; no
    /// names gives one `<identity/>` without a name).
    ///
    /// # Errors
    ///
    /// [`RegistryError::IdentityAlreadyRegistered`] if an identity with this category and type
    /// exists; [`RegistryError::Text`] if XML cannot carry the category, the type, a name or a
    /// language. Nothing changes then.
    pub fn register_identity(
        &mut self,
        category: &str,
        type_: &str,
        names: impl Into<IdentityNames>,
    ) -> Result<(), RegistryError> {
        text::check(TextField::IdentityCategory, category)?;
        text::check(TextField::IdentityType, type_)?;
        let names = names.into();
        names.check()?;
        if self.position(category, type_).is_some() {
            return Err(RegistryError::identity_exists(category, type_));
        }
        self.identities.push(IdentityEntry {
            category: category.to_owned(),
            type_: type_.to_owned(),
            names,
        });
        Ok(())
    }

    /// Removes the identity (`category`, `type_`).
    ///
    /// # Errors
    ///
    /// [`RegistryError::IdentityNotRegistered`] if there is no such identity (checked first),
    /// [`RegistryError::LastIdentity`] if it is the node's only one. Nothing changes then.
    pub fn unregister_identity(
        &mut self,
        category: &str,
        type_: &str,
    ) -> Result<(), RegistryError> {
        let position = self
            .position(category, type_)
            .ok_or_else(|| RegistryError::identity_missing(category, type_))?;
        if self.identities.len() == 1 {
            return Err(RegistryError::LastIdentity {
                category: category.to_owned(),
                type_: type_.to_owned(),
            });
        }
        self.identities.remove(position);
        Ok(())
    }

    /// Replaces the names of the identity (`category`, `type_`).
    ///
    /// # Errors
    ///
    /// [`RegistryError::IdentityNotRegistered`] if there is no such identity;
    /// [`RegistryError::Text`] if XML cannot carry a name or a language. Nothing changes then.
    pub fn set_identity_names(
        &mut self,
        category: &str,
        type_: &str,
        names: impl Into<IdentityNames>,
    ) -> Result<(), RegistryError> {
        let names = names.into();
        names.check()?;
        let identity = self
            .identities
            .iter_mut()
            .find(|identity| identity.category == category && identity.type_ == type_)
            .ok_or_else(|| RegistryError::identity_missing(category, type_))?;
        identity.names = names;
        Ok(())
    }

    fn position(&self, category: &str, type_: &str) -> Option<usize> {
        self.identities
            .iter()
            .position(|identity| identity.category == category && identity.type_ == type_)
    }

    /// Every `<identity/>` this node declares, in registration order and, within one
    /// identity, by language: one per name, or one without a name if it has none.
    pub fn identities(&self) -> impl Iterator<Item = IdentityView<'_>> {
        self.identities.iter().flat_map(|identity| {
            let view = |lang, name| IdentityView {
                category: identity.category.as_str(),
                type_: identity.type_.as_str(),
                lang,
                name,
            };
            let unnamed = identity.names.is_empty().then(|| view(None, None));
            let named = identity
                .names
                .iter()
                .map(move |(lang, name)| view(lang, Some(name)));
            unnamed.into_iter().chain(named)
        })
    }

    /// Whether the node has at least one identity (and so answers `disco#info`).
    pub fn has_identity(&self) -> bool {
        !self.identities.is_empty()
    }

    /// Every feature, in sorted order: the registered ones, `disco#info`, and result set
    /// management (XEP-0059, `http://jabber.org/protocol/rsm`) while the node has items, since
    /// the machine answers their list one page at a time when asked.
    pub fn features(&self) -> impl Iterator<Item = &str> {
        let registered = self.features.iter().map(String::as_str);
        let pages = (!self.items.is_empty() && !self.features.iter().any(|f| f == ns::RSM))
            .then_some(ns::RSM);
        // The implied features sort among the others so that the list stays sorted.
        let mut all: Vec<&str> = std::iter::once(ns::DISCO_INFO)
            .chain(pages)
            .chain(registered)
            .collect();
        all.sort_unstable();
        all.into_iter()
    }

    /// The items, in the order they are answered.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Replaces the items. XEP-0030 leaves their validity (no duplicates) to the node's owner.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Text`] if XML cannot carry an item's node or name. Nothing changes then.
    pub fn set_items(&mut self, items: Vec<Item>) -> Result<(), RegistryError> {
        items.iter().try_for_each(check_item)?;
        self.items = items;
        Ok(())
    }

    /// Appends one item.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Text`] if XML cannot carry the item's node or name. Nothing changes then.
    pub fn push_item(&mut self, item: Item) -> Result<(), RegistryError> {
        check_item(&item)?;
        self.items.push(item);
        Ok(())
    }

    /// The XEP-0128 extended-information forms.
    pub fn forms(&self) -> &[DataForm] {
        &self.forms
    }

    /// Adds an XEP-0128 form, replacing the one with the same `FORM_TYPE` if any (a node must
    /// not answer two forms of one type: XEP-0115 §5.4 rejects such answers).
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidForm`] unless the form is of type `result` with a hidden
    /// `FORM_TYPE` field, as XEP-0128 requires; [`RegistryError::Text`] if XML cannot carry
    /// something in it. Nothing changes then.
    pub fn set_form(&mut self, form: DataForm) -> Result<(), RegistryError> {
        text::check_element(TextField::Form, &Element::from(form.clone()))?;
        if form.type_ != DataFormType::Result_ {
            return Err(RegistryError::InvalidForm("the form type must be 'result'"));
        }
        let Some(form_type) = form.form_type() else {
            return Err(RegistryError::InvalidForm("no hidden FORM_TYPE field"));
        };
        match self
            .forms
            .iter_mut()
            .find(|existing| existing.form_type() == Some(form_type))
        {
            Some(existing) => *existing = form,
            None => self.forms.push(form),
        }
        Ok(())
    }

    /// Removes the form whose `FORM_TYPE` is `form_type`; `false` if there was none.
    pub fn remove_form(&mut self, form_type: &str) -> bool {
        let before = self.forms.len();
        self.forms
            .retain(|form| form.form_type() != Some(form_type));
        self.forms.len() != before
    }
}

/// Whether XML can carry an item (its JID always can: the `jid` crate refuses the rest).
pub(crate) fn check_item(item: &Item) -> Result<(), InvalidText> {
    text::check_opt(TextField::ItemNode, item.node.as_deref())?;
    text::check_opt(TextField::ItemName, item.name.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disco_info_is_always_there_and_never_registered() {
        let mut node = StaticNode::new();
        assert_eq!(node.features().collect::<Vec<_>>(), vec![ns::DISCO_INFO]);
        assert_eq!(
            node.register_feature(ns::DISCO_INFO),
            Err(RegistryError::FeatureAlreadyRegistered(
                ns::DISCO_INFO.into()
            ))
        );
        assert_eq!(
            node.unregister_feature(ns::DISCO_INFO),
            Err(RegistryError::FeatureNotRegistered(ns::DISCO_INFO.into()))
        );
        assert_eq!(node, StaticNode::new());
    }

    #[test]
    fn features_register_once_and_unregister_once() {
        let mut node = StaticNode::new();
        node.register_feature("urn:xmpp:ping").unwrap();
        node.register_feature("jabber:iq:version").unwrap();
        assert_eq!(
            node.features().collect::<Vec<_>>(),
            vec![
                "http://jabber.org/protocol/disco#info",
                "jabber:iq:version",
                "urn:xmpp:ping"
            ]
        );
        let before = node.clone();
        assert_eq!(
            node.register_feature("urn:xmpp:ping"),
            Err(RegistryError::FeatureAlreadyRegistered(
                "urn:xmpp:ping".into()
            ))
        );
        assert_eq!(node, before);
        node.unregister_feature("urn:xmpp:ping").unwrap();
        assert_eq!(
            node.unregister_feature("urn:xmpp:ping"),
            Err(RegistryError::FeatureNotRegistered("urn:xmpp:ping".into()))
        );
    }

    #[test]
    fn identity_rules() {
        let mut root = StaticNode::default_root();
        assert_eq!(
            root.unregister_identity("client", "bot"),
            Err(RegistryError::LastIdentity {
                category: "client".into(),
                type_: "bot".into()
            })
        );
        // Not registered is checked before "last identity".
        assert_eq!(
            root.unregister_identity("client", "pc"),
            Err(RegistryError::IdentityNotRegistered {
                category: "client".into(),
                type_: "pc".into()
            })
        );
        assert_eq!(
            root.register_identity("client", "bot", IdentityNames::new()),
            Err(RegistryError::IdentityAlreadyRegistered {
                category: "client".into(),
                type_: "bot".into()
            })
        );
        root.register_identity(
            "client",
            "pc",
            [(Some("en"), "Balcony"), (Some("de"), "Balkon")],
        )
        .unwrap();
        root.unregister_identity("client", "bot").unwrap();
        let view = |lang, name| IdentityView {
            category: "client",
            type_: "pc",
            lang,
            name,
        };
        assert_eq!(
            root.identities().collect::<Vec<_>>(),
            vec![
                view(Some("de"), Some("Balkon")),
                view(Some("en"), Some("Balcony")),
            ]
        );
        root.set_identity_names("client", "pc", "Plain").unwrap();
        assert_eq!(
            root.identities().collect::<Vec<_>>(),
            vec![view(None, Some("Plain"))]
        );
        assert!(root
            .set_identity_names("client", "bot", IdentityNames::new())
            .is_err());
    }

    #[test]
    fn forms_need_a_form_type_and_replace_by_it() {
        use xmpp_parsers::data_forms::{Field, FieldType};
        let mut node = StaticNode::new();
        let form = |value: &str| {
            DataForm::new(
                DataFormType::Result_,
                "urn:example",
                vec![Field::new("a", FieldType::TextSingle).with_value(value)],
            )
        };
        node.set_form(form("1")).unwrap();
        node.set_form(form("2")).unwrap();
        assert_eq!(node.forms().len(), 1);
        assert_eq!(node.forms()[0].fields[1].values, vec!["2".to_owned()]);
        let mut untyped = form("3");
        untyped.fields.remove(0);
        assert!(matches!(
            node.set_form(untyped),
            Err(RegistryError::InvalidForm(_))
        ));
        let mut submit = form("4");
        submit.type_ = DataFormType::Submit;
        assert!(node.set_form(submit).is_err());
        assert!(node.remove_form("urn:example"));
        assert!(!node.remove_form("urn:example"));
    }
}
