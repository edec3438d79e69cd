#!/usr/bin/env bash
# make bench-compare: zkrelay beside NATS (nats-server 2.9, TLS with client
# certificates) and Mosquitto 2.0 (MQTT over TLS with client certificates),
# all on loopback, each driven by a load generator on its own client
# library (build/cmpload-nats, build/cmpload-mqtt, build/zkrelay-bench),
# with the same traffic: 2 publisher/subscriber pairs, a closed loop with
# 256 KiB in flight per pair for the most messages/s, an open loop at half
# of that for latency, and K idle connections for memory and handshakes.
# The figure of merit is each broker's own CPU time from /proc/PID/stat.
#
# Mosquitto is also driven over WebSockets with client certificates
# (wss://) by bench/compare/mqtt_ws_load.mjs on Node's mqtt package
# (NODE_PATH $BUILD/node/node_modules, from deploy/install-bench-deps.sh).
#
# Writes bench/results/compare.md, compare.dat and the plots cpu.png and
# latency.png. Environment: BUILD (build), RUNS (3; medians are
# reported), SIZES ("64 1024 16384"), IDLE (300), OPEN_MS (3000),
# OUT (bench/results).
set -euo pipefail
export LC_ALL=C

BUILD=${BUILD:-build}
RUNS=${RUNS:-3}
SIZES=${SIZES:-"64 1024 16384"}
# 300: libmosquitto's generator runs a thread per connection, and beyond
# about 340 of them on a 2-core machine connections wait past their
# 30 s CONNACK deadline. zkrelay's own bench takes 10,000 (make bench).
IDLE=${IDLE:-300}
OPEN_MS=${OPEN_MS:-3000}
OUT=${OUT:-bench/results}
PKI=$BUILD/dev/pki
NODE_MODULES=$(realpath -m "$BUILD/node/node_modules")

die() { echo "bench-compare: $*" >&2; exit 1; }
for tool in nats-server mosquitto gnuplot; do
    command -v "$tool" >/dev/null || die "$tool is missing: run deploy/install-bench-deps.sh"
done

tmp=$(mktemp -d)
broker_pid=
cleanup() {
    if [[ -n $broker_pid ]]; then kill "$broker_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
# The brokers may drop to their own users: they get copies they can read.
chmod 755 "$tmp"
mkdir -p "$tmp/pki" "$OUT"
cp "$PKI/ca.crt" "$PKI/server.crt" "$PKI/server.key" "$PKI/practice-a/client-1.crt" \
    "$PKI/practice-a/client-1.key" "$tmp/pki/"
chmod 755 "$tmp/pki"
chmod 644 "$tmp/pki/"*
CA=$tmp/pki/ca.crt CERT=$tmp/pki/client-1.crt KEY=$tmp/pki/client-1.key
results=$tmp/results.txt
: >"$results"

# A port nobody listens on.
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
}

wait_port() {
    local i
    for i in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

# closed-loop messages per pair for a size: about 2 s of traffic
msgs_for() {
    case $1 in
        64 | 1024) echo 200000 ;;
        *) echo $((200000 * 1024 / $1 + 1000)) ;;
    esac
}

# record SYSTEM SIZE METRIC VALUE
record() { echo "$1 $2 $3 $4" >>"$results"; }

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }

# start_broker NAME PORT COMMAND...: COMMAND in the background, logging to
# $tmp/NAME.log, until PORT answers.
start_broker() {
    local name=$1 port=$2
    shift 2
    "$@" >"$tmp/$name.log" 2>&1 &
    broker_pid=$!
    wait_port "$port" || die "$name did not start: $(tail -3 "$tmp/$name.log")"
}

stop_broker() {
    kill "$broker_pid"
    wait "$broker_pid" 2>/dev/null || true
    broker_pid=
}

# run_cmp SYSTEM PORT DIVISOR GENERATOR...: every mode against the running
# broker; the closed loop sends msgs_for / DIVISOR messages a pair.
run_cmp() {
    local sys=$1 port=$2 div=$3 size line rate
    shift 3
    local gen=("$@")
    local common=(--pid "$broker_pid" --port "$port" --ca "$CA" --cert "$CERT" --key "$KEY")
    for size in $SIZES; do
        line=$("${gen[@]}" "${common[@]}" --mode closed --size "$size" \
            --msgs $(($(msgs_for "$size") / div)))
        echo "  $line"
        record "$sys" "$size" cpu_us "$(field broker_cpu_us_per_msg "$line")"
        record "$sys" "$size" msgs_per_s "$(field msgs_per_s "$line")"
        rate=$(awk -v r="$(field msgs_per_s "$line")" 'BEGIN { printf "%d", r / 2 }')
        line=$("${gen[@]}" "${common[@]}" --mode open --size "$size" --rate "$rate" \
            --open-ms "$OPEN_MS")
        echo "  $line"
        record "$sys" "$size" p99_us "$(field p99_us "$line")"
        record "$sys" "$size" open_cpu_us "$(field broker_cpu_us_per_msg "$line")"
    done
    line=$("${gen[@]}" "${common[@]}" --mode idle --idle "$IDLE")
    echo "  $line"
    record "$sys" 0 rss_kib_per_conn "$(field rss_kib_per_conn "$line")"
    record "$sys" 0 hs_per_s "$(field hs_per_s "$line")"
    record "$sys" 0 cpu_us_per_hs "$(field broker_cpu_us_per_hs "$line")"
}

run_nats() {
    local port conf=$tmp/nats.conf
    port=$(free_port)
    cat >"$conf" <<CONF
listen: 127.0.0.1:$port
tls {
  cert_file: "$tmp/pki/server.crt"
  key_file: "$tmp/pki/server.key"
  ca_file: "$CA"
  verify: true
  timeout: 5
}
CONF
    start_broker nats-server "$port" nats-server -c "$conf"
    echo "nats-server $(nats-server --version | sed 's/.*v//') on port $port"
    run_cmp nats "$port" 1 "$BUILD/cmpload-nats"
    stop_broker
}

run_mosquitto() {
    local port conf=$tmp/mosquitto.conf
    port=$(free_port)
    # max_queued_messages 0: no limit, so nothing is dropped for a
    # subscriber that is briefly behind (the generator's window bounds it).
    cat >"$conf" <<CONF
per_listener_settings false
allow_anonymous true
max_queued_messages 0
listener $port 127.0.0.1
cafile $CA
certfile $tmp/pki/server.crt
keyfile $tmp/pki/server.key
require_certificate true
tls_version tlsv1.3
CONF
    start_broker mosquitto "$port" mosquitto -c "$conf"
    echo "mosquitto $(mosquitto -h | sed -n 's/mosquitto version //p') (MQTT over TLS) on port $port"
    run_cmp mosquitto "$port" 1 "$BUILD/cmpload-mqtt"
    stop_broker
}

# Mosquitto 2.0.11 refuses to start with a websockets listener alone
# ("Unable to start any listening sockets"): a plain MQTT listener on
# loopback stands beside it, unused.
run_mosquitto_ws() {
    local port plain conf=$tmp/mosquitto-ws.conf
    if [[ ! -f $NODE_MODULES/mqtt/package.json ]]; then
        echo "mosquitto-ws: skipped: Node's mqtt package is not in $NODE_MODULES" \
            "(deploy/install-bench-deps.sh)"
        return
    fi
    port=$(free_port)
    plain=$(free_port)
    cat >"$conf" <<CONF
per_listener_settings false
allow_anonymous true
max_queued_messages 0
listener $plain 127.0.0.1
listener $port 127.0.0.1
protocol websockets
cafile $CA
certfile $tmp/pki/server.crt
keyfile $tmp/pki/server.key
require_certificate true
tls_version tlsv1.3
CONF
    start_broker mosquitto-ws "$port" mosquitto -c "$conf"
    echo "mosquitto (MQTT over WebSockets over TLS) on port $port"
    # The Node generator is slower than the C ones: a tenth of the messages.
    run_cmp mosquitto-ws "$port" 10 env NODE_PATH="$NODE_MODULES" node \
        bench/compare/mqtt_ws_load.mjs --clk-tck "$(getconf CLK_TCK)"
    stop_broker
}

run_zkrelay() {
    local sizes line s name size
    sizes=$(tr ' ' ',' <<<"$SIZES")
    "$BUILD/zkrelay-bench" --relay "$BUILD/zkrelay" --pki "$PKI" \
        --scenarios closed,open,idle,reconnect --sizes "$sizes" --open-ms "$OPEN_MS" \
        --idle "$IDLE" >"$tmp/zkrelay.log" 2>&1 || {
        tail -20 "$tmp/zkrelay.log"
        die "zkrelay-bench failed"
    }
    grep '^bench: ' "$tmp/zkrelay.log" | sed 's/^/  /'
    while read -r line; do
        name=$(sed -n 's/.*scenario=\([a-z0-9_]*\).*/\1/p' <<<"$line")
        size=$(field frame_bytes "$line")
        case $name in
            relay_*)
                record zkrelay "$size" cpu_us "$(field relay_cpu_us_per_frame "$line")"
                record zkrelay "$size" msgs_per_s "$(field frames_per_s "$line")" ;;
            open_*)
                record zkrelay "$size" p99_us "$(field p99_us "$line")"
                record zkrelay "$size" open_cpu_us "$(field relay_cpu_us_per_frame "$line")" ;;
            idle) record zkrelay 0 rss_kib_per_conn "$(field rss_kib_per_conn "$line")" ;;
            reconnect)
                record zkrelay 0 hs_per_s "$(field frames_per_s "$line")"
                record zkrelay 0 cpu_us_per_hs "$(field relay_cpu_us_per_frame "$line")" ;;
        esac
    done < <(grep '^bench: ' "$tmp/zkrelay.log")
}

for run in $(seq "$RUNS"); do
    echo "== run $run of $RUNS"
    run_zkrelay
    run_nats
    run_mosquitto
    run_mosquitto_ws
done

# The median of each figure over the runs.
median() { # system size metric
    awk -v s="$1" -v z="$2" -v m="$3" '$1 == s && $2 == z && $3 == m { print $4 }' "$results" |
        sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-";
            else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

systems="zkrelay nats mosquitto mosquitto-ws"
dat=$OUT/compare.dat
{
    echo "# size, CPU us/msg then p99 us, each for: $systems"
    for size in $SIZES; do
        printf '%s' "$size"
        for m in cpu_us p99_us; do
            for s in $systems; do printf ' %s' "$(median "$s" "$size" "$m")"; done
        done
        printf '\n'
    done
} >"$dat"

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
{
    echo "# zkrelay, NATS and Mosquitto side by side"
    echo
    echo "Made by \`make bench-compare\` on $(date -u +%Y-%m-%d): $(nproc) cores ($cpu_model),"
    echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; medians of $RUNS runs."
    echo "zkrelay $(cat VERSION 2>/dev/null || echo '?'), nats-server $(nats-server --version | sed 's/.*v//'),"
    echo "mosquitto $(mosquitto -h | sed -n 's/mosquitto version //p') (mosquitto: MQTT over TLS; mosquitto-ws: MQTT over"
    echo "WebSockets over TLS, driven from Node). Every broker on loopback with TLS and"
    echo "client certificates; 2 publisher/subscriber pairs. CPU is the broker's own (all"
    echo "threads, /proc/PID/stat) per message relayed in the closed loop (256 KiB in flight"
    echo "per pair); p99 is end-to-end in an open loop at half the closed-loop rate;"
    echo "RSS per connection from $IDLE idle connections; handshakes/s as the generator"
    echo "reached them, with the broker's CPU per handshake."
    echo
    echo "| system | payload B | broker CPU µs/msg | msgs/s | p99 µs |"
    echo "|---|---:|---:|---:|---:|"
    for size in $SIZES; do
        for s in $systems; do
            echo "| $s | $size | $(median "$s" "$size" cpu_us) | $(median "$s" "$size" msgs_per_s) | $(median "$s" "$size" p99_us) |"
        done
    done
    echo
    echo "| system | RSS KiB/idle conn | handshakes/s | broker CPU µs/handshake |"
    echo "|---|---:|---:|---:|"
    for s in $systems; do
        echo "| $s | $(median "$s" 0 rss_kib_per_conn) | $(median "$s" 0 hs_per_s) | $(median "$s" 0 cpu_us_per_hs) |"
    done
    echo
    echo "![CPU per message](cpu.png) ![p99 latency](latency.png)"
    echo
    echo "Raw figures of every run:"
    echo
    echo '```'
    cat "$results"
    echo '```'
} >"$OUT/compare.md"

gnuplot <<PLOT
set terminal pngcairo size 720,440 noenhanced
set datafile missing "-"
set logscale xy
set xlabel "payload bytes"
set key top left
set grid
set output "$OUT/cpu.png"
set title "Broker CPU per relayed message (lower is better)"
set ylabel "CPU us per message"
plot "$dat" using 1:2 with linespoints title "zkrelay", \
     "" using 1:3 with linespoints title "NATS", \
     "" using 1:4 with linespoints title "Mosquitto (MQTT/TLS)", \
     "" using 1:5 with linespoints title "Mosquitto (MQTT/WebSockets/TLS)"
set output "$OUT/latency.png"
set title "p99 end-to-end latency at half the closed-loop rate"
set ylabel "p99 us"
plot "$dat" using 1:6 with linespoints title "zkrelay", \
     "" using 1:7 with linespoints title "NATS", \
     "" using 1:8 with linespoints title "Mosquitto (MQTT/TLS)", \
     "" using 1:9 with linespoints title "Mosquitto (MQTT/WebSockets/TLS)"
PLOT
echo "bench-compare: wrote $OUT/compare.md, $dat, $OUT/cpu.png, $OUT/latency.png"
