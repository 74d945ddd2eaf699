#!/usr/bin/env bash
# A throwaway Prosody on loopback for the interop tests.
#
#   prosody.sh start DIR PORT [COMPONENT_PORT [HTTP_PORT]]
#                               write a config under DIR, create the accounts, start the server
#                               and wait until it answers a stream header
#   prosody.sh restart DIR      stop the server started in DIR and start it again with the
#                               same arguments
#   prosody.sh stop DIR         stop the server started in DIR, by the pid it wrote there
#
# The server serves the host `localhost` with a MUC component `conference.localhost` (a disco
# item) and contact addresses (an XEP-0128 serverinfo form), plaintext c2s on 127.0.0.1:PORT and
# nothing else: no s2s, no TLS, no registration by clients. Accounts: alice, bob, slix and slix2, each
# with the password `secret`. With COMPONENT_PORT, it also accepts the external component
# `rooms.localhost` (XEP-0114, secret `secret`) on 127.0.0.1:COMPONENT_PORT, listed in the
# server's disco items while it is connected. With HTTP_PORT, it also serves HTTP on
# 127.0.0.1:HTTP_PORT for an HTTP upload service `upload.localhost` (XEP-0363).
set -euo pipefail

usage() {
    echo "usage: $0 start DIR PORT [COMPONENT_PORT [HTTP_PORT]] | restart DIR | stop DIR" >&2
    exit 2
}

# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

start() {
    local dir port component_port http_port component_config="" http_config="" http_ports=""
    dir=$(realpath -m "$1")
    port=$2
    component_port=${3:-}
    http_port=${4:-}
    command -v prosody >/dev/null || { echo "prosody is not installed (apt-get install prosody)" >&2; exit 1; }
    port_is_free "$port" || { echo "port $port on 127.0.0.1 is busy" >&2; exit 1; }
    if [[ -n $component_port ]]; then
        port_is_free "$component_port" || { echo "port $component_port on 127.0.0.1 is busy" >&2; exit 1; }
        component_config="
Component \"rooms.localhost\"
    component_secret = \"secret\""
    fi
    if [[ -n $http_port ]]; then
        port_is_free "$http_port" || { echo "port $http_port on 127.0.0.1 is busy" >&2; exit 1; }
        http_ports=$http_port
        http_config="
Component \"upload.localhost\" \"http_file_share\"
    http_external_url = \"http://127.0.0.1:$http_port/\""
    fi
    mkdir -p "$dir/data" "$dir/certs"
    echo "$port $component_port $http_port" >"$dir/arguments"
    cat >"$dir/prosody.cfg.lua" <<CONFIG
-- Written by tests/interop/prosody.sh for one test run.
run_as_root = true
pidfile = "$dir/prosody.pid"
data_path = "$dir/data"
certificates = "$dir/certs"
log = { debug = "$dir/prosody.log" }

interfaces = { "127.0.0.1" }
c2s_ports = { $port }
c2s_direct_tls_ports = {}
s2s_ports = {}
component_ports = { ${component_port} }
component_interfaces = { "127.0.0.1" }
http_ports = { ${http_ports} }
http_interfaces = { "127.0.0.1" }
https_ports = {}

modules_enabled = {
    "roster"; "saslauth"; "disco"; "ping"; "version"; "uptime"; "time";
    "server_contact_info"; "posix";
}
modules_disabled = { "s2s"; "tls"; "offline"; "c2s_bidi" }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = false
authentication = "internal_hashed"
storage = "internal"

contact_info = {
    admin = { "xmpp:admin@localhost", "mailto:admin@localhost" };
    abuse = { "mailto:abuse@localhost" };
}

VirtualHost "localhost"
Component "conference.localhost" "muc"
    name = "Chatrooms"
${component_config}
${http_config}
CONFIG
    for user in alice bob slix slix2; do
        prosodyctl --config "$dir/prosody.cfg.lua" register "$user" localhost secret >/dev/null
    done
    prosody -F --config "$dir/prosody.cfg.lua" >"$dir/stdout.log" 2>&1 &
    local pid=$!
    echo "$pid" >"$dir/server.pid"
    if ! wait_ready prosody "$port" 10 "$pid"; then
        tail -n 20 "$dir/prosody.log" "$dir/stdout.log" >&2 || true
        stop "$dir"
        exit 1
    fi
    echo "prosody $pid ready on 127.0.0.1:$port"
}

stop() {
    local dir
    dir=$(realpath -m "$1")
    stop_by_pid_file "$dir/server.pid" 5
}

case "${1:-}" in
    start) [[ $# -ge 3 && $# -le 5 ]] || usage; start "$2" "$3" "${4:-}" "${5:-}" ;;
    restart)
        [[ $# -eq 2 ]] || usage
        read -r -a arguments <"$(realpath -m "$2")/arguments"
        stop "$2"
        start "$2" "${arguments[@]}"
        ;;
    stop) [[ $# -eq 2 ]] || usage; stop "$2" ;;
    *) usage ;;
esac
