"""slixmpp with its own entity capabilities (XEP-0115), for the caps interop tests.

    python slixmpp_caps.py HOST PORT JID PASSWORD TARGET_JID [forge|subscribe]

Logs in over plaintext (a loopback test server only), sends TARGET_JID a directed presence,
which slixmpp's xep_0115 plugin stamps with its caps, and prints, one fact per line:

    ver VER                  the verification string slixmpp announced
    online FULL_JID          after the presence went out
    verified JID VER         once slixmpp has verified the caps of a presence from TARGET_JID
                             (it asks the caps node itself and checks the hash its own way),
                             for every presence from it with a `ver` not verified yet
    unverified JID VER       if it could not within 15 s

and stays online until its standard input closes. Every wait is bounded: the script exits
non-zero after 90 s.

With `forge`, it is the attacker of XEP-0115's Security Considerations: it announces the `ver`
of its true answer, but answers that `ver`'s node with a forged twin, its last two features
joined by a `<` into one, which hashes alike by slixmpp's own computation. It then also prints,
before `online`:

    twin VER FEATURE         the twin's verification string, and the joined feature

With `subscribe`, it asks to see TARGET_JID's presence (a roster subscription) instead of
sending it a directed presence (and prints `subscribed` if TARGET_JID approves it now): the
target's broadcast presences then reach it, each one verified as above.
"""

import asyncio
import logging
import sys

import slixmpp
from slixmpp.plugins.xep_0030.stanza import DiscoInfo

# Beside this script: the plaintext connection every peer of the suite uses.
from slixmpp_peer import run, stay_until_stdin_closes


def say(*words):
    print(*words, flush=True)


class Peer(slixmpp.ClientXMPP):
    def __init__(self, jid, password, target, mode):
        super().__init__(jid, password)
        self.target = slixmpp.JID(target)
        self.forge = mode == "forge"
        self.subscribe = mode == "subscribe"
        self.verified = set()
        self.finished = asyncio.get_event_loop().create_future()
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0115")
        self.register_plugin("xep_0199")
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("presence_available", self.available)
        self.add_event_handler("presence_subscribed", self.subscribed)
        self.add_event_handler("failed_auth", lambda _: self.fail("authentication failed"))

    def fail(self, why):
        if not self.finished.done():
            self.finished.set_exception(RuntimeError(why))

    async def start(self, _event):
        await self.get_roster()
        caps = self.plugin["xep_0115"]
        await caps.update_caps()
        ver = await caps.get_verstring(self.boundjid)
        say(f"ver {ver}")
        if self.forge:
            await self.answer_with_a_twin(ver)
        if self.subscribe:
            self.send_presence(ptype="subscribe", pto=self.target.bare)
            self.send_presence()
        else:
            self.send_presence(pto=self.target)
        say(f"online {self.boundjid.full}")
        await stay_until_stdin_closes(self)

    async def answer_with_a_twin(self, ver):
        disco = self.plugin["xep_0030"]
        caps = self.plugin["xep_0115"]
        info = await disco.get_info(None, None, local=True)
        if isinstance(info, slixmpp.Iq):
            info = info["disco_info"]
        features = sorted(info["features"])
        joined = f"{features[-2]}<{features[-1]}"
        twin = DiscoInfo()
        for category, type_, lang, name in info["identities"]:
            twin.add_identity(category, type_, name=name, lang=lang)
        for feature in features[:-2] + [joined]:
            twin.add_feature(feature)
        twin_ver = caps.generate_verstring(twin, caps.hash)
        await disco.set_info(node=f"{caps.caps_node}#{ver}", info=twin)
        say(f"twin {twin_ver} {joined}")

    def subscribed(self, presence):
        if presence["from"].bare == self.target.bare:
            say("subscribed")

    async def available(self, presence):
        if presence["from"] != self.target or not presence["caps"]["ver"]:
            return
        claimed = presence["caps"]["ver"]
        if claimed in self.verified:
            return
        self.verified.add(claimed)
        caps = self.plugin["xep_0115"]
        for _ in range(150):
            if await caps.get_verstring(presence["from"]) == claimed:
                say(f"verified {presence['from']} {claimed}")
                return
            await asyncio.sleep(0.1)
        say(f"unverified {presence['from']} {claimed}")


async def main(host, port, jid, password, target, mode=None):
    await run(Peer(jid, password, target, mode), host, port, 90)


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    if len(sys.argv) not in (6, 7):
        sys.exit(__doc__)
    asyncio.run(main(*sys.argv[1:]))
