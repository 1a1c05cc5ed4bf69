#!/usr/bin/env bash
# The server benchmark: redis-benchmark against examples/kvserver (2 worker threads, cask
# vendored, built with -O2 -DNDEBUG) and against Debian's redis-server, each on its own
# loopback port of this machine, with the same parameters:
#   redis-benchmark -t set,get -n 200000 -c 50 -P 16     (pipelined)
#   redis-benchmark -t set,get -n 200000 -c 50           (one request at a time per client)
# Prints requests per second for both servers and the ratio kvserver / redis-server.
#
#   bench/server_bench.sh [--quick] [--json FILE]
#
# --quick: 20000 requests per run (a check that it works; figures are not meaningful).
# --json: writes the rows as a JSON array, in the format of the other benchmarks
#   ({"bench", "impl", "threads", "ops_per_sec", "ns_per_op"}).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
requests=200000
json=""
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) requests=20000 ;;
    --json) json="${2:?--json needs a file}"; shift ;;
    --json=*) json="${1#--json=}" ;;
    *) echo "usage: $0 [--quick] [--json FILE]" >&2; exit 2 ;;
    esac
    shift
done
for tool in redis-benchmark redis-server redis-cli; do
    command -v "$tool" >/dev/null || { echo "server_bench: $tool is missing (./cask setup)" >&2; exit 1; }
done
work="$(mktemp -d)"
kv_pid="" redis_pid=""
cleanup() {
    [ -n "$kv_pid" ] && kill -TERM "$kv_pid" 2>/dev/null
    [ -n "$redis_pid" ] && kill -TERM "$redis_pid" 2>/dev/null
    [ -n "$kv_pid" ] && wait "$kv_pid" 2>/dev/null
    [ -n "$redis_pid" ] && wait "$redis_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

"$root/examples/kvserver/build.sh" --release --out "$work/build" >/dev/null || exit 1
"$work/build/kvserver" --port 0 --workers 2 >"$work/kv.out" 2>"$work/kv.err" &
kv_pid=$!
kv_port=""
for _ in $(seq 1 100); do
    kv_port="$(sed -n 's/^kvserver: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/kv.out")"
    [ -n "$kv_port" ] && break
    sleep 0.1
done
[ -n "$kv_port" ] || { echo "server_bench: kvserver did not start" >&2; cat "$work/kv.err" >&2; exit 1; }

# redis-server on a free port: try a few random ones (a port in use makes it exit at once).
redis_port=""
for _ in 1 2 3 4 5; do
    p=$((20000 + RANDOM % 30000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue # taken
    redis-server --port "$p" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
        --dir "$work" --logfile "$work/redis.log" &
    redis_pid=$!
    for _ in $(seq 1 50); do
        [ "$(timeout 2 redis-cli -p "$p" PING 2>/dev/null)" = PONG ] && redis_port="$p" && break
        kill -0 "$redis_pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$redis_port" ] && break
    kill -TERM "$redis_pid" 2>/dev/null
    wait "$redis_pid" 2>/dev/null
    redis_pid=""
done
[ -n "$redis_port" ] || { echo "server_bench: redis-server did not start" >&2; exit 1; }

# CPU time (user + system, in clock ticks) a process has used so far.
cpu_ticks() {
    awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}
ticks_per_s="$(getconf CLK_TCK)"

# run PORT PIPELINE SERVER_PID: prints "SET rps" and "GET rps" lines, then
# "CPU client% server%": the share of one core that redis-benchmark and the server used over
# the run (so whoever is at about 100% of what it can use is the bottleneck).
run() {
    local pipe=()
    [ "$2" -gt 1 ] && pipe=(-P "$2")
    local before after
    before="$(cpu_ticks "$3")"
    timeout 600 /usr/bin/time -f '%e %U %S' -o "$work/time" \
        redis-benchmark -p "$1" -q -t set,get -n "$requests" -c 50 "${pipe[@]}" 2>/dev/null |
        tr '\r' '\n' | sed -n 's/^ *\(SET\|GET\): \([0-9.]*\) requests per second.*/\1 \2/p'
    after="$(cpu_ticks "$3")"
    awk -v b="$before" -v a="$after" -v hz="$ticks_per_s" '
        NF == 3 && $1 > 0 {printf "CPU %.0f %.0f\n", ($2 + $3) / $1 * 100, (a - b) / hz / $1 * 100}
    ' "$work/time"
}

rows=()
cpu_lines=()
printf '%-8s %-9s %16s %16s %8s\n' test pipeline "kvserver rps" "redis rps" ratio
for pipeline in 16 1; do
    kv="$(run "$kv_port" $pipeline "$kv_pid")"
    rd="$(run "$redis_port" $pipeline "$redis_pid")"
    for t in SET GET; do
        a="$(echo "$kv" | awk -v t=$t '$1 == t {print $2}')"
        b="$(echo "$rd" | awk -v t=$t '$1 == t {print $2}')"
        if [ -z "$a" ] || [ -z "$b" ]; then
            echo "server_bench: no $t figure (kvserver '$a', redis-server '$b')" >&2
            exit 1
        fi
        ratio="$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}')"
        printf '%-8s %-9s %16.0f %16.0f %7sx\n' "$t" "$pipeline" "$a" "$b" "$ratio"
        name="server_${t,,}_P$pipeline"
        rows+=("$(printf '{"bench": "%s", "impl": "kvserver", "threads": 2, "ops_per_sec": %.1f, "ns_per_op": %.4f}' "$name" "$a" "$(awk -v a="$a" 'BEGIN {print 1e9 / a}')")")
        rows+=("$(printf '{"bench": "%s", "impl": "redis-server", "threads": 1, "ops_per_sec": %.1f, "ns_per_op": %.4f}' "$name" "$b" "$(awk -v b="$b" 'BEGIN {print 1e9 / b}')")")
    done
    for who in kvserver redis-server; do
        [ "$who" = kvserver ] && out="$kv" || out="$rd"
        cpu_lines+=("$(echo "$out" | awk -v w="$who" -v p="$pipeline" \
            '$1 == "CPU" {printf "%-13s %-9s %13s%% %13s%%", w, p, $2, $3}')")
    done
done
echo
echo "CPU during each run (100% = one core busy the whole run; $(nproc) cores here):"
printf '%-13s %-9s %14s %14s\n' server pipeline "client CPU" "server CPU"
printf '%s\n' "${cpu_lines[@]}"
echo "(a client near 100% is the bottleneck: both servers then wait for it, and the ratio says"
echo " more about redis-benchmark's core than about the servers)"
echo "(redis-benchmark -t set,get -n $requests -c 50 [-P 16]; kvserver: 2 workers; ratio > 1: kvserver faster; goal 1.5)"
if [ -n "$json" ]; then
    {
        echo "["
        for i in "${!rows[@]}"; do
            sep=","
            [ "$i" -eq $((${#rows[@]} - 1)) ] && sep=""
            echo "  ${rows[$i]}$sep"
        done
        echo "]"
    } >"$json"
fi
exit 0
