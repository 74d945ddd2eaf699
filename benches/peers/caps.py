"""The entity capabilities login storm, done by slixmpp's and aioxmpp's own caps code.

    python caps_peers.py CONTACTS PROGRAMS REPETITIONS

Run by `cargo bench --bench disco -- caps` (benches/disco.rs), which does the same job with
xmpp-disco and prints the three side by side. The workload, built here exactly as there:
PROGRAMS client programs, program k with identity client/pc "Program k" and the features
disco#info, caps and urn:bench:k:0 to urn:bench:k:9; CONTACTS contacts, contact i at
contact{i}@bench.example/device running program i % PROGRAMS, each sending one available
presence with its XEP-0115 caps (hash sha-1, node https://bench.example/k). Then one root
query per contact.

No network: each library's own call that sends a disco#info request is replaced by a function
that answers at once with the program's info and counts the call (the "IQs sent"). What is
timed, per library:

* slixmpp (plugin xep_0115): a presence is `await xep_0115._process_caps(presence)`, what its
  `entity_caps` event handler runs (it looks the hash up and, for a new one, asks the caps
  node and verifies the answer; `xep_0030.get_info` is the replaced call). A query is
  `await xep_0115.get_caps(jid)`, which answers from its caps cache: slixmpp's plain
  `xep_0030.get_info` ignores that cache and would send one IQ per contact.
* aioxmpp (EntityCapsService over DiscoClient): a presence is
  `EntityCapsService.handle_inbound_presence(presence)`, its inbound presence filter (which
  installs a lazy lookup as the JID's info future); a query is `DiscoClient.query_info(jid)`,
  which runs that lookup (`DiscoClient.send_and_decode_info_query` is the replaced call).

Times are medians over REPETITIONS fresh runs without tracemalloc. Memory per contact comes from
one more run under tracemalloc: what it sees retained after both phases, minus what it saw before
the first presence (the presences themselves are built before), over CONTACTS. Prints one JSON
object per library.
"""

import asyncio
import base64
import gc
import hashlib
import json
import statistics
import sys
import time
import tracemalloc


def program_features(k):
    return [
        "http://jabber.org/protocol/disco#info",
        "http://jabber.org/protocol/caps",
    ] + [f"urn:bench:{k}:{j}" for j in range(10)]


def ver(k):
    """XEP-0115 §5.1 for these simple answers: the identity, then the sorted features."""
    s = f"client/pc//Program {k}<" + "".join(f + "<" for f in sorted(program_features(k)))
    return base64.b64encode(hashlib.sha1(s.encode()).digest()).decode()


def contact(i):
    return f"contact{i}@bench.example/device"


def slixmpp_run(contacts, programs):
    import slixmpp
    from slixmpp.plugins.xep_0030.stanza import DiscoInfo

    xmpp = slixmpp.ClientXMPP("bench@bench.example/x", "secret")
    xmpp.register_plugin("xep_0030")
    xmpp.register_plugin("xep_0115")
    caps = xmpp.plugin["xep_0115"]
    disco = xmpp.plugin["xep_0030"]
    program_of_node = {f"https://bench.example/{k}#{ver(k)}": k for k in range(programs)}
    calls = 0

    async def get_info(jid=None, node=None, **_):
        nonlocal calls
        calls += 1
        k = program_of_node[node]
        info = DiscoInfo()
        info["node"] = node
        info.add_identity("client", "pc", f"Program {k}")
        for feature in program_features(k):
            info.add_feature(feature)
        return info

    disco.get_info = get_info
    presences = []
    for i in range(contacts):
        k = i % programs
        presence = xmpp.make_presence(pfrom=contact(i), pto="bench@bench.example/x")
        presence["caps"]["hash"] = "sha-1"
        presence["caps"]["node"] = f"https://bench.example/{k}"
        presence["caps"]["ver"] = ver(k)
        presences.append(presence)

    async def storm():
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        start = time.perf_counter()
        for presence in presences:
            await caps._process_caps(presence)
        presence_ns = (time.perf_counter() - start) * 1e9 / contacts
        start = time.perf_counter()
        for i in range(contacts):
            info = await caps.get_caps(jid=contact(i))
            assert info is not None, contact(i)
        query_ns = (time.perf_counter() - start) * 1e9 / contacts
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
        return presence_ns, query_ns, retained / contacts

    # slixmpp's plugins run on the loop the client was made with.
    presence_ns, query_ns, per_contact = xmpp.loop.run_until_complete(storm())
    return calls, presence_ns, query_ns, per_contact


def aioxmpp_run(contacts, programs):
    import aioxmpp
    import aioxmpp.disco.xso as disco_xso
    import aioxmpp.entitycaps.xso as caps_xso
    import aioxmpp.testutils

    async def storm():
        client = aioxmpp.testutils.make_connected_client()
        client.local_jid = aioxmpp.JID.fromstr("bench@bench.example/x")
        disco_server = aioxmpp.DiscoServer(client)
        disco = aioxmpp.DiscoClient(client)
        caps = aioxmpp.EntityCapsService(
            client,
            dependencies={aioxmpp.DiscoServer: disco_server, aioxmpp.DiscoClient: disco},
        )
        program_of_node = {f"https://bench.example/{k}#{ver(k)}": k for k in range(programs)}
        calls = 0

        async def send_and_decode_info_query(jid, node):
            nonlocal calls
            calls += 1
            k = program_of_node[node]
            return disco_xso.InfoQuery(
                node=node,
                identities=[disco_xso.Identity(category="client", type_="pc", name=f"Program {k}")],
                features=program_features(k),
            )

        disco.send_and_decode_info_query = send_and_decode_info_query
        presences = []
        for i in range(contacts):
            k = i % programs
            presence = aioxmpp.Presence(
                type_=aioxmpp.PresenceType.AVAILABLE,
                from_=aioxmpp.JID.fromstr(contact(i)),
            )
            presence.xep0115_caps = caps_xso.Caps115(
                f"https://bench.example/{k}", ver(k), "sha-1"
            )
            presences.append(presence)
        jids = [presence.from_ for presence in presences]

        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        start = time.perf_counter()
        for presence in presences:
            caps.handle_inbound_presence(presence)
        presence_ns = (time.perf_counter() - start) * 1e9 / contacts
        start = time.perf_counter()
        for jid in jids:
            info = await disco.query_info(jid)
            assert info is not None, jid
        query_ns = (time.perf_counter() - start) * 1e9 / contacts
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
        return calls, presence_ns, query_ns, retained / contacts

    return asyncio.run(storm())


def library_version(name):
    from importlib.metadata import version

    return version(name)


def main(contacts, programs, repetitions):
    for name, run, calls in [
        ("slixmpp", slixmpp_run, "xep_0115._process_caps / xep_0115.get_caps"),
        ("aioxmpp", aioxmpp_run, "EntityCapsService.handle_inbound_presence / DiscoClient.query_info"),
    ]:
        # Timed without tracemalloc, which slows every allocation; memory in a run of its own.
        runs = [run(contacts, programs) for _ in range(repetitions)]
        tracemalloc.start()
        memory = run(contacts, programs)[3]
        tracemalloc.stop()
        print(
            json.dumps(
                {
                    "name": f"{name} {library_version(name)}",
                    "calls": calls,
                    "iqs": runs[0][0],
                    "presence_ns": statistics.median(r[1] for r in runs),
                    "query_ns": statistics.median(r[2] for r in runs),
                    "bytes_per_contact": memory,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*(int(arg) for arg in sys.argv[1:]))
