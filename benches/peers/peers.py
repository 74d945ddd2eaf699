"""The benchmark workloads of benches/disco.rs, measured on the peers' own disco code.

Run through benches/peers/run.sh, which installs the pinned versions. Prints one table per
library: workload, median and minimum nanoseconds per operation over 11 repetitions.

Nothing touches the network: only each library's send path is replaced (aioxmpp's
`client.send`, slixmpp's `XMLStream.send`); their disco logic, stanza classes, parsers and
serialisers are the real ones. What each figure includes is printed beside it.
"""

import asyncio
import copy
import gc
import io
import statistics
import sys
import time
import tracemalloc
import xml.etree.ElementTree as ET

REPETITIONS = 11
INFO = "http://jabber.org/protocol/disco#info"
REQUESTER = "romeo@montague.example/orchard"
ME = "bench@example.org/res"
REQUEST = (
    "<iq xmlns='jabber:client' type='get' id='bench-1' from='romeo@montague.example/orchard' "
    f"to='{ME}'><query xmlns='{INFO}'/></iq>"
)


def bench_reply(iq_id, sender):
    """The bench reply as XML: 2 identities, 21 features, one form of FORM_TYPE and 3 fields."""
    features = "".join(
        f"<feature var='urn:example:feature:{i}'/>" for i in range(20)
    )
    return (
        f"<iq xmlns='jabber:client' type='result' id='{iq_id}' from='{sender}' to='{ME}'>"
        f"<query xmlns='{INFO}'>"
        "<identity category='client' type='bot' name='Bench Bot' xml:lang='en'/>"
        "<identity category='client' type='bot' name='Prüfbot' xml:lang='de'/>"
        f"<feature var='{INFO}'/>{features}"
        "<x xmlns='jabber:x:data' type='result'>"
        "<field var='FORM_TYPE' type='hidden'><value>urn:example:bench</value></field>"
        "<field var='a'><value>value</value></field><field var='b'><value>value</value></field>"
        "<field var='c'><value>value</value></field></x></query></iq>"
    )


def measure(ops, batch):
    """Median and minimum ns per operation of `batch` (which runs `ops` operations)."""
    batch()
    samples = []
    for _ in range(REPETITIONS):
        start = time.perf_counter_ns()
        batch()
        samples.append((time.perf_counter_ns() - start) / ops)
    return statistics.median(samples), min(samples)


def run(loop, coroutine_factory):
    return lambda: loop.run_until_complete(coroutine_factory())


def memory_per_entry(entries, fill):
    """Bytes allocated per cache entry by `fill(entries)`, from tracemalloc."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    keep = fill(entries)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del keep
    return (after - before) / entries


def print_table(library, rows):
    print(f"\n{library}")
    print(f"{'workload':<58} {'median ns':>11} {'min ns':>11}  includes")
    for workload, (median, minimum), includes in rows:
        print(f"{workload:<58} {median:>11.0f} {minimum:>11.0f}  {includes}")


# --------------------------------------------------------------------------------- aioxmpp


def aioxmpp_rows(loop):
    import aioxmpp
    import aioxmpp.disco
    import aioxmpp.forms.xso as forms_xso
    import aioxmpp.xml
    from aioxmpp.testutils import make_connected_client

    def read_iq(data):
        return aioxmpp.xml.read_single_xso(io.BytesIO(data), aioxmpp.IQ)

    def write(xso):
        out = io.BytesIO()
        aioxmpp.xml.write_single_xso(xso, out)
        return out.getvalue()

    reply_payload = read_iq(bench_reply("x", REQUESTER).encode()).payload
    form = reply_payload.exts[0]

    class FormNode(aioxmpp.disco.StaticNode):
        """aioxmpp 0.13 nodes carry no forms: extend the info XSO, the documented hook."""

        def as_info_xso(self, stanza=None):
            result = super().as_info_xso(stanza)
            result.exts.append(form)
            return result

    client = make_connected_client()
    client.local_jid = aioxmpp.JID.fromstr(ME)
    server = aioxmpp.disco.DiscoServer(client)
    root = FormNode()
    root.register_identity(
        "client",
        "bot",
        names={
            aioxmpp.structs.LanguageTag.fromstr("en"): "Bench Bot",
            aioxmpp.structs.LanguageTag.fromstr("de"): "Prüfbot",
        },
    )
    for i in range(20):
        root.register_feature(f"urn:example:feature:{i}")
    server.mount_node(None, root)  # the root node, answered by DiscoServer's own handler

    request_bytes = REQUEST.encode()
    request = read_iq(request_bytes)

    async def answer(iq):
        # What aioxmpp's stanza stream does around an IQ handler's return value.
        response = iq.make_reply(type_=aioxmpp.IQType.RESULT)
        response.payload = await server.handle_info_request(iq)
        return response

    rows = []
    n = 200

    async def object_level():
        for _ in range(n):
            await answer(request)

    rows.append(
        (
            "responder: info get IQ -> reply IQ",
            measure(n, run(loop, object_level)),
            "handler + make_reply; same request XSO each time; no stanza router",
        )
    )

    async def wire_level():
        for _ in range(n):
            write(await answer(read_iq(request_bytes)))

    rows.append(
        (
            "responder: info get bytes -> reply bytes",
            measure(n, run(loop, wire_level)),
            "aioxmpp XSO parser + handler + make_reply + XSO serialiser",
        )
    )

    peer = aioxmpp.JID.fromstr(REQUESTER)
    disco = aioxmpp.disco.DiscoClient(client)
    disco.set_info_cache(peer, None, reply_payload)
    hits = 20_000

    async def cache_hits():
        for _ in range(hits):
            await disco.query_info(peer)

    rows.append(
        (
            "requester: cache hit (query_info)",
            measure(hits, run(loop, cache_hits)),
            "await query_info on a cached key",
        )
    )

    async def send_object(iq):
        iq.autoset_id()  # what the stanza stream does before sending
        return reply_payload

    client.send = send_object

    async def miss_object():
        for _ in range(n):
            await disco.query_info(peer, require_fresh=True)

    rows.append(
        (
            "requester: miss round trip, object in/out",
            measure(n, run(loop, miss_object)),
            "query_info(require_fresh) + IQ built; reply payload XSO handed back unparsed",
        )
    )

    reply_template = bench_reply("ID", REQUESTER)

    async def send_wire(iq):
        iq.autoset_id()
        write(iq)
        reply = read_iq(reply_template.replace("'ID'", f"'{iq.id_}'", 1).encode())
        return reply.payload

    client.send = send_wire

    async def miss_wire():
        for _ in range(n):
            await disco.query_info(peer, require_fresh=True)

    rows.append(
        (
            "requester: miss round trip, bytes in/out",
            measure(n, run(loop, miss_wire)),
            "as above + request serialised + reply parsed by aioxmpp's XSO parser",
        )
    )

    waiters = 10_000

    async def aliasing():
        released = loop.create_future()

        async def send_later(iq):
            await released
            return reply_payload

        client.send = send_later
        fresh = aioxmpp.disco.DiscoClient(client)
        tasks = [loop.create_task(fresh.query_info(peer)) for _ in range(waiters)]
        await asyncio.sleep(0)
        released.set_result(None)
        await asyncio.gather(*tasks)

    rows.append(
        (
            f"requester: {waiters} aliased waiters, one reply (per waiter)",
            measure(waiters, run(loop, aliasing)),
            "one asyncio task per waiter (how a caller waits on aioxmpp)",
        )
    )

    entries = 10_000
    jids = [aioxmpp.JID.fromstr(f"user{i}@example.org/res") for i in range(entries)]

    def fill(shared):
        def fill_entries(count):
            cache = aioxmpp.disco.DiscoClient(client)
            cache.info_cache_size = count
            for jid in jids[:count]:
                payload = reply_payload if shared else read_iq(reply_template.encode()).payload
                cache.set_info_cache(jid, None, payload)
            return cache

        return fill_entries

    memory = [
        (f"memory: {entries} entries, shared results (bytes per entry)", memory_per_entry(entries, fill(True))),
        (f"memory: {entries} entries, distinct results (bytes per entry)", memory_per_entry(entries, fill(False))),
    ]
    return rows, memory


# --------------------------------------------------------------------------------- slixmpp


def slixmpp_rows(loop):
    import slixmpp
    from slixmpp import Iq

    xmpp = slixmpp.ClientXMPP(ME, "unused")
    for plugin in ("xep_0004", "xep_0030", "xep_0128"):
        xmpp.register_plugin(plugin)
    xmpp.boundjid = slixmpp.JID(ME)
    disco = xmpp.plugin["xep_0030"]
    disco.add_identity("client", "bot", "Bench Bot", lang="en")
    disco.add_identity("client", "bot", "Prüfbot", lang="de")
    for i in range(20):
        disco.add_feature(f"urn:example:feature:{i}")
    form = xmpp.plugin["xep_0004"].make_form(ftype="result")
    form.add_field(var="FORM_TYPE", ftype="hidden", value="urn:example:bench")
    for var in "abc":
        form.add_field(var=var, value="value")
    xmpp.plugin["xep_0128"].set_extended_info(data=form)

    sent = []
    # The one replaced piece: XMLStream.send, which would write to the socket.
    xmpp.send = lambda stanza, *args, **kwargs: sent.append(stanza)

    request_xml = ET.fromstring(REQUEST)
    request_bytes = REQUEST.encode()
    rows = []
    n = 200

    async def object_level():
        for _ in range(n):
            # The handler turns the request into the reply in place: a fresh copy per request.
            await disco._handle_disco_info(Iq(xmpp, copy.deepcopy(request_xml)))
            sent.pop()

    rows.append(
        (
            "responder: info get Iq -> reply Iq",
            measure(n, run(loop, object_level)),
            "disco handler on a copied request stanza; no stanza router, no serialiser",
        )
    )

    async def wire_level():
        for _ in range(n):
            await disco._handle_disco_info(Iq(xmpp, ET.fromstring(request_bytes)))
            str(sent.pop()).encode()

    rows.append(
        (
            "responder: info get bytes -> reply bytes",
            measure(n, run(loop, wire_level)),
            "ElementTree parse + disco handler + slixmpp serialiser; no stanza router",
        )
    )

    peer = slixmpp.JID(REQUESTER)
    reply_template = bench_reply("ID", REQUESTER)
    disco.api["cache_info"](peer, None, None, Iq(xmpp, ET.fromstring(reply_template)))
    hits = 20_000

    async def cache_hits():
        for _ in range(hits):
            await disco.get_info(peer, cached=True)

    rows.append(
        (
            "requester: cache hit (get_info cached=True)",
            measure(hits, run(loop, cache_hits)),
            "await get_info(cached=True) on a cached key",
        )
    )

    reply_xml = ET.fromstring(reply_template)

    async def round_trip(wire):
        query = loop.create_task(disco.get_info(peer))
        while not sent:
            await asyncio.sleep(0)
        request = sent.pop()
        if wire:
            str(request).encode()
            reply = ET.fromstring(reply_template.replace("'ID'", f"'{request['id']}'", 1))
        else:
            reply = copy.deepcopy(reply_xml)
            reply.set("id", request["id"])
        xmpp._spawn_event(reply)  # slixmpp's entry for a received stanza
        await query

    async def miss_object():
        for _ in range(n):
            await round_trip(False)

    rows.append(
        (
            "requester: miss round trip, object in/out",
            measure(n, run(loop, miss_object)),
            "get_info + Iq.send + stanza router (_spawn_event) on a copied reply element",
        )
    )

    async def miss_wire():
        for _ in range(n):
            await round_trip(True)

    rows.append(
        (
            "requester: miss round trip, bytes in/out",
            measure(n, run(loop, miss_wire)),
            "as above + request serialised + reply parsed by ElementTree",
        )
    )

    waiters = 2_000

    async def no_aliasing():
        queries = [loop.create_task(disco.get_info(peer)) for _ in range(waiters)]
        while len(sent) < waiters:
            await asyncio.sleep(0)
        for request in sent:
            reply = copy.deepcopy(reply_xml)
            reply.set("id", request["id"])
            xmpp._spawn_event(reply)
        sent.clear()
        await asyncio.gather(*queries)

    rows.append(
        (
            f"requester: {waiters} concurrent identical queries (per waiter)",
            measure(waiters, run(loop, no_aliasing)),
            "slixmpp does not alias: one IQ and one reply per waiter",
        )
    )

    entries = 10_000
    jids = [slixmpp.JID(f"user{i}@example.org/res") for i in range(entries)]
    shared = Iq(xmpp, ET.fromstring(reply_template))["disco_info"]

    def fill(share):
        def fill_entries(count):
            for jid in jids[:count]:
                info = shared if share else Iq(xmpp, ET.fromstring(reply_template))["disco_info"]
                disco.api["cache_info"](jid, None, None, info)
            return None

        return fill_entries

    memory = [
        (f"memory: {entries} entries, shared results (bytes per entry)", memory_per_entry(entries, fill(True))),
    ]
    # Drop the shared entries before measuring distinct ones: the static store is per client.
    xmpp2 = slixmpp.ClientXMPP(ME, "unused")
    xmpp2.register_plugin("xep_0030")
    disco = xmpp2.plugin["xep_0030"]
    memory.append(
        (f"memory: {entries} entries, distinct results (bytes per entry)", memory_per_entry(entries, fill(False)))
    )
    return rows, memory


def main():
    import importlib.metadata as metadata
    import logging

    logging.disable(logging.WARNING)  # slixmpp logs a warning per stanza built from a template

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    print(f"python {sys.version.split()[0]}, aioxmpp {metadata.version('aioxmpp')}, "
          f"slixmpp {metadata.version('slixmpp')}")
    for name, rows_of in (("aioxmpp", aioxmpp_rows), ("slixmpp", slixmpp_rows)):
        rows, memory = rows_of(loop)
        print_table(f"{name} {metadata.version(name)}", rows)
        for label, per_entry in memory:
            print(f"{label:<58} {per_entry:>11.0f}")


if __name__ == "__main__":
    main()
