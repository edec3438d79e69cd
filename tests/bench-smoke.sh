#!/usr/bin/env bash
# make check-bench: runs every zkrelay-bench scenario with tiny counts and
# checks that each one ends in its result line. It asserts nothing about
# speed (a loaded CI machine, AddressSanitizer builds): the bench itself
# fails on any lost, reordered or refused frame, a stall, an unpaused
# lagging sender or relay memory beyond the queue caps.
#
# Under AddressSanitizer (SAN=1, fourth argument) the lagging receiver's
# RSS bound is reported but not enforced: ASan's quarantine keeps freed
# memory resident, so RSS there says nothing about the relay's queues.
#
# usage: tests/bench-smoke.sh BENCH RELAY PKI [SAN]
set -euo pipefail

bench=$1 relay=$2 pki=$3 san=${4:-0}
extra=()
if [[ $san == 1 ]]; then
    extra=(--no-rss-check)
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT

if ! "$bench" --relay "$relay" --pki "$pki" --smoke --timeout 300 "${extra[@]}" >"$out" 2>&1; then
    cat "$out"
    echo "bench-smoke: zkrelay-bench failed"
    echo "0 passed, 1 failed"
    exit 1
fi

want=(relay_64b open_64b dwell_64b relay_1k open_1k dwell_1k relay_16k open_16k dwell_16k
      relay_64k open_64k dwell_64k idle reconnect lagging)
fields='( (frame_bytes|frames_per_s|relay_cpu_us_per_frame|p99_us|rss_kib_per_conn)=[0-9.]+)+'
passed=0 failed=0
for s in "${want[@]}"; do
    if grep -Eq "^bench: scenario=$s$fields\$" "$out"; then
        passed=$((passed + 1))
    else
        echo "bench-smoke: no well-formed result line for scenario $s"
        failed=$((failed + 1))
    fi
done
if [[ $failed -ne 0 ]]; then
    cat "$out"
fi
echo "bench-smoke: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
