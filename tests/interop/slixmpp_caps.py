"""slixmpp with its own entity capabilities (XEP-0115), for the caps interop test.

    python slixmpp_caps.py HOST PORT JID PASSWORD TARGET_JID

Logs in over plaintext (a loopback test server only), sends TARGET_JID a directed presence,
which slixmpp's xep_0115 plugin stamps with its caps, and prints, one fact per line:

    ver VER                  the verification string slixmpp announced
    online FULL_JID          after the presence went out
    verified JID VER         once slixmpp has verified the caps of a presence from TARGET_JID
                             (it asks the caps node itself and checks the hash its own way)
    unverified JID VER       if it could not within 15 s

and stays online until its standard input closes. Every wait is bounded: the script exits
non-zero after 90 s.
"""

import asyncio
import logging
import sys

import slixmpp

# Beside this script: the plaintext connection every peer of the suite uses.
from slixmpp_peer import run, stay_until_stdin_closes


def say(*words):
    print(*words, flush=True)


class Peer(slixmpp.ClientXMPP):
    def __init__(self, jid, password, target):
        super().__init__(jid, password)
        self.target = slixmpp.JID(target)
        self.finished = asyncio.get_event_loop().create_future()
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0115")
        self.register_plugin("xep_0199")
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("presence_available", self.available)
        self.add_event_handler("failed_auth", lambda _: self.fail("authentication failed"))

    def fail(self, why):
        if not self.finished.done():
            self.finished.set_exception(RuntimeError(why))

    async def start(self, _event):
        await self.get_roster()
        caps = self.plugin["xep_0115"]
        await caps.update_caps()
        say(f"ver {await caps.get_verstring(self.boundjid)}")
        self.send_presence(pto=self.target)
        say(f"online {self.boundjid.full}")
        await stay_until_stdin_closes(self)

    async def available(self, presence):
        if presence["from"] != self.target or not presence["caps"]["ver"]:
            return
        claimed = presence["caps"]["ver"]
        caps = self.plugin["xep_0115"]
        for _ in range(150):
            if await caps.get_verstring(presence["from"]) == claimed:
                say(f"verified {presence['from']} {claimed}")
                return
            await asyncio.sleep(0.1)
        say(f"unverified {presence['from']} {claimed}")


async def main(host, port, jid, password, target):
    await run(Peer(jid, password, target), host, port, 90)


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    asyncio.run(main(*sys.argv[1:]))
