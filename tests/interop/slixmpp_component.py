"""slixmpp, as a user of the test server, discovers the component example and its rooms.

    python slixmpp_component.py HOST PORT ROOMS PAGE

Logs in as slix@localhost over plaintext (a loopback test server only), finds the component
`rooms.localhost` among the server's disco items, reads its info and its items (without a
result set: the first PAGE rooms, and the RSM <set/> counting all ROOMS), pages through every
one of its ROOMS rooms with slixmpp's own XEP-0059 client, reads the info of the first, a
middle and the last room (each with a muc#roominfo form), and checks that a room past the
last, and an address that is no room, are `item-not-found` from the address asked. Prints one line per check; exits 1 on the first
that fails.
"""

import asyncio
import logging
import sys

import slixmpp
from slixmpp.exceptions import IqError

SERVICE = "rooms.localhost"
MUC = "http://jabber.org/protocol/muc"


class Check(slixmpp.ClientXMPP):
    def __init__(self, rooms, listed):
        super().__init__("slix@localhost", "secret")
        self.rooms = rooms
        self.listed = listed
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0004")
        self.register_plugin("xep_0128")  # forms in disco#info
        self.register_plugin("xep_0059")  # result set management
        self.add_event_handler("session_start", self.start)
        self.finished = asyncio.get_event_loop().create_future()

    def expect(self, what, condition, detail=""):
        if not condition:
            raise AssertionError(f"{what}: {detail}")
        print(f"ok: {what}", flush=True)

    async def not_found(self, jid, method):
        try:
            await method(jid=jid)
        except IqError as error:
            self.expect(
                f"{jid} is item-not-found from {jid}",
                error.iq["error"]["condition"] == "item-not-found"
                and error.iq["error"]["type"] == "cancel"
                and error.iq["from"] == jid,
                str(error.iq),
            )
            return
        raise AssertionError(f"{jid} answered, it should be item-not-found")

    async def room(self, number):
        jid = f"room{number}@{SERVICE}"
        info = (await self.plugin["xep_0030"].get_info(jid=jid))["disco_info"]
        identities = info["identities"]
        form = info["form"]
        self.expect(
            f"{jid} is a room named Room {number}",
            [(i[0], i[1], i[3]) for i in identities] == [("conference", "text", f"Room {number}")]
            and MUC in info["features"],
            str(info),
        )
        values = form.get_values()
        # slixmpp reads a hidden field's value as a list of one.
        form_type = values.get("FORM_TYPE")
        self.expect(
            f"{jid} has its muc#roominfo form",
            form_type in ("http://jabber.org/protocol/muc#roominfo",
                          ["http://jabber.org/protocol/muc#roominfo"])
            and values.get("muc#roominfo_description") == f"Generated room number {number}",
            str(values),
        )

    async def start(self, _event):
        try:
            disco = self.plugin["xep_0030"]
            server_items = await disco.get_items(jid="localhost")
            listed = [item[0] for item in server_items["disco_items"]["items"]]
            self.expect("the server lists the component", SERVICE in listed, str(listed))

            info = (await disco.get_info(jid=SERVICE))["disco_info"]
            self.expect(
                "the component says what it is, from its own address",
                ("conference", "text") in [(i[0], i[1]) for i in info["identities"]]
                and MUC in info["features"],
                str(info),
            )
            answer = (await disco.get_items(jid=SERVICE))["disco_items"]
            items = answer["items"]
            expected = {f"room{n}@{SERVICE}" for n in range(self.listed)}
            got = {item[0] for item in items}  # slixmpp keeps items in a set
            self.expect(
                f"the component lists its first {self.listed} rooms and counts all {self.rooms}",
                len(items) == self.listed
                and got == expected
                and answer["rsm"]["count"] == str(self.rooms),
                f"{sorted(got)[:3]} count={answer['rsm']['count']}",
            )
            query = self.make_iq_get(queryxmlns="http://jabber.org/protocol/disco#items", ito=SERVICE)
            paged, pages = set(), 0
            async for page in self.plugin["xep_0059"].iterate(query, "disco_items", amount=self.listed):
                pages += 1
                paged.update(item[0] for item in page["disco_items"]["items"])
            self.expect(
                f"slixmpp's RSM client pages through all {self.rooms} rooms",
                paged == {f"room{n}@{SERVICE}" for n in range(self.rooms)},
                f"{len(paged)} rooms in {pages} pages",
            )
            for number in (0, self.rooms // 2, self.rooms - 1):
                await self.room(number)
            await self.not_found(f"room{self.rooms}@{SERVICE}", disco.get_info)
            await self.not_found(f"nobody@{SERVICE}", disco.get_items)
            self.finished.set_result(0)
        except Exception as error:  # every failure ends the check with its reason
            print(f"FAILED: {error}", flush=True)
            self.finished.set_result(1)
        self.disconnect()


async def main(host, port, rooms, listed):
    check = Check(int(rooms), int(listed))
    check.enable_plaintext = True
    check.enable_starttls = False
    check.enable_direct_tls = False
    check.plugin["feature_mechanisms"].unencrypted_scram = True
    check.connect(host, int(port))
    status = await asyncio.wait_for(check.finished, 60)
    await asyncio.wait_for(check.disconnected, 10)
    return status


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    sys.exit(asyncio.run(main(*sys.argv[1:])))
