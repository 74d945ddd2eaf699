//! The responder half against a model of nodes: random registry operations and requests, with
//! every answer compared to what the model says the node holds.
//!
//! The machine is a component ([`SERVICE`]) that answers for its own address, for up to two
//! registered entities ([`ENTITIES`]) and, while a resolver is set, for the rooms the resolver
//! knows; registry operations apply to the entity last selected, requests go to any of
//! [`ADDRESSES`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use xmpp_disco::xmpp_parsers::disco::Identity;
use xmpp_disco::xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult, Item};
use xmpp_disco::xmpp_parsers::jid::Jid;
use xmpp_disco::xmpp_parsers::minidom::rxml::xml_ncname;
use xmpp_disco::xmpp_parsers::minidom::Element;
use xmpp_disco::{
    Config, DiscoMachine, DynamicNode, Entity, Event, IdentityNames, InvalidArgument, NodeMut,
    RegistryError, RequestContext, Resolver, StanzaNamespace, StaticNode,
};

use super::bytes::{each_op, Bytes};
use super::forms::element_of;
use super::{valid_node, xml_char, INFO, ITEMS};

/// Index 0 is the root; the others are node names that may be mounted.
pub const NODES: &[Option<&str>] = &[None, Some("a"), Some("b")];
pub const FEATURES: &[&str] = &[INFO, "urn:example:f1", "urn:example:f2"];
pub const IDENTITIES: &[(&str, &str)] = &[("client", "bot"), ("client", "pc"), ("pubsub", "leaf")];
pub const ROMEO: &str = "romeo@montague.example/orchard";
pub const MALLORY: &str = "mallory@evil.example/x";
/// The component's own address.
pub const SERVICE: &str = "svc.example";
/// Index 0 is the own address; the others may be registered as entities.
pub const ENTITIES: &[&str] = &[SERVICE, "e1@svc.example", "e2@svc.example"];
/// Where requests go: the entities, a room of the resolver, an address nobody serves, and no
/// `to` at all (the own address).
pub const ADDRESSES: &[Option<&str>] = &[
    Some(SERVICE),
    Some("e1@svc.example"),
    Some("e2@svc.example"),
    Some("room7@svc.example"),
    Some("nobody@elsewhere.example"),
    None,
];
/// The one address the resolver answers for (its rooms are `roomN@svc.example`).
const ROOM: &str = "room7@svc.example";

/// The names the `index`-th choice gives an identity: none, one plain name, or two languages.
pub fn names(index: usize) -> Vec<(Option<String>, String)> {
    match index % 3 {
        0 => vec![],
        1 => vec![(None, "Plain".to_owned())],
        _ => vec![
            (Some("en".to_owned()), "Hello".to_owned()),
            (Some("de".to_owned()), "Hallo".to_owned()),
        ],
    }
}

#[derive(Debug, Clone)]
pub enum Op {
    RegisterFeature {
        node: usize,
        feature: usize,
    },
    UnregisterFeature {
        node: usize,
        feature: usize,
    },
    RegisterIdentity {
        node: usize,
        identity: usize,
        names: usize,
    },
    UnregisterIdentity {
        node: usize,
        identity: usize,
    },
    SetNames {
        node: usize,
        identity: usize,
        names: usize,
    },
    SetItems {
        node: usize,
        count: usize,
    },
    /// Mounts a fresh static node (with the first identity if `with_identity`).
    Mount {
        node: usize,
        with_identity: bool,
    },
    Unmount {
        node: usize,
    },
    /// Refuse requests from [`MALLORY`], or stop refusing.
    Policy(bool),
    /// Leak every edit guard from now on (`mem::forget`), or stop: a host that never lets its
    /// guard settle must still get answers built from what the node holds (it is not told of
    /// the change). Played by the property test only (see the bytes decoding).
    LeakGuards(bool),
    Request {
        items: bool,
        node: usize,
        set: bool,
        stranger: bool,
        /// Which of [`ADDRESSES`].
        to: usize,
    },
    /// Registers a feature of any text the host might pass, hostile text included.
    FeatureText {
        node: usize,
        text: String,
    },
    /// Registers an identity whose every string is any text.
    IdentityText {
        node: usize,
        category: String,
        type_: String,
        lang: String,
        name: String,
    },
    /// Sets one item whose node and name are any text.
    ItemsText {
        node: usize,
        item_node: String,
        name: String,
    },
    /// Mounts a node with an identity at a name of any text, then asks it for its info.
    MountText {
        name: String,
    },
    /// Registry operations from now on change entity `entity` of [`ENTITIES`].
    Select(usize),
    /// Registers a fresh entity (a root without identity) at `ENTITIES[entity]` (not the own).
    AddEntity(usize),
    RemoveEntity(usize),
    /// Sets the rooms' resolver, or clears it.
    Resolver(bool),
}

/// Whether XML can carry every character of `text`.
fn carried(text: &str) -> bool {
    text.chars().all(xml_char)
}

impl Op {
    pub fn decode(bytes: &mut Bytes<'_>) -> Option<Op> {
        let node = |bytes: &mut Bytes<'_>| bytes.below(NODES.len());
        Some(match bytes.below(13)? {
            0 => Op::RegisterFeature {
                node: node(bytes)?,
                feature: bytes.below(FEATURES.len())?,
            },
            1 => Op::UnregisterFeature {
                node: node(bytes)?,
                feature: bytes.below(FEATURES.len())?,
            },
            2 => Op::RegisterIdentity {
                node: node(bytes)?,
                identity: bytes.below(IDENTITIES.len())?,
                names: bytes.below(3)?,
            },
            3 => Op::UnregisterIdentity {
                node: node(bytes)?,
                identity: bytes.below(IDENTITIES.len())?,
            },
            4 => Op::SetNames {
                node: node(bytes)?,
                identity: bytes.below(IDENTITIES.len())?,
                names: bytes.below(3)?,
            },
            5 => Op::SetItems {
                node: node(bytes)?,
                count: bytes.below(3)?,
            },
            6 => Op::Mount {
                node: node(bytes)?,
                with_identity: bytes.flag()?,
            },
            7 => Op::Unmount { node: node(bytes)? },
            8 => Op::Policy(bytes.flag()?),
            9 => match bytes.below(4)? {
                0 => Op::FeatureText {
                    node: node(bytes)?,
                    text: bytes.text()?,
                },
                1 => Op::IdentityText {
                    node: node(bytes)?,
                    category: bytes.text()?,
                    type_: bytes.text()?,
                    lang: bytes.text()?,
                    name: bytes.text()?,
                },
                2 => Op::ItemsText {
                    node: node(bytes)?,
                    item_node: bytes.text()?,
                    name: bytes.text()?,
                },
                _ => Op::MountText {
                    name: bytes.text()?,
                },
            },
            // No `Op::LeakGuards` here: a forgotten guard leaks its snapshot, which the fuzz
            // targets' leak sanitizer rightly reports. The property test plays it.
            10 => match bytes.below(4)? {
                0 => Op::Select(bytes.below(ENTITIES.len())?),
                1 => Op::AddEntity(bytes.below(ENTITIES.len())?),
                2 => Op::RemoveEntity(bytes.below(ENTITIES.len())?),
                _ => Op::Resolver(bytes.flag()?),
            },
            _ => Op::Request {
                items: bytes.flag()?,
                node: node(bytes)?,
                set: bytes.below(8)? == 0,
                stranger: bytes.below(4)? == 0,
                to: bytes.below(ADDRESSES.len())?,
            },
        })
    }
}

type ModelIdentity = (String, String, BTreeMap<Option<String>, String>);

#[derive(Debug, Clone, Default, PartialEq)]
struct ModelNode {
    identities: Vec<ModelIdentity>,
    features: BTreeSet<String>,
    /// (jid, node, name) of each item, in order.
    items: Vec<ItemView>,
}

type ItemView = (String, Option<String>, Option<String>);

impl ModelNode {
    /// Where the identity (`category`, `type_`) is, or the error for its absence.
    fn identity(&self, category: &str, type_: &str) -> Result<usize, RegistryError> {
        self.identities
            .iter()
            .position(|(c, t, _)| c == category && t == type_)
            .ok_or_else(|| RegistryError::IdentityNotRegistered {
                category: category.into(),
                type_: type_.into(),
            })
    }
}

/// The stanza namespace of a component's stream.
const COMPONENT: &str = "jabber:component:accept";

/// One request: what it asks, of which address, from whom.
#[derive(Debug, Clone, Copy)]
struct Request<'a> {
    items: bool,
    node: Option<&'a str>,
    set: bool,
    stranger: bool,
    /// Which of [`ADDRESSES`].
    to: usize,
}

/// What a request must be answered with.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Error(&'static str),
    Info {
        identities: Vec<(String, String, Option<String>, Option<String>)>,
        features: Vec<String>,
    },
    Items(Vec<ItemView>),
}

/// A registry operation's outcome, as the model sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The node does not exist (nothing mounted there).
    NoNode,
    Refused(RegistryError),
    /// Refused for text XML cannot carry.
    RefusedText,
    /// Accepted.
    Done,
}

/// One address's registry: a root and mounted nodes.
#[derive(Debug, Clone, Default)]
struct ModelEntity {
    root: ModelNode,
    mounted: BTreeMap<String, ModelNode>,
}

pub struct World {
    pub machine: DiscoMachine,
    /// Per [`ENTITIES`] index: the own address (always there) and the registered entities.
    entities: Vec<Option<ModelEntity>>,
    /// The entity registry operations change.
    selected: usize,
    resolver: bool,
    policy: bool,
    /// Whether edit guards are leaked ([`Op::LeakGuards`]).
    leak: bool,
    requests: u64,
    base: Instant,
}

/// The resolver: answers for [`ROOM`] only, at its root only, naming the room by its address.
struct Rooms;

impl DynamicNode for Rooms {
    fn info(&self, request: &RequestContext<'_>) -> Option<DiscoInfoResult> {
        let room = request.to.filter(|to| to.as_str() == ROOM)?;
        request.node.is_none().then(|| DiscoInfoResult {
            node: None,
            identities: vec![Identity::new("conference", "text", "en", room.as_str())],
            features: Default::default(),
            extensions: vec![],
        })
    }

    fn items(&self, request: &RequestContext<'_>) -> Option<Vec<Item>> {
        let room = request.to.is_some_and(|to| to.as_str() == ROOM);
        (room && request.node.is_none()).then(Vec::new)
    }
}

/// `ENTITIES[index]` as a JID.
fn entity_jid(index: usize) -> Jid {
    Jid::new(ENTITIES[index]).expect("entity JID")
}

fn item_jid(index: usize) -> String {
    format!("item{index}.example")
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

impl World {
    pub fn new() -> Self {
        let mut config = Config::default();
        config.own_jid = Some(entity_jid(0));
        config.stamp_from = true;
        config.stanza_namespace = StanzaNamespace::ComponentAccept;
        let own = ModelEntity {
            root: ModelNode {
                identities: vec![("client".into(), "bot".into(), BTreeMap::new())],
                ..ModelNode::default()
            },
            mounted: BTreeMap::new(),
        };
        World {
            machine: DiscoMachine::new(config),
            entities: vec![Some(own), None, None],
            selected: 0,
            resolver: false,
            policy: false,
            leak: false,
            requests: 0,
            base: Instant::now(),
        }
    }

    /// The entity registry operations change, if it is there.
    fn selected(&mut self) -> Option<&mut ModelEntity> {
        self.entities.get_mut(self.selected)?.as_mut()
    }

    /// The identities and features of the selected entity's node named `name`, if one is there.
    fn info_of(&self, name: Option<&str>) -> Option<(Vec<ModelIdentity>, BTreeSet<String>)> {
        let entity = self.entities.get(self.selected)?.as_ref()?;
        let node = match name {
            None => &entity.root,
            Some(name) => entity.mounted.get(name)?,
        };
        Some((node.identities.clone(), advertised(node)))
    }

    fn model(&mut self, node: usize) -> Option<&mut ModelNode> {
        let entity = self.selected()?;
        match NODES[node] {
            None => Some(&mut entity.root),
            Some(name) => entity.mounted.get_mut(name),
        }
    }

    /// The machine's registry of the selected entity: `with` gets its node `name`, if there.
    fn with_node<R>(
        &mut self,
        name: Option<&str>,
        with: impl FnOnce(&mut StaticNode) -> R,
    ) -> Option<R> {
        let leak = self.leak;
        let edit = |mut guard: NodeMut<'_>| {
            let result = with(&mut guard);
            if leak {
                std::mem::forget(guard);
            }
            result
        };
        if self.selected == 0 {
            return match name {
                None => Some(edit(self.machine.root_mut())),
                Some(name) => self.machine.node_mut(name).map(edit),
            };
        }
        let jid = entity_jid(self.selected);
        let mut entity = self.machine.entity_mut(&jid)?;
        match name {
            None => Some(edit(entity.root_mut())),
            Some(name) => entity.node_mut(name).map(edit),
        }
    }

    /// Mounts `node` at `name` of the selected entity; `None` if the entity is not there.
    fn mount(&mut self, name: &str, node: StaticNode) -> Option<Result<(), InvalidArgument>> {
        if self.selected == 0 {
            return Some(self.machine.mount(name, node).map(drop));
        }
        let jid = entity_jid(self.selected);
        Some(self.machine.entity_mut(&jid)?.mount(name, node).map(drop))
    }

    /// Unmounts `name` of the selected entity; `None` if the entity is not there.
    fn unmount(&mut self, name: &str) -> Option<Result<(), RegistryError>> {
        if self.selected == 0 {
            return Some(self.machine.unmount(name).map(drop));
        }
        let jid = entity_jid(self.selected);
        Some(self.machine.entity_mut(&jid)?.unmount(name).map(drop))
    }

    /// Applies a registry change to the model.
    fn model_change(&mut self, op: &Op) -> Change {
        let identity_key = |identity: usize| IDENTITIES[identity];
        match *op {
            Op::Mount { node, .. } | Op::Unmount { node } if NODES[node].is_none() => {
                Change::NoNode
            }
            Op::Mount {
                node,
                with_identity,
            } => {
                let Some(entity) = self.selected() else {
                    return Change::NoNode;
                };
                let mut fresh = ModelNode::default();
                if with_identity {
                    let (category, type_) = identity_key(0);
                    fresh
                        .identities
                        .push((category.into(), type_.into(), BTreeMap::new()));
                }
                entity
                    .mounted
                    .insert(NODES[node].unwrap_or_default().to_owned(), fresh);
                Change::Done
            }
            Op::Unmount { node } => {
                let Some(entity) = self.selected() else {
                    return Change::NoNode;
                };
                match entity.mounted.remove(NODES[node].unwrap_or_default()) {
                    Some(_) => Change::Done,
                    None => Change::Refused(RegistryError::NotMounted(
                        NODES[node].unwrap_or_default().to_owned(),
                    )),
                }
            }
            Op::RegisterFeature { node, feature } => {
                let Some(model) = self.model(node) else {
                    return Change::NoNode;
                };
                let var = FEATURES[feature];
                if var == INFO || !model.features.insert(var.to_owned()) {
                    return Change::Refused(RegistryError::FeatureAlreadyRegistered(var.into()));
                }
                Change::Done
            }
            Op::UnregisterFeature { node, feature } => {
                let Some(model) = self.model(node) else {
                    return Change::NoNode;
                };
                let var = FEATURES[feature];
                if var == INFO || !model.features.remove(var) {
                    return Change::Refused(RegistryError::FeatureNotRegistered(var.into()));
                }
                Change::Done
            }
            Op::RegisterIdentity {
                node,
                identity,
                names: choice,
            } => {
                let Some(model) = self.model(node) else {
                    return Change::NoNode;
                };
                let (category, type_) = identity_key(identity);
                if model
                    .identities
                    .iter()
                    .any(|(c, t, _)| c == category && t == type_)
                {
                    return Change::Refused(RegistryError::IdentityAlreadyRegistered {
                        category: category.into(),
                        type_: type_.into(),
                    });
                }
                model.identities.push((
                    category.into(),
                    type_.into(),
                    names(choice).into_iter().collect(),
                ));
                Change::Done
            }
            Op::UnregisterIdentity { node, identity } => {
                let Some(model) = self.model(node) else {
                    return Change::NoNode;
                };
                let (category, type_) = identity_key(identity);
                let position = match model.identity(category, type_) {
                    Ok(position) => position,
                    Err(error) => return Change::Refused(error),
                };
                if model.identities.len() == 1 {
                    return Change::Refused(RegistryError::LastIdentity {
                        category: category.into(),
                        type_: type_.into(),
                    });
                }
                model.identities.remove(position);
                Change::Done
            }
            Op::SetNames {
                node,
                identity,
                names: choice,
            } => {
                let Some(model) = self.model(node) else {
                    return Change::NoNode;
                };
                let (category, type_) = identity_key(identity);
                match model.identity(category, type_) {
                    Ok(position) => {
                        model.identities[position].2 = names(choice).into_iter().collect()
                    }
                    Err(error) => return Change::Refused(error),
                }
                Change::Done
            }
            Op::SetItems { node, count } => {
                let Some(model) = self.model(node) else {
                    return Change::NoNode;
                };
                model.items = (0..count).map(|i| (item_jid(i), None, None)).collect();
                Change::Done
            }
            Op::FeatureText { node, ref text } => {
                let Some(model) = self.model(node) else {
                    return Change::NoNode;
                };
                if !carried(text) {
                    return Change::RefusedText;
                }
                if text == INFO || !model.features.insert(text.clone()) {
                    return Change::Refused(RegistryError::FeatureAlreadyRegistered(text.clone()));
                }
                Change::Done
            }
            Op::IdentityText {
                node,
                ref category,
                ref type_,
                ref lang,
                ref name,
            } => {
                let Some(model) = self.model(node) else {
                    return Change::NoNode;
                };
                if ![category, type_, lang, name]
                    .into_iter()
                    .all(|t| carried(t))
                {
                    return Change::RefusedText;
                }
                if model.identity(category, type_).is_ok() {
                    return Change::Refused(RegistryError::IdentityAlreadyRegistered {
                        category: category.clone(),
                        type_: type_.clone(),
                    });
                }
                let names = BTreeMap::from([(Some(lang.clone()), name.clone())]);
                model
                    .identities
                    .push((category.clone(), type_.clone(), names));
                Change::Done
            }
            Op::ItemsText {
                node,
                ref item_node,
                ref name,
            } => {
                let Some(model) = self.model(node) else {
                    return Change::NoNode;
                };
                if !carried(item_node) || !carried(name) {
                    return Change::RefusedText;
                }
                model.items = vec![(item_jid(0), Some(item_node.clone()), Some(name.clone()))];
                Change::Done
            }
            Op::MountText { ref name } => {
                let Some(entity) = self.selected() else {
                    return Change::NoNode;
                };
                if !valid_node(name) {
                    return Change::RefusedText;
                }
                let (category, type_) = IDENTITIES[0];
                let fresh = ModelNode {
                    identities: vec![(category.into(), type_.into(), BTreeMap::new())],
                    ..ModelNode::default()
                };
                entity.mounted.insert(name.clone(), fresh);
                Change::Done
            }
            Op::AddEntity(0) | Op::RemoveEntity(0) => Change::NoNode,
            Op::AddEntity(entity) => {
                self.entities[entity] = Some(ModelEntity::default());
                Change::Done
            }
            Op::RemoveEntity(entity) => match self.entities[entity].take() {
                Some(_) => Change::Done,
                None => Change::NoNode,
            },
            Op::Select(_)
            | Op::Resolver(_)
            | Op::Policy(_)
            | Op::LeakGuards(_)
            | Op::Request { .. } => Change::Done,
        }
    }

    /// Applies a registry change to the machine.
    fn machine_change(&mut self, op: &Op) -> Change {
        match *op {
            Op::MountText { ref name } => {
                let mut fresh = StaticNode::new();
                let (category, type_) = IDENTITIES[0];
                fresh
                    .register_identity(category, type_, IdentityNames::new())
                    .expect("a fresh node");
                match self.mount(name.as_str(), fresh) {
                    None => Change::NoNode,
                    Some(Ok(())) => Change::Done,
                    Some(Err(InvalidArgument::Text(_) | InvalidArgument::EmptyNode)) => {
                        Change::RefusedText
                    }
                    Some(Err(other)) => panic!("mounting {name:?}: {other}"),
                }
            }
            Op::AddEntity(0) | Op::RemoveEntity(0) => Change::NoNode,
            Op::AddEntity(entity) => {
                self.machine
                    .add_entity(entity_jid(entity), Entity::new(StaticNode::new()));
                Change::Done
            }
            Op::RemoveEntity(entity) => match self.machine.remove_entity(&entity_jid(entity)) {
                Some(_) => Change::Done,
                None => Change::NoNode,
            },
            Op::Mount { node, .. } | Op::Unmount { node } if NODES[node].is_none() => {
                Change::NoNode
            }
            Op::Mount {
                node,
                with_identity,
            } => {
                let mut fresh = StaticNode::new();
                if with_identity {
                    let (category, type_) = IDENTITIES[0];
                    fresh
                        .register_identity(category, type_, IdentityNames::new())
                        .expect("a fresh node");
                }
                match self.mount(NODES[node].unwrap_or_default(), fresh) {
                    None => Change::NoNode,
                    Some(result) => {
                        result.expect("a valid name");
                        Change::Done
                    }
                }
            }
            Op::Unmount { node } => match self.unmount(NODES[node].unwrap_or_default()) {
                None => Change::NoNode,
                Some(Ok(())) => Change::Done,
                Some(Err(error)) => Change::Refused(error),
            },
            _ => self
                .with_node(NODES[node_of(op)], |target| Self::edit(target, op))
                .unwrap_or(Change::NoNode),
        }
    }

    /// Applies a registry operation to a node of the machine.
    fn edit(target: &mut StaticNode, op: &Op) -> Change {
        let done = |result: Result<(), RegistryError>| match result {
            Ok(()) => Change::Done,
            Err(RegistryError::Text(_)) => Change::RefusedText,
            Err(error) => Change::Refused(error),
        };
        match *op {
            Op::RegisterFeature { feature, .. } => done(target.register_feature(FEATURES[feature])),
            Op::UnregisterFeature { feature, .. } => {
                done(target.unregister_feature(FEATURES[feature]))
            }
            Op::RegisterIdentity {
                identity,
                names: choice,
                ..
            } => {
                let (category, type_) = IDENTITIES[identity];
                done(target.register_identity(
                    category,
                    type_,
                    names(choice).into_iter().collect::<IdentityNames>(),
                ))
            }
            Op::UnregisterIdentity { identity, .. } => {
                let (category, type_) = IDENTITIES[identity];
                done(target.unregister_identity(category, type_))
            }
            Op::SetNames {
                identity,
                names: choice,
                ..
            } => {
                let (category, type_) = IDENTITIES[identity];
                done(target.set_identity_names(
                    category,
                    type_,
                    names(choice).into_iter().collect::<IdentityNames>(),
                ))
            }
            Op::SetItems { count, .. } => {
                let items = (0..count)
                    .map(|i| Item {
                        jid: Jid::new(&item_jid(i)).expect("item JID"),
                        node: None,
                        name: None,
                    })
                    .collect();
                target.set_items(items).expect("valid items");
                Change::Done
            }
            Op::FeatureText { ref text, .. } => done(target.register_feature(text.as_str())),
            Op::IdentityText {
                ref category,
                ref type_,
                ref lang,
                ref name,
                ..
            } => done(target.register_identity(
                category,
                type_,
                [(Some(lang.as_str()), name.as_str())],
            )),
            Op::ItemsText {
                ref item_node,
                ref name,
                ..
            } => {
                let items = vec![Item {
                    jid: Jid::new(&item_jid(0)).expect("item JID"),
                    node: Some(item_node.clone()),
                    name: Some(name.clone()),
                }];
                match target.set_items(items) {
                    Ok(()) => Change::Done,
                    Err(RegistryError::Text(_)) => Change::RefusedText,
                    Err(other) => Change::Refused(other),
                }
            }
            _ => Change::Done,
        }
    }

    /// What the model says a request gets.
    fn expected(&self, request: &Request<'_>) -> Answer {
        let &Request {
            items,
            node,
            set,
            stranger,
            to,
        } = request;
        if set {
            return Answer::Error("service-unavailable");
        }
        if self.policy && stranger {
            return Answer::Error("service-unavailable");
        }
        // No `to` is the own address; an entity's address is its own while it is registered;
        // the room is the resolver's while it is set; the rest is nobody's.
        let address = ADDRESSES[to];
        let entity = match address {
            None => Some(0),
            Some(address) => ENTITIES.iter().position(|entity| *entity == address),
        };
        let Some(entity) = entity.and_then(|entity| self.entities[entity].as_ref()) else {
            return match (address == Some(ROOM) && self.resolver, node, items) {
                (true, None, false) => Answer::Info {
                    identities: vec![(
                        "conference".into(),
                        "text".into(),
                        Some("en".into()),
                        Some(ROOM.into()),
                    )],
                    features: vec![INFO.to_owned()],
                },
                (true, None, true) => Answer::Items(vec![]),
                _ => Answer::Error("item-not-found"),
            };
        };
        let model = match node {
            None => &entity.root,
            Some(name) => match entity.mounted.get(name) {
                Some(model) => model,
                None => return Answer::Error("item-not-found"),
            },
        };
        if items {
            return Answer::Items(model.items.clone());
        }
        if model.identities.is_empty() {
            return Answer::Error("item-not-found");
        }
        let mut identities = Vec::new();
        for (category, type_, names) in &model.identities {
            if names.is_empty() {
                identities.push((category.clone(), type_.clone(), None, None));
            }
            for (lang, name) in names {
                identities.push((
                    category.clone(),
                    type_.clone(),
                    lang.clone(),
                    Some(name.clone()),
                ));
            }
        }
        let mut features: Vec<String> = advertised(model).into_iter().collect();
        features.push(INFO.to_owned());
        features.sort();
        Answer::Info {
            identities,
            features,
        }
    }

    /// Sends a request to the machine and reads its answer back, taken as element, typed IQ
    /// and bytes.
    fn ask(&mut self, request: &Request<'_>) -> Answer {
        let &Request {
            items,
            node,
            set,
            stranger,
            to,
        } = request;
        self.requests += 1;
        let id = format!("r{}", self.requests);
        let from = if stranger { MALLORY } else { ROMEO };
        let namespace = if items { ITEMS } else { INFO };
        let mut query = Element::builder("query", namespace);
        if let Some(node) = node {
            query = query.attr(xml_ncname!("node").into(), node);
        }
        let mut stanza = Element::builder("iq", COMPONENT)
            .attr(xml_ncname!("type").into(), if set { "set" } else { "get" })
            .attr(xml_ncname!("id").into(), id.as_str())
            .attr(xml_ncname!("from").into(), from);
        if let Some(to) = ADDRESSES[to] {
            stanza = stanza.attr(xml_ncname!("to").into(), to);
        }
        let request = stanza.append(query.build()).build();
        assert!(
            self.machine.handle_stanza(self.base, request).is_consumed(),
            "a disco request is consumed"
        );
        let reply = element_of(
            self.machine
                .poll_transmit()
                .expect("every request is answered"),
        );
        assert!(
            self.machine.poll_transmit().is_none(),
            "one answer per request"
        );
        assert_eq!(reply.attr("id"), Some(id.as_str()));
        assert_eq!(reply.attr("to"), Some(from));
        assert_eq!(
            reply.attr("from"),
            Some(ADDRESSES[to].unwrap_or(SERVICE)),
            "the answer comes from the address asked"
        );
        if reply.attr("type") == Some("error") {
            let error = reply
                .get_child("error", COMPONENT)
                .expect("an error element");
            let condition = ["service-unavailable", "item-not-found", "bad-request"]
                .into_iter()
                .find(|c| error.has_child(*c, "urn:ietf:params:xml:ns:xmpp-stanzas"))
                .expect("a known condition");
            return Answer::Error(condition);
        }
        assert_eq!(reply.attr("type"), Some("result"));
        let query = reply
            .get_child("query", namespace)
            .expect("a query")
            .clone();
        assert_eq!(query.attr("node"), node, "the node is mirrored");
        if items {
            let parsed = DiscoItemsResult::try_from(query).expect("valid items");
            return Answer::Items(
                parsed
                    .items
                    .into_iter()
                    .map(|i| (i.jid.to_string(), i.node, i.name))
                    .collect(),
            );
        }
        let raw_features = query.children().filter(|c| c.is("feature", INFO)).count();
        let parsed = DiscoInfoResult::try_from(query).expect("valid info");
        assert_eq!(raw_features, parsed.features.len(), "features are unique");
        Answer::Info {
            identities: parsed
                .identities
                .into_iter()
                .map(|i| (i.category, i.type_, i.lang, i.name))
                .collect(),
            features: parsed.features.into_iter().collect(),
        }
    }

    /// Sends `request` and compares the answer with the model's.
    fn request(&mut self, request: Request<'_>, op: &Op) {
        let expected = self.expected(&request);
        assert_eq!(self.ask(&request), expected, "answer to {op:?}");
    }

    pub fn step(&mut self, op: &Op) {
        match *op {
            Op::Policy(on) => {
                self.policy = on;
                if on {
                    self.machine.set_policy(|request| {
                        request
                            .from
                            .is_none_or(|from| from.domain().as_str() != "evil.example")
                    });
                } else {
                    self.machine.clear_policy();
                }
            }
            Op::Request {
                items,
                node,
                set,
                stranger,
                to,
            } => self.request(
                Request {
                    items,
                    node: NODES[node],
                    set,
                    stranger,
                    to,
                },
                op,
            ),
            Op::Select(entity) => self.selected = entity,
            Op::LeakGuards(on) => self.leak = on,
            Op::Resolver(on) => {
                self.resolver = on;
                if on {
                    self.machine.set_resolver(Resolver::dynamic(Rooms));
                } else {
                    self.machine.clear_resolver();
                }
            }
            _ => {
                let before_root = self.machine.root().clone();
                let info_before = self.info_of(target_of(op));
                let expected = self.model_change(op);
                let got = self.machine_change(op);
                assert_eq!(got, expected, "outcome of {op:?}");
                let events: Vec<Event> = std::iter::from_fn(|| self.machine.poll_event()).collect();
                // Mounting and unmounting always change what a name answers; an edit raises the
                // event when it left the node's identities or features other than they were.
                let mounting = matches!(
                    op,
                    Op::Mount { .. }
                        | Op::MountText { .. }
                        | Op::Unmount { .. }
                        | Op::AddEntity(_)
                        | Op::RemoveEntity(_)
                );
                // A leaked guard never settles: the host is not told of its edit.
                let changed =
                    mounting || (!self.leak && self.info_of(target_of(op)) != info_before);
                let wanted = usize::from(expected == Change::Done && changed);
                assert_eq!(events.len(), wanted, "events after {op:?}: {events:?}");
                let (changed_entity, changed_node) = match *op {
                    Op::AddEntity(entity) | Op::RemoveEntity(entity) => (entity, None),
                    _ => (self.selected, target_of(op)),
                };
                if let Some(Event::NodeChanged { entity, node }) = events.first() {
                    let named = (changed_entity != 0).then(|| entity_jid(changed_entity));
                    assert_eq!(entity, &named, "the event names the entity");
                    assert_eq!(node.as_deref(), changed_node, "the event names the node");
                }
                if !matches!(expected, Change::Done) {
                    assert_eq!(
                        self.machine.root(),
                        &before_root,
                        "a refused change changes nothing"
                    );
                }
                // A node changed with any text answers what the model holds, in every form
                // (the other changes are checked by the requests the operations make).
                let text_op = matches!(
                    op,
                    Op::FeatureText { .. }
                        | Op::IdentityText { .. }
                        | Op::ItemsText { .. }
                        | Op::MountText { .. }
                );
                if text_op && matches!(expected, Change::Done) {
                    let target = target_of(op).map(str::to_owned);
                    for items in [false, true] {
                        let request = Request {
                            items,
                            node: target.as_deref(),
                            set: false,
                            stranger: false,
                            to: self.selected,
                        };
                        self.request(request, op);
                    }
                }
            }
        }
    }
}

fn node_of(op: &Op) -> usize {
    match *op {
        Op::RegisterFeature { node, .. }
        | Op::UnregisterFeature { node, .. }
        | Op::RegisterIdentity { node, .. }
        | Op::UnregisterIdentity { node, .. }
        | Op::SetNames { node, .. }
        | Op::SetItems { node, .. }
        | Op::Mount { node, .. }
        | Op::Unmount { node }
        | Op::Request { node, .. }
        | Op::FeatureText { node, .. }
        | Op::IdentityText { node, .. }
        | Op::ItemsText { node, .. } => node,
        Op::Policy(_)
        | Op::LeakGuards(_)
        | Op::MountText { .. }
        | Op::Select(_)
        | Op::AddEntity(_)
        | Op::RemoveEntity(_)
        | Op::Resolver(_) => 0,
    }
}

/// The node an operation changes, by name (`None`: the root).
/// The features a node advertises besides `disco#info`: the registered ones, and result set
/// management (XEP-0059) while it has items.
fn advertised(node: &ModelNode) -> BTreeSet<String> {
    let mut features = node.features.clone();
    if !node.items.is_empty() {
        features.insert(xmpp_disco::xmpp_parsers::ns::RSM.to_owned());
    }
    features
}

fn target_of(op: &Op) -> Option<&str> {
    match op {
        Op::MountText { name } => Some(name),
        _ => NODES[node_of(op)],
    }
}

/// The body of a fuzz run over registry operations and requests.
pub fn run_bytes(data: &[u8]) {
    let mut bytes = Bytes(data);
    let mut world = World::new();
    each_op(&mut bytes, Op::decode, |op| world.step(op));
}
