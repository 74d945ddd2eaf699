"""Entity capabilities hashes as two independent implementations compute them, for the
differential test (`tests/caps_differential.rs`).

    python peers.py < infos > hashes

Each input line is one disco#info <query/>, its UTF-8 hex-encoded. Each output line is
slixmpp 1.17's XEP-0115 verification string (`xep_0115.generate_verstring`, SHA-1) and
aioxmpp 0.13's XEP-0390 SHA-256 hash (`entitycaps.caps390._get_hash_input`), both Base64,
separated by a tab; `-` where the library refused or failed.
"""

import base64
import hashlib
import io
import sys
import warnings

warnings.simplefilter("ignore")

import aioxmpp.disco.xso  # noqa: E402
import aioxmpp.forms.xso  # noqa: E402,F401  (registers forms inside disco#info)
import aioxmpp.xml  # noqa: E402
import slixmpp  # noqa: E402
from aioxmpp.entitycaps import caps390  # noqa: E402
from slixmpp.plugins.xep_0030.stanza import DiscoInfo  # noqa: E402
from slixmpp.xmlstream import ET  # noqa: E402

xmpp = slixmpp.ClientXMPP("differential@example.org", "unused")
for plugin in ("xep_0030", "xep_0004", "xep_0128", "xep_0115"):
    xmpp.register_plugin(plugin)


def slixmpp_ver(xml):
    info = DiscoInfo(xml=ET.fromstring(xml))
    return xmpp.plugin["xep_0115"].generate_verstring(info, "sha-1")


def aioxmpp_sha256(xml):
    query = aioxmpp.xml.read_single_xso(
        io.BytesIO(xml.encode("utf-8")), aioxmpp.disco.xso.InfoQuery
    )
    digest = hashlib.sha256(caps390._get_hash_input(query)).digest()
    return base64.b64encode(digest).decode("ascii")


def guarded(compute, xml):
    try:
        return compute(xml) or "-"
    except Exception:  # a refusal: the differential compares only what both compute
        return "-"


for line in sys.stdin:
    xml = bytes.fromhex(line.strip()).decode("utf-8")
    print(guarded(slixmpp_ver, xml), guarded(aioxmpp_sha256, xml), sep="\t", flush=False)
