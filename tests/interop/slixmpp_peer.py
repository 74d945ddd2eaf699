"""A second, independent XMPP client for the interop tests: slixmpp with its own disco (XEP-0030).

    python slixmpp_peer.py HOST PORT JID PASSWORD TARGET_JID NODE

Logs in over plaintext (a loopback test server only), prints `online FULL_JID`, then asks
TARGET_JID for its info and items at the root and at NODE and prints what slixmpp parsed, one
fact per line:

    root-identity CATEGORY/TYPE LANG NAME        node-identity ...
    root-feature VAR                             node-feature VAR
    root-item JID NODE NAME                      node-item ...
    node-node NODE                               (the node attribute of the info result)
    error WHERE CONDITION                        (a query that failed)

then `asked`, and stays online (answering disco queries with slixmpp's own responder) until
its standard input closes. Every wait is bounded: the script exits non-zero after 60 s.
"""

import asyncio
import logging
import sys

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

TIMEOUT = 10


def say(*words):
    print(*words, flush=True)


class Peer(slixmpp.ClientXMPP):
    def __init__(self, jid, password, target, node):
        super().__init__(jid, password)
        self.target = target
        self.node = node
        self.finished = asyncio.get_event_loop().create_future()
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0199")
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("failed_auth", lambda _: self.fail("authentication failed"))

    def fail(self, why):
        if not self.finished.done():
            self.finished.set_exception(RuntimeError(why))

    async def ask(self, where, node):
        disco = self.plugin["xep_0030"]
        try:
            info = await disco.get_info(jid=self.target, node=node, timeout=TIMEOUT)
            info = info["disco_info"]
            for category, type_, lang, name in info["identities"]:
                say(f"{where}-identity {category}/{type_} {lang or '-'} {name or '-'}")
            for var in info["features"]:
                say(f"{where}-feature {var}")
            say(f"{where}-node {info['node'] or '-'}")
            items = await disco.get_items(jid=self.target, node=node, timeout=TIMEOUT)
            for jid, item_node, name in items["disco_items"]["items"]:
                say(f"{where}-item {jid} {item_node or '-'} {name or '-'}")
        except IqError as error:
            say(f"error {where} {error.condition}")
        except IqTimeout:
            say(f"error {where} timeout")

    async def start(self, _event):
        self.send_presence()
        await self.get_roster()
        say(f"online {self.boundjid.full}")
        await self.ask("root", None)
        await self.ask("node", self.node)
        say("asked")
        await stay_until_stdin_closes(self)


async def stay_until_stdin_closes(peer):
    """Keeps `peer` online (answering what it answers) until standard input closes, then logs
    out and marks it finished."""
    loop = asyncio.get_event_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    peer.disconnect()
    await peer.disconnected
    if not peer.finished.done():
        peer.finished.set_result(None)


async def run(peer, host, port, limit):
    """Connects `peer` in plaintext (a loopback test server only) and waits, at most `limit`
    seconds, for it to finish."""
    peer.enable_plaintext = True
    peer.enable_starttls = False
    peer.enable_direct_tls = False
    peer.plugin["feature_mechanisms"].unencrypted_scram = True
    peer.connect(host, int(port))
    await asyncio.wait_for(peer.finished, limit)


async def main(host, port, jid, password, target, node):
    await run(Peer(jid, password, target, node), host, port, 60)


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    asyncio.run(main(*sys.argv[1:]))
