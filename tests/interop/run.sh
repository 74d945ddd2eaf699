#!/usr/bin/env bash
# Runs the interop suite for real: installs and starts a Prosody on loopback, installs slixmpp
# into a virtual environment, runs `cargo test --features tokio-xmpp --test interop -- --ignored` against both, and
# stops the server on every exit, failed or not.
#
#   tests/interop/run.sh [extra arguments for the test binary]
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v prosody >/dev/null; then
    echo "== installing prosody"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prosody >/dev/null
fi

venv=target/interop-venv
if ! "$venv/bin/python" -c "import slixmpp" 2>/dev/null; then
    echo "== installing slixmpp 1.17.0 into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q slixmpp==1.17.0
fi

# A free port on loopback: a busy one is only logged by Prosody, not fatal.
port=""
for candidate in $(seq 15222 15299); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
        port=$candidate
        break
    fi
done
[[ -n $port ]] || { echo "no free port in 15222-15299" >&2; exit 1; }

work=$(mktemp -d)
cleanup() {
    tests/interop/prosody.sh stop "$work"
    rm -rf "$work"
}
trap cleanup EXIT
echo "== starting prosody on 127.0.0.1:$port"
tests/interop/prosody.sh start "$work" "$port"

echo "== interop tests"
XMPP_DISCO_SERVER="127.0.0.1:$port" XMPP_DISCO_PYTHON="$PWD/$venv/bin/python" \
    timeout 900 cargo test --features tokio-xmpp --test interop -- --ignored "$@"
