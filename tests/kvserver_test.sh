#!/usr/bin/env bash
# kvserver end to end: builds examples/kvserver from a vendored copy of include/ + lib/ with
# plain compiler lines, starts it on a free loopback port and drives it with Debian's
# redis-cli and redis-benchmark: every command and its errors, pipelining, malformed and
# oversized requests, exact INCR counts under concurrent clients, a SIGHUP reload seen through
# CONFIG GET (and a bad file refused), and SIGTERM answering a request in flight, then exit 0.
#
#   tests/kvserver_test.sh [gcc | tsan]
#
# tsan: the server built with -fsanitize=thread; the same checks with fewer benchmark requests;
# any ThreadSanitizer report fails the test. Every client call has a timeout: a hang fails.
set -uo pipefail
mode="${1:-gcc}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
pid=""
failed=0
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
    rm -rf "$work"
}
trap cleanup EXIT

say() { printf 'kvserver_test[%s]: %s\n' "$mode" "$*" >&2; }
fail() {
    say "FAIL: $*"
    failed=1
}

case "$mode" in
gcc)
    CC=gcc "$root/examples/kvserver/build.sh" --out "$work/build" >/dev/null || { say "build failed"; exit 1; }
    requests=20000
    ;;
tsan)
    "$root/examples/kvserver/build.sh" --tsan --out "$work/build" >/dev/null || { say "build failed"; exit 1; }
    requests=2000
    export TSAN_OPTIONS="halt_on_error=1 exitcode=66 history_size=4"
    ;;
*) say "usage: $0 [gcc | tsan]"; exit 2 ;;
esac
bin="$work/build/kvserver"
conf="$work/kv.conf"
printf 'name first\n' >"$conf"

"$bin" --port 0 --workers 2 --config "$conf" >"$work/out" 2>"$work/err" &
pid=$!
port=""
for _ in $(seq 1 300); do
    port="$(sed -n 's/^kvserver: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/out")"
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    say "the server did not start"
    cat "$work/err" >&2
    exit 1
fi

cli() { timeout 20 redis-cli -p "$port" "$@" 2>&1; }
# expect WANT ARGS...: redis-cli ARGS prints exactly WANT (raw output: one line per element).
expect() {
    local want="$1" got
    shift
    got="$(cli "$@")"
    [ "$got" = "$want" ] || fail "redis-cli $*: expected '$want', got '$got'"
}
# raw BYTES: sends BYTES on a new connection and prints what comes back until the server closes
# it or 3 s pass (CR removed).
raw() {
    timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$port"'; printf "%b" "$1" >&3; timeout 3 cat <&3' \
        _ "$1" | tr -d '\r'
}

# ---- every command, with its errors ----
expect PONG PING
expect hello PING hello
expect OK SET k v
expect v GET k
expect "" GET missing
expect "ERR wrong number of arguments for 'set' command" SET k
expect "ERR syntax error" SET k v NX
expect "ERR wrong number of arguments for 'get' command" GET
expect 1 INCR n
expect 2 INCR n
expect OK SET s abc
expect "ERR value is not an integer or out of range" INCR s
expect OK SET big 9223372036854775807
expect "ERR increment or decrement would overflow" INCR big
expect 9223372036854775807 GET big
expect 2 EXISTS k n missing
expect "ERR wrong number of arguments for 'exists' command" EXISTS
expect OK MSET a 1 b 2
expect "ERR wrong number of arguments for 'mset' command" MSET a 1 b
expect "$(printf '1\n2\n')" MGET a b missing
expect 2 DEL a b missing
expect 0 DEL a
expect 4 DBSIZE
expect "$(printf 'name\nfirst')" CONFIG GET name
expect "$(printf 'workers\n2')" CONFIG GET workers
expect "ERR unknown subcommand 'SET'. Try CONFIG GET." CONFIG SET name x
expect "ERR unknown command 'FOO', with args beginning with: 'bar' " FOO bar
expect OK QUIT

# ---- raw protocol: pipelining, errors that keep the connection, broken framing ----
got="$(raw 'PING\r\nFOO\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n')"
want="$(printf '+PONG\n-ERR unknown command %s, with args beginning with: \n-ERR unknown command %s, with args beginning with: %s \n+PONG\n+OK' "'FOO'" "'ECHO'" "'x'")"
[ "$got" = "$want" ] || fail "pipelined requests with unknown commands: got '$got'"
got="$(raw '*1\r\n$x\r\nPING\r\n')"
[ "$got" = "-ERR Protocol error: invalid bulk length" ] || fail "broken bulk length: got '$got'"
got="$(raw '*2\r\n+GET\r\n')"
[ "$got" = "-ERR Protocol error: expected '\$'" ] || fail "broken framing: got '$got'"
got="$(raw '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nabcdef\r\n')"
[ "$got" = "-ERR Protocol error: bulk string not followed by CRLF" ] || fail "bad bulk body: got '$got'"
got="$(raw '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n')"
[ "$got" = "-ERR request larger than max-request-bytes (1048576)" ] ||
    fail "oversized bulk (header only) not refused: got '$got'"
got="$(raw '*99999999\r\n')"
[ "$got" = "-ERR request larger than max-request-bytes (1048576)" ] || fail "huge array: got '$got'"
expect PONG PING # still serving

# ---- load: redis-benchmark, then exact counts ----
if ! timeout 300 redis-benchmark -p "$port" -q -t set,get,incr,mset -n "$requests" -c 20 -P 8 \
    >"$work/bench" 2>&1; then
    fail "redis-benchmark failed"
    cat "$work/bench" >&2
fi
grep -q 'INCR: .*requests per second' "$work/bench" || fail "redis-benchmark printed no INCR figure"
# Without -r every INCR of the benchmark hits the one key "counter:__rand_int__": 20 clients on
# 2 workers, each INCR a get + replace; no update may be lost.
expect "$requests" GET counter:__rand_int__
clients=4 each=250
for i in $(seq 1 $clients); do
    timeout 120 redis-cli -p "$port" -r "$each" INCR shared >/dev/null &
done
wait_clients=0
for j in $(jobs -p); do
    [ "$j" = "$pid" ] && continue
    wait "$j" || wait_clients=1
done
[ $wait_clients -eq 0 ] || fail "a concurrent redis-cli failed"
expect $((clients * each)) GET shared

# ---- SIGHUP: reload while serving ----
printf '# reloaded\nname second\nmax-request-bytes 4096\n' >"$conf"
kill -HUP "$pid"
ok=0
for _ in $(seq 1 100); do
    [ "$(cli CONFIG GET name)" = "$(printf 'name\nsecond')" ] && ok=1 && break
    sleep 0.1
done
[ $ok -eq 1 ] || fail "SIGHUP: CONFIG GET name did not become 'second'"
expect "$(printf 'config-generation\n2')" CONFIG GET config-generation
expect "$(printf 'max-request-bytes\n4096')" CONFIG GET max-request-bytes
got="$(raw '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000\r\n')"
[ "$got" = "-ERR request larger than max-request-bytes (4096)" ] ||
    fail "the reloaded limit is not applied: got '$got'"
printf 'name third\nbogus 1\n' >"$conf"
kill -HUP "$pid"
ok=0
for _ in $(seq 1 100); do
    grep -q 'reload refused' "$work/err" && ok=1 && break
    sleep 0.1
done
[ $ok -eq 1 ] || fail "a bad configuration file was not refused"
expect "$(printf 'name\nsecond')" CONFIG GET name
expect "$(printf 'config-generation\n2')" CONFIG GET config-generation

# ---- SIGTERM: a request in flight is answered, then the server exits 0 ----
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'PING first\r\n' >&3
first=""
read -r -t 10 first <&3 # the connection is being served
printf 'PING second\r\n' >&3
kill -TERM "$pid"
inflight="$(timeout 10 cat <&3 | tr -d '\r')"
exec 3<&-
[ "$first" = $'$5\r' ] && [ "$inflight" = "$(printf 'first\n$6\nsecond')" ] ||
    fail "SIGTERM: the request in flight got '$inflight' (expected its reply, then close)"
for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
    fail "SIGTERM: the server did not exit within 30 s"
else
    wait "$pid"
    status=$?
    pid=""
    [ "$status" -eq 0 ] || fail "SIGTERM: exit status $status (66: ThreadSanitizer report)"
fi
grep -q 'stopped by SIGTERM' "$work/err" || fail "SIGTERM: no clean stop message"
if grep -q 'ThreadSanitizer' "$work/err"; then
    fail "ThreadSanitizer reported:"
    cat "$work/err" >&2
fi
if [ $failed -ne 0 ]; then
    say "server log:"
    tail -50 "$work/err" >&2
    exit 1
fi
say "ok ($(grep -c 'requests per second' "$work/bench") benchmark figures, $requests INCRs exact)"
exit 0
