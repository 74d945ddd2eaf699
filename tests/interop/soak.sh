#!/usr/bin/env bash
# The soak run alone, as long as asked: a Prosody and an ejabberd on loopback (started, and
# stopped on every exit, by run.sh), two sessions through relays that are cut and frozen at
# random, and both servers restarted, while queries flow. At the end every query has completed
# exactly once, every connection kept to the reconnection schedule and the process's memory
# did not grow. CI runs it for 60 s inside run.sh.
#
#   tests/interop/soak.sh [SECONDS]     (default 300; XMPP_DISCO_SOAK_SEED repeats a run)
set -euo pipefail
cd "$(dirname "$0")/../.."
XMPP_DISCO_SOAK_SECONDS=${1:-300} XMPP_DISCO_SOAK_ONLY=1 exec tests/interop/run.sh
