#!/usr/bin/env bash
# The component example's words for each way it cannot get online, against the Prosody that
# run.sh starts: each failure names the address and says what happened, within --timeout.
#
#   component_errors.sh BINARY CLIENT_PORT COMPONENT_PORT HTTP_PORT
set -euo pipefail
[[ $# -eq 4 ]] || { echo "usage: $0 BINARY CLIENT_PORT COMPONENT_PORT HTTP_PORT" >&2; exit 2; }
binary=$1 client_port=$2 component_port=$3 http_port=$4

fail() {
    echo "component errors: $*" >&2
    exit 1
}

# expect NAME SECONDS TEXT ARGUMENTS...: the example exits with status 1 within SECONDS and
# says TEXT.
expect() {
    local name=$1 seconds=$2 text=$3 started=$SECONDS status=0 said
    shift 3
    said=$(timeout 30 "$binary" "$@" --serve 5 2>&1) || status=$?
    [[ $status -eq 1 ]] || fail "$name: exit status $status, expected 1: $said"
    grep -qF -- "$text" <<<"$said" || fail "$name: said \"$said\", expected \"$text\""
    [[ $((SECONDS - started)) -le $seconds ]] || fail "$name: took $((SECONDS - started)) s"
    echo "ok: $name: $said"
}

expect wrong-secret 5 "the server at 127.0.0.1:$component_port refused the secret of rooms.localhost (not-authorized)" \
    rooms.localhost wrong --server "127.0.0.1:$component_port"
expect unknown-name 5 "the server at 127.0.0.1:$component_port does not know the component elsewhere.localhost (host-unknown)" \
    elsewhere.localhost secret --server "127.0.0.1:$component_port"
expect client-port 5 "127.0.0.1:$client_port refused a component stream (host-unknown): is it the server's client port" \
    rooms.localhost secret --server "127.0.0.1:$client_port"
expect http-port 6 "127.0.0.1:$http_port accepted the connection but opened no XMPP stream within 2s" \
    rooms.localhost secret --server "127.0.0.1:$http_port" --timeout 2
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
expect refused 5 "nothing accepts connections at 127.0.0.1:$closed (connection refused)" \
    rooms.localhost secret --server "127.0.0.1:$closed"
expect no-such-host 10 "cannot find xmpp.nonexistent.invalid in DNS" \
    rooms.localhost secret --server "xmpp.nonexistent.invalid:5347"
