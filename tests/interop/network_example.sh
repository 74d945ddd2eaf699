#!/usr/bin/env bash
# Scripted checks of the `network` example, as a user runs it, against the Prosody that
# prosody.sh started in DIR on PORT: a host given by name, every login failure said in words,
# a server restart it survives, a server loss it reports with status 1 within its bound.
# It stops and restarts that server, so run.sh runs it last; the server is stopped at the end.
#
#   network_example.sh DIR PORT EXAMPLE_BINARY
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $# -eq 3 ]] || { echo "usage: $0 DIR PORT EXAMPLE_BINARY" >&2; exit 2; }
dir=$1
port=$2
example=$3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

fail() {
    echo "FAILED: $1" >&2
    for log in "$out"/*; do
        [[ -f $log ]] && { echo "--- $log" >&2; cat "$log" >&2; }
    done
    exit 1
}

# Runs the example with ARGS; expects exit status STATUS and TEXT in its output.
expect() {
    local name=$1 status=$2 text=$3
    shift 3
    local got=0
    timeout 60 "$example" "$@" >"$out/$name" 2>&1 || got=$?
    [[ $got -eq $status ]] || fail "$name: exit status $got, expected $status"
    grep -qF -- "$text" "$out/$name" || fail "$name: no \"$text\" in the output"
    echo "ok: $name"
}

# Waits up to SECONDS for TEXT in the log NAME of a running example.
wait_for() {
    local name=$1 text=$2 seconds=$3
    for _ in $(seq 1 $((seconds * 10))); do
        grep -qF -- "$text" "$out/$name" && return 0
        sleep 0.1
    done
    fail "$name: no \"$text\" within $seconds s"
}

server="localhost:$port"

expect by-name 0 "online as alice@localhost/" alice@localhost secret --server "$server" --plaintext
grep -q "─ conference.localhost  conference/text \"Chatrooms\"" "$out/by-name" || fail "by-name: the walk did not list the MUC"
expect wrong-password 1 "the server refused the credentials of alice@localhost (not-authorized)" \
    alice@localhost wrong --server "$server" --plaintext
expect wrong-domain 1 "does not serve the domain nowhere.example" \
    alice@nowhere.example secret --server "$server" --plaintext
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
expect refused 1 "nothing accepts connections at 127.0.0.1:$closed (connection refused)" \
    alice@localhost secret --server "127.0.0.1:$closed" --plaintext
expect no-such-host 1 "cannot find xmpp.nonexistent.invalid in DNS" \
    alice@localhost secret --server "xmpp.nonexistent.invalid:5222" --plaintext

# A server that restarts under a serving client: a new stream, presence sent again.
timeout 60 "$example" alice@localhost secret --server "$server" --plaintext \
    --serve 12 --timeout 20 >"$out/restart" 2>&1 &
client=$!
wait_for restart "answering disco queries" 20
tests/interop/prosody.sh stop "$dir"
wait_for restart "the connection was lost" 10
tests/interop/prosody.sh start "$dir" "$port" >/dev/null
wait_for restart "online again as alice@localhost/" 20
status=0
wait "$client" || status=$?
[[ $status -eq 0 ]] || fail "restart: exit status $status after the server came back"
echo "ok: restart"

# A server that does not come back: status 1 within the bound (3 s), in words.
timeout 60 "$example" alice@localhost secret --server "$server" --plaintext \
    --serve 60 --timeout 3 >"$out/lost" 2>&1 &
client=$!
wait_for lost "answering disco queries" 20
lost_at=$SECONDS
tests/interop/prosody.sh stop "$dir"
status=0
wait "$client" || status=$?
took=$((SECONDS - lost_at))
[[ $status -eq 1 ]] || fail "lost: exit status $status, expected 1"
[[ $took -le 8 ]] || fail "lost: it took $took s to give up, the bound is 3 s"
grep -qF "the connection to the server was lost and did not come back within 3s" "$out/lost" ||
    fail "lost: no words for the loss"
echo "ok: lost (gave up about $took s after the server was told to stop)"
