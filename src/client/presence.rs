//! The host's presence and the session's own capabilities on it (XEP-0115 §6.1, XEP-0390):
//! what the session adds to a presence the host sends, and when it sends the host's presence
//! again on its own.
//!
//! * Every available presence the host sends (broadcast or directed) carries the current
//!   XEP-0115 `<c/>` and, where configured, XEP-0390's; a `<c/>` of a kind the host put there
//!   itself is kept and not doubled. Unavailable presences get none.
//! * The host's last available broadcast presence (no `to`) is kept, as the host sent it,
//!   until it sends an unavailable broadcast: that span is its presence session. When the
//!   announcement changes during it (the root's identities, features or forms changed in a
//!   way the hashes cover), that presence is sent again with the new `<c/>`: one presence per
//!   change of the announcement, whatever number of edits made it.
//! * Directed presences (a room joined, a contact probed) are not sent again: the session
//!   does not know which of them still stand (a room may have refused the join, or been left),
//!   and re-sending one to a room is a status change the room broadcasts to every occupant. A
//!   host that wants rooms to see a new `ver` sends its room presences again itself.
//! * After a new stream (`Reset`) the server has forgotten the presence: the last broadcast
//!   presence of a presence session is sent again, on every server alike. After `Resumed`,
//!   nothing is: the server kept it.

use std::sync::Arc;

use xmpp_parsers::minidom::Element;
use xmpp_parsers::ns;
use xmpp_parsers::presence::{Presence, Type as PresenceType};

use crate::caps::CapsAnnouncement;

/// The host's presence, as the session keeps it for its capabilities.
#[derive(Debug)]
pub(crate) struct Presences {
    /// Whether the session adds its capabilities and re-sends presence at all
    /// ([`Login::manage_presence`](super::Login::manage_presence)).
    managed: bool,
    /// The host's last available broadcast presence, as the host sent it, while its presence
    /// session lasts.
    broadcast: Option<Presence>,
    /// The announcement that presence last went out with.
    announced: Option<Arc<CapsAnnouncement>>,
}

impl Presences {
    pub(crate) fn new(managed: bool) -> Self {
        Presences {
            managed,
            broadcast: None,
            announced: None,
        }
    }

    /// A presence the host sends, with the session's capabilities added where they belong;
    /// a broadcast one is remembered (or forgotten, if unavailable).
    pub(crate) fn outgoing(
        &mut self,
        presence: Presence,
        current: Option<&Arc<CapsAnnouncement>>,
    ) -> Presence {
        if !self.managed {
            return presence;
        }
        if presence.to.is_none() {
            match presence.type_ {
                PresenceType::None => {
                    // Kept without any `<c/>`: sent again, it carries the hashes of then.
                    let mut kept = presence.clone();
                    kept.payloads.retain(|payload| !is_caps(payload));
                    self.broadcast = Some(kept);
                    self.announced = current.cloned();
                }
                PresenceType::Unavailable => self.broadcast = None,
                _ => {}
            }
        }
        stamped(presence, current)
    }

    /// The announcement is now `current`: the host's broadcast presence to send again, if its
    /// presence session lasts and it went out with another announcement.
    pub(crate) fn changed(&mut self, current: Option<&Arc<CapsAnnouncement>>) -> Option<Presence> {
        let broadcast = self.broadcast.as_ref()?;
        let same = match (&self.announced, current) {
            (Some(announced), Some(current)) => Arc::ptr_eq(announced, current),
            (None, None) => true,
            _ => false,
        };
        if same {
            return None;
        }
        self.announced = current.cloned();
        Some(stamped(broadcast.clone(), current))
    }

    /// A new stream: the host's broadcast presence to send again, if its presence session
    /// lasted.
    pub(crate) fn reset(&mut self, current: Option<&Arc<CapsAnnouncement>>) -> Option<Presence> {
        let broadcast = self.broadcast.as_ref()?;
        self.announced = current.cloned();
        Some(stamped(broadcast.clone(), current))
    }
}

/// Whether `payload` is a `<c/>` of entity capabilities.
fn is_caps(payload: &Element) -> bool {
    payload.is("c", ns::CAPS) || payload.is("c", ns::ECAPS2)
}

/// `presence` with the `<c/>` of each kind in `current` it does not carry yet, if it is
/// available.
fn stamped(mut presence: Presence, current: Option<&Arc<CapsAnnouncement>>) -> Presence {
    let Some(current) = current else {
        return presence;
    };
    if presence.type_ != PresenceType::None {
        return presence;
    }
    let carries = |namespace: &str| {
        presence
            .payloads
            .iter()
            .any(|payload| payload.is("c", namespace))
    };
    let missing: Vec<Element> = current
        .elements()
        .into_iter()
        .filter(|c| !carries(&c.ns()))
        .collect();
    presence.payloads.extend(missing);
    presence
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, DiscoMachine};
    use xmpp_parsers::jid::Jid;

    fn announcement(feature: Option<&str>) -> Arc<CapsAnnouncement> {
        let config = Config {
            caps_node: Some("https://example.org/c".into()),
            ..Config::default()
        };
        let mut machine = DiscoMachine::new(config);
        if let Some(feature) = feature {
            machine
                .root_mut()
                .register_feature(feature)
                .expect("a feature");
        }
        machine.caps_announcement().expect("caps are on")
    }

    fn caps_of(presence: &Presence) -> usize {
        presence.payloads.iter().filter(|p| is_caps(p)).count()
    }

    #[test]
    fn available_presences_carry_both_hashes_once_and_unavailable_ones_none() {
        let current = announcement(None);
        let mut presences = Presences::new(true);
        let sent = presences.outgoing(Presence::available(), Some(&current));
        assert_eq!(caps_of(&sent), 2);
        // One the host put there is kept, the other kind added.
        let mut own = Presence::available();
        own.payloads.push(current.elements()[0].clone());
        assert_eq!(caps_of(&presences.outgoing(own, Some(&current))), 2);
        let room: Jid = "room@muc.example/me".parse().expect("a JID");
        let directed = Presence::available().with_to(room);
        assert_eq!(caps_of(&presences.outgoing(directed, Some(&current))), 2);
        let gone = presences.outgoing(Presence::new(PresenceType::Unavailable), Some(&current));
        assert_eq!(caps_of(&gone), 0);
        // Unmanaged: untouched.
        let mut unmanaged = Presences::new(false);
        assert_eq!(
            caps_of(&unmanaged.outgoing(Presence::available(), Some(&current))),
            0
        );
    }

    #[test]
    fn a_changed_announcement_resends_the_broadcast_presence_once() {
        let (before, after) = (announcement(None), announcement(Some("urn:xmpp:ping")));
        let mut presences = Presences::new(true);
        assert!(
            presences.changed(Some(&after)).is_none(),
            "no presence session yet"
        );
        let mut away = Presence::available();
        away.show = Some(xmpp_parsers::presence::Show::Away);
        presences.outgoing(away, Some(&before));
        let again = presences.changed(Some(&after)).expect("sent again");
        assert_eq!(again.show, Some(xmpp_parsers::presence::Show::Away));
        assert!(again.payloads.contains(&after.elements()[0]));
        assert!(
            !again.payloads.contains(&before.elements()[0]),
            "the old hashes gone"
        );
        assert!(presences.changed(Some(&after)).is_none(), "once per change");
        presences.outgoing(Presence::new(PresenceType::Unavailable), Some(&after));
        assert!(
            presences.changed(Some(&before)).is_none(),
            "after unavailable: none"
        );
        assert!(presences.reset(Some(&before)).is_none());
    }
}
