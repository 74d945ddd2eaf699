#!/usr/bin/env bash
# Runs the interop suite for real: installs and starts a Prosody and an ejabberd on loopback,
# installs slixmpp and aioxmpp into a virtual environment, checks the component example's
# words for what keeps it offline (`component_errors.sh`), starts it (`examples/component.rs`)
# on Prosody's component port, runs
# `cargo test --features tokio-xmpp --test interop -- --ignored`, the entity capabilities
# differential against slixmpp and aioxmpp (`tests/caps_differential.rs`), slixmpp's check of
# the component (`slixmpp_component.py`) and the scripted checks of the network example
# (`network_example.sh`, which stops and restarts Prosody), then the disruptions (an ejabberd
# restarted and a Prosody hung with SIGSTOP under connected clients, and a soak of
# XMPP_DISCO_SOAK_SECONDS, 60 by default: cuts, freezes and restarts while queries flow), and
# stops the component and both servers on every exit, failed or not.
#
#   tests/interop/run.sh [extra arguments for the test binary]
#
# With XMPP_DISCO_SOAK_ONLY=1 (what tests/interop/soak.sh sets), only the servers and the soak.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
command -v prosody >/dev/null || missing+=(prosody)
command -v ejabberdctl >/dev/null || missing+=(ejabberd)
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "== installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

venv=target/interop-venv
if ! "$venv/bin/python" -c "import slixmpp, aioxmpp" 2>/dev/null; then
    echo "== installing slixmpp 1.17.0 and aioxmpp 0.13.3 into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q slixmpp==1.17.0 aioxmpp==0.13.3 pytz
fi

# Free ports on loopback (a busy one is only logged by Prosody, not fatal): Prosody's client,
# component and HTTP (upload) ports, ejabberd's client and HTTP (upload) ports.
ports=()
for candidate in $(seq 15222 15299); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
        ports+=("$candidate")
        [[ ${#ports[@]} -eq 5 ]] && break
    fi
done
[[ ${#ports[@]} -eq 5 ]] || { echo "no five free ports in 15222-15299" >&2; exit 1; }
port=${ports[0]}
component_port=${ports[1]}
http_port=${ports[2]}
ejabberd_port=${ports[3]}
ejabberd_http_port=${ports[4]}

# The component is a build of its own: tokio-xmpp's component feature changes xmpp-parsers'
# stanza namespace for everything built with it (see Cargo.toml).
echo "== building the component example"
cargo build --features component --example component
component_binary="${CARGO_TARGET_DIR:-target}/debug/examples/component"
echo "== building the network example"
cargo build --features tokio-xmpp --example network
network_binary="${CARGO_TARGET_DIR:-target}/debug/examples/network"

work=$(mktemp -d)
chmod 755 "$work" # ejabberd runs as its own user and needs to reach its directory
component_pid=""
cleanup() {
    if [[ -n $component_pid ]]; then
        kill "$component_pid" 2>/dev/null || true
        wait "$component_pid" 2>/dev/null || true
    fi
    tests/interop/prosody.sh stop "$work/prosody"
    tests/interop/ejabberd.sh stop "$work/ejabberd"
    rm -rf "$work"
}
trap cleanup EXIT
echo "== starting prosody on 127.0.0.1:$port (components on $component_port)"
tests/interop/prosody.sh start "$work/prosody" "$port" "$component_port" "$http_port"
echo "== starting ejabberd on 127.0.0.1:$ejabberd_port"
tests/interop/ejabberd.sh start "$work/ejabberd" "$ejabberd_port" "$ejabberd_http_port"

soak_seconds=${XMPP_DISCO_SOAK_SECONDS:-60}
disruptions() {
    local filter=$1
    echo "== disruptions ($filter): restarts, a hung server, a soak of $soak_seconds s"
    XMPP_DISCO_SERVER="127.0.0.1:$port" XMPP_DISCO_EJABBERD="127.0.0.1:$ejabberd_port" \
        XMPP_DISCO_EJABBERD_RESTART="tests/interop/ejabberd.sh restart $work/ejabberd" \
        XMPP_DISCO_PROSODY_RESTART="tests/interop/prosody.sh restart $work/prosody" \
        XMPP_DISCO_PROSODY_PID_FILE="$work/prosody/server.pid" \
        XMPP_DISCO_SOAK_SECONDS="$soak_seconds" \
        timeout $((soak_seconds + 900)) cargo test --features tokio-xmpp --test interop -- \
        --ignored --test-threads=1 --nocapture "$filter"
}
if [[ -n ${XMPP_DISCO_SOAK_ONLY:-} ]]; then
    disruptions disrupt_soak
    exit 0
fi

echo "== the component example's words for what keeps it offline"
tests/interop/component_errors.sh "$component_binary" "$port" "$component_port" "$http_port"

echo "== starting the component example as rooms.localhost"
"$component_binary" rooms.localhost secret --server "127.0.0.1:$component_port" --serve 1800 \
    >"$work/component.log" 2>&1 &
component_pid=$!
for _ in $(seq 1 100); do
    grep -q "^online" "$work/component.log" && break
    kill -0 "$component_pid" 2>/dev/null || break
    sleep 0.1
done
if ! grep -q "^online" "$work/component.log"; then
    echo "the component example did not come online:" >&2
    cat "$work/component.log" >&2
    exit 1
fi
cat "$work/component.log"

echo "== interop tests"
XMPP_DISCO_SERVER="127.0.0.1:$port" XMPP_DISCO_PYTHON="$PWD/$venv/bin/python" \
    XMPP_DISCO_COMPONENT=rooms.localhost XMPP_DISCO_EJABBERD="127.0.0.1:$ejabberd_port" \
    timeout 900 cargo test --features tokio-xmpp --test interop -- --ignored --skip disrupt_ "$@"

echo "== entity capabilities hashes against slixmpp's and aioxmpp's"
XMPP_DISCO_PYTHON="$PWD/$venv/bin/python" \
    timeout 300 cargo test --test caps_differential -- --ignored --nocapture

echo "== slixmpp discovers the component and its rooms"
timeout 120 "$venv/bin/python" tests/interop/slixmpp_component.py 127.0.0.1 "$port" 10000 100

echo "== the network example as a user runs it (stops and restarts Prosody)"
tests/interop/network_example.sh "$work/prosody" "$port" "$network_binary"

# network_example.sh leaves Prosody stopped (its last check is a server that does not come back).
echo "== prosody again, for the disruptions"
tests/interop/prosody.sh restart "$work/prosody"
disruptions disrupt_
