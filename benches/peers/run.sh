#!/usr/bin/env bash
# The peers' side of the benchmark: installs aioxmpp 0.13.3 (+ pytz, which it imports without
# declaring) and slixmpp 1.17.0 into a virtual environment under target/, then runs
# benches/peers/peers.py, which prints the same workloads as `cargo bench`.
#
#   benches/peers/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=target/peers-venv
if ! "$venv/bin/python" -c "import aioxmpp, slixmpp, pytz" 2>/dev/null; then
    echo "== installing aioxmpp 0.13.3, pytz and slixmpp 1.17.0 into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q aioxmpp==0.13.3 pytz slixmpp==1.17.0
fi
# -W ignore: aioxmpp 0.13 and slixmpp warn about deprecations on every import.
exec "$venv/bin/python" -W ignore benches/peers/peers.py
