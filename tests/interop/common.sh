# Shared by prosody.sh and ejabberd.sh (sourced, not run).

port_is_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_ready NAME PORT SECONDS [PID]: the server is ready when a stream header sent to PORT
# gets <stream:features> back; fails after SECONDS, or at once if PID (when given) exits.
wait_ready() {
    local name=$1 port=$2 seconds=$3 pid=${4:-}
    for _ in $(seq 1 $((seconds * 10))); do
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            echo "$name exited during startup" >&2
            return 1
        fi
        local answer
        answer=$(
            { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || exit 0
            printf "<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" >&3
            timeout 1 cat <&3 2>/dev/null || true
        )
        if [[ $answer == *"stream:features"* ]]; then
            return 0
        fi
        sleep 0.1
    done
    echo "$name did not answer a stream header on port $port within $seconds s" >&2
    return 1
}

# stop_by_pid_file FILE SECONDS: stops the process whose pid FILE holds (TERM, then KILL after
# SECONDS) and removes FILE; nothing to do without FILE.
stop_by_pid_file() {
    local file=$1 seconds=$2 pid
    [[ -f $file ]] || return 0
    pid=$(cat "$file")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 1 $((seconds * 10))); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
}
