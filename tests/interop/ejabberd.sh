#!/usr/bin/env bash
# A throwaway ejabberd on loopback for the interop tests: the server that resumes streams
# (XEP-0198), beside the Prosody of prosody.sh, which does not.
#
#   ejabberd.sh start DIR PORT [HTTP_PORT]
#                               write a config under DIR, start the server as the `ejabberd`
#                               user, create the accounts and wait until it answers a stream
#                               header
#   ejabberd.sh restart DIR     stop the server started in DIR, by its pid, and start it
#                               again as it was (its accounts and rooms kept): what a server
#                               upgrade does to connected clients
#   ejabberd.sh stop DIR        stop the server started in DIR, by the pid it wrote there
#                               (and the Erlang port mapper, by its pid, if this start
#                               started it)
#
# The server serves the host `localhost` with a MUC service `conference.localhost` (which
# lists every room and pages them with RSM), stream management with resumption, plaintext c2s
# on 127.0.0.1:PORT and, with HTTP_PORT, an HTTP upload service `upload.localhost` (XEP-0363)
# served on 127.0.0.1:HTTP_PORT; nothing else. Accounts: alice and bob, each with the password `secret`. The Erlang node is named after DIR's
# basename, so that two runs on one machine do not meet.
set -euo pipefail

usage() {
    echo "usage: $0 start DIR PORT [HTTP_PORT] | restart DIR | stop DIR" >&2
    exit 2
}

# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

ctl() {
    local dir=$1
    shift
    ejabberdctl --config-dir "$dir" --spool "$dir/db" --logs "$dir/logs" \
        --node "$(cat "$dir/node")" "$@"
}

start() {
    local dir port http_port http_listener="" http_module=""
    dir=$(realpath -m "$1")
    port=$2
    http_port=${3:-}
    if [[ -n $http_port ]]; then
        port_is_free "$http_port" || { echo "port $http_port on 127.0.0.1 is busy" >&2; exit 1; }
        http_listener="
  -
    port: $http_port
    ip: \"127.0.0.1\"
    module: ejabberd_http
    request_handlers:
      /upload: mod_http_upload"
        http_module="
  mod_http_upload:
    put_url: \"http://127.0.0.1:$http_port/upload\"
    docroot: \"$dir/upload\""
    fi
    command -v ejabberdctl >/dev/null || { echo "ejabberd is not installed (apt-get install ejabberd)" >&2; exit 1; }
    port_is_free "$port" || { echo "port $port on 127.0.0.1 is busy" >&2; exit 1; }
    mkdir -p "$dir/db" "$dir/logs"
    echo "interop-$(basename "$dir")@localhost" >"$dir/node"
    echo "$port" >"$dir/port"
    # The Erlang port mappers running before the start (a zombie left by an earlier run does
    # not count: it maps no ports): one that appears with this server is this run's to stop.
    local mappers_before
    mappers_before=$({ ps -C epmd -o pid=,stat= || true; } | awk '$2 !~ /^Z/ {print $1}')
    cp /etc/ejabberd/inetrc "$dir/inetrc"
    cat >"$dir/ejabberdctl.cfg" <<CONFIG
EJABBERD_PID_PATH=$dir/ejabberd.pid
EJABBERD_CONFIG_PATH=$dir/ejabberd.yml
EJABBERD_BYPASS_WARNINGS=true
CONFIG
    cat >"$dir/ejabberd.yml" <<CONFIG
# Written by tests/interop/ejabberd.sh for one test run.
hosts:
  - localhost
loglevel: info
certfiles: []
listen:
  -
    port: $port
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: false
    access: all
    shaper: none${http_listener}
access_rules:
  local:
    allow: all
  c2s:
    allow: all
auth_method: internal
modules:
  mod_disco: {}
  mod_ping: {}
  mod_version: {}
  mod_roster: {}
  mod_stream_mgmt:
    resume_timeout: 300
  mod_muc:
    host: conference.localhost
    access: all
    access_create: all
    # Every room in disco#items (the default lists at most 100), paged with RSM on request.
    max_rooms_discoitems: 100000
    # A test client creates more rooms than a page holds (the default allows a user 100).
    max_user_conferences: 1000${http_module}
CONFIG
    # ejabberdctl runs the server as the ejabberd user, which must own its files.
    chown -R ejabberd "$dir"
    ctl "$dir" start
    if [[ -z $mappers_before ]]; then
        # Ours: the one epmd started with this server, by the ejabberd user (by PID, never by
        # name: other users' Erlang nodes on this machine have mappers of their own).
        for _ in $(seq 1 50); do
            local ours
            ours=$({ ps -C epmd -o pid=,user=,stat= || true; } |
                awk '$2 == "ejabberd" && $3 !~ /^Z/ {print $1}')
            if [[ $(wc -w <<<"$ours") -eq 1 ]]; then
                echo "$ours" >"$dir/epmd.pid"
                break
            fi
            sleep 0.1
        done
    fi
    if ! wait_ready ejabberd "$port" 30; then
        tail -n 20 "$dir/logs/ejabberd.log" >&2 || true
        stop "$dir"
        exit 1
    fi
    for user in alice bob; do
        ctl "$dir" register "$user" localhost secret >/dev/null
    done
    echo "ejabberd $(cat "$dir/ejabberd.pid") ready on 127.0.0.1:$port"
}

restart() {
    local dir port
    dir=$(realpath -m "$1")
    port=$(cat "$dir/port")
    # The port mapper stays: it is this run's, and the node registers with it again.
    stop_by_pid_file "$dir/ejabberd.pid" 10
    ctl "$dir" start
    if ! wait_ready ejabberd "$port" 30; then
        tail -n 20 "$dir/logs/ejabberd.log" >&2 || true
        exit 1
    fi
    echo "ejabberd $(cat "$dir/ejabberd.pid") ready again on 127.0.0.1:$port"
}

stop() {
    local dir
    dir=$(realpath -m "$1")
    stop_by_pid_file "$dir/ejabberd.pid" 10
    stop_by_pid_file "$dir/epmd.pid" 5
}

case "${1:-}" in
    start) [[ $# -eq 3 || $# -eq 4 ]] || usage; start "$2" "$3" "${4:-}" ;;
    restart) [[ $# -eq 2 ]] || usage; restart "$2" ;;
    stop) [[ $# -eq 2 ]] || usage; stop "$2" ;;
    *) usage ;;
esac
