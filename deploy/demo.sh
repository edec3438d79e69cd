#!/usr/bin/env bash
# The zkrelay demo that `make run` starts: the relay, one data-safe per demo
# practice with sample documents, and enrolled CLI state directories, with
# the commands to try printed. Run with --help for usage.

set -euo pipefail
export LC_ALL=C
umask 077

readonly PROG=${0##*/}
ROOT=$(cd -- "$(dirname -- "$0")/.." && pwd -P)
readonly ROOT

BUILD=build
PORT=8443
OPS_PORT=9464

usage() {
    cat <<EOF
Usage: $PROG [--build DIR] [--port N] [--ops-port N]
       $PROG --help

Starts a complete zkrelay demo in the foreground, from the repository root
($ROOT):

  - the relay on 127.0.0.1:PORT (default $PORT), its metrics on
    http://127.0.0.1:OPS_PORT/metrics (default $OPS_PORT), with the dev PKI
    DIR/dev/pki and the sample registry DIR/dev/registry (made here if
    missing; \`make run\` makes them first);
  - a data-safe agent (zkrelay-safe) for practice-a/safe-1 and one for
    practice-b/safe-1, each with generated sample documents (text and
    PDF, no real data) for two patients;
  - CLI state directories (zkrelay-cli), freshly enrolled with those
    data-safes: practice-a/client-1 for the whole practice,
    practice-a/client-2 for one patient only, practice-b/client-1 for the
    whole practice.

Then it prints the commands to try and waits. Ctrl-C (or SIGTERM) stops the
data-safes and the relay and exits.

Every start begins afresh in DIR/dev/demo/: new E2E keys, new sample
stores, new enrollments, and access tokens minted now (they live one hour,
so restart the demo after that). Documents you upload are gone at the next
start. The relay's own audit trail (DIR/dev/audit.log) is kept.

Options:
  --build DIR    build directory with the binaries (default: build)
  --port N       the relay's mTLS WebSocket port (default: $PORT)
  --ops-port N   its metrics/health port (default: $OPS_PORT)
  --help         this text

Needs DIR/zkrelay, DIR/zkrelay-safe and DIR/zkrelay-cli (\`make run\`
builds them).
EOF
}

die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

usage_error() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    printf "Run '%s --help' for usage.\n" "$PROG" >&2
    exit 64
}

port_arg() { # option value
    [[ $2 =~ ^[1-9][0-9]{0,4}$ && $2 -le 65535 ]] || usage_error "invalid $1 '$2' (a port number)"
    printf '%s' "$2"
}

while [[ $# -gt 0 ]]; do
    case $1 in
        -h | --help) usage; exit 0 ;;
        --build)
            [[ $# -ge 2 && -n $2 ]] || usage_error "--build needs a directory"
            BUILD=$2
            shift 2
            ;;
        --port)
            [[ $# -ge 2 ]] || usage_error "--port needs a number"
            PORT=$(port_arg --port "$2")
            shift 2
            ;;
        --ops-port)
            [[ $# -ge 2 ]] || usage_error "--ops-port needs a number"
            OPS_PORT=$(port_arg --ops-port "$2")
            shift 2
            ;;
        *) usage_error "unknown argument '$1'" ;;
    esac
done

cd -- "$ROOT"
mkdir -p -- "$BUILD"
B=$(cd -- "$BUILD" && pwd -P)
readonly B
readonly PKI=$B/dev/pki REG=$B/dev/registry DEMO=$B/dev/demo
readonly RELAY=$B/zkrelay SAFE=$B/zkrelay-safe CLI=$B/zkrelay-cli

# What to print in the commands: paths relative to the repository root
# when the build directory is inside it.
rel() {
    case $1 in
        "$ROOT"/*) printf '%s' "${1#"$ROOT"/}" ;;
        *) printf '%s' "$1" ;;
    esac
}

for bin in "$RELAY" "$SAFE" "$CLI"; do
    [[ -x $bin ]] || die "$bin is missing (run 'make run', or 'make BUILD=$BUILD all' first)"
done
if [[ ! -f $PKI/ca.crt ]]; then
    deploy/dev-pki.sh "$PKI"
fi
if [[ ! -f $REG/practice-a.json ]]; then
    deploy/dev-registry.sh "$PKI" "$REG"
fi

# ---------------------------------------------------------------------------
# Processes, and stopping them.

PIDS=()
NAMES=()
STOPPING=0

stop_all() {
    local i pid deadline
    [[ $STOPPING -eq 1 ]] && return 0
    STOPPING=1
    # Data-safes first, then the relay (it drains what it still holds).
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill -TERM "${PIDS[i]}" 2>/dev/null || true
    done
    deadline=$((SECONDS + 15))
    for pid in "${PIDS[@]}"; do
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
}

on_signal() {
    printf '\nstopping the demo ...\n'
    stop_all
    printf 'stopped.\n'
    exit 0
}

trap on_signal INT TERM
trap stop_all EXIT

# wait_line FILE PATTERN PID WHAT: waits up to 30 s for PATTERN in FILE while
# PID runs.
wait_line() {
    local file=$1 pattern=$2 pid=$3 what=$4 deadline=$((SECONDS + 30))
    until grep -q -- "$pattern" "$file" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            printf '%s: error: %s exited; the end of %s:\n' "$PROG" "$what" "$(rel "$file")" >&2
            tail -n 5 "$file" >&2 || true
            exit 1
        fi
        ((SECONDS < deadline)) || die "$what not ready after 30 s; see $(rel "$file")"
        sleep 0.1
    done
}

# ---------------------------------------------------------------------------
# Sample documents (generated; no real data).

pdf_escape() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//(/\\(}
    s=${s//)/\\)}
    printf '%s' "$s"
}

# make_pdf FILE LINE...: a one-page PDF 1.4 with the lines in Helvetica.
make_pdf() {
    local file=$1 line content='' body='' obj
    shift
    content="BT /F1 12 Tf 72 770 Td 16 TL"
    for line in "$@"; do
        content+=" ($(pdf_escape "$line")) Tj T*"
    done
    content+=" ET"
    local objs=(
        "<< /Type /Catalog /Pages 2 0 R >>"
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
        "<< /Length ${#content} >>
stream
$content
endstream"
    )
    local offsets=() n=1
    body=$'%PDF-1.4\n'
    for obj in "${objs[@]}"; do
        offsets+=("${#body}")
        body+="$n 0 obj
$obj
endobj
"
        n=$((n + 1))
    done
    local xref=${#body} off
    body+="xref
0 $n
0000000000 65535 f 
"
    for off in "${offsets[@]}"; do
        body+=$(printf '%010d 00000 n ' "$off")$'\n'
    done
    body+="trailer
<< /Size $n /Root 1 0 R >>
startxref
$xref
%%EOF
"
    printf '%s' "$body" >"$file"
}

# sample_docs STORE PRACTICE PATIENT N: three documents for one patient.
sample_docs() {
    local dir=$1/$3 practice=$2 patient=$3 n=$4
    mkdir -p -- "$dir"
    cat >"$dir/lab-results-2024-0$n.txt" <<EOF
SAMPLE DOCUMENT - NOT REAL PATIENT DATA
Practice: $practice    Patient: $patient
Laboratory results, 2024-0$n-1$n

  Haemoglobin        14.$n g/dl      (13.5 - 17.5)
  Leukocytes          6.$n /nl       (4.0 - 10.0)
  CRP                 < 5 mg/l       (< 5)
  HbA1c               5.$n %         (< 5.7)

Assessment: within reference ranges. Follow-up in six months.
EOF
    make_pdf "$dir/referral-letter.pdf" \
        "SAMPLE DOCUMENT - NOT REAL PATIENT DATA" \
        "Referral letter ($practice)" \
        "Patient: $patient" \
        "" \
        "Dear colleague," \
        "please see this patient for a routine cardiology consultation." \
        "ECG at rest unremarkable; blood pressure 13$n/8$n mmHg." \
        "" \
        "Kind regards, the demo practice"
    cat >"$dir/medication-plan.txt" <<EOF
SAMPLE DOCUMENT - NOT REAL PATIENT DATA
Medication plan for $patient ($practice), as of 2024-0$n-0$n

  Ramipril 5 mg        1-0-0
  Metformin 500 mg     1-0-1
EOF
}

# ---------------------------------------------------------------------------
# The relay.

rm -rf -- "$DEMO"
mkdir -p -- "$DEMO/cli" "$DEMO/enroll"

# A relay started as root without a user to drop to refuses to run unless
# told so: the demo, run as root on a development machine, says so.
ALLOW_ROOT=false
[[ $(id -u) -eq 0 ]] && ALLOW_ROOT=true
cat >"$DEMO/relay.conf" <<EOF
; the demo relay (written by $PROG)
[relay]
listen = 127.0.0.1:$PORT
registry_dir = $REG
allow_root = $ALLOW_ROOT
[tls]
ca_file = $PKI/ca.crt
cert_file = $PKI/server.crt
key_file = $PKI/server.key
crl_file = $PKI/crl.pem
[audit]
file = $B/dev/audit.log
[ops]
listen = 127.0.0.1:$OPS_PORT
EOF
"$RELAY" --check-config -c "$DEMO/relay.conf" >/dev/null 2>"$DEMO/relay.log" ||
    die "the relay refused its config: $(tail -n 1 "$DEMO/relay.log")"
"$RELAY" -c "$DEMO/relay.conf" 2>"$DEMO/relay.log" &
PIDS+=("$!")
NAMES+=(relay)
wait_line "$DEMO/relay.log" '"event":"listening"' "$!" "the relay"

# ---------------------------------------------------------------------------
# The data-safes.

# start_safe PRACTICE PATIENT PATIENT
start_safe() {
    local practice=$1 dir=$DEMO/$1-safe-1 n=1 patient
    shift
    mkdir -p -- "$dir/store"
    "$SAFE" keygen --out "$dir/e2e.key" >"$dir/e2e.pub"
    for patient in "$@"; do
        sample_docs "$dir/store" "$practice" "$patient" "$n"
        n=$((n + 1))
    done
    cat >"$dir/safe.conf" <<EOF
; the demo data-safe of $practice (written by $PROG)
[safe]
address = $practice/safe-1
store_dir = $dir/store
static_key_file = $dir/e2e.key
token_key_file = $PKI/$practice/token-k1.key
token_kid = k1
relay_id = zkrelay-dev
audit_file = $dir/audit.log
max_upload_bytes = 268435456

[relay]
host = 127.0.0.1
port = $PORT
server_name = localhost
ca_file = $PKI/ca.crt
cert_file = $PKI/$practice/safe-1.crt
key_file = $PKI/$practice/safe-1.key
EOF
    "$SAFE" run -c "$dir/safe.conf" 2>"$dir/safe.log" &
    PIDS+=("$!")
    NAMES+=("$practice/safe-1")
    wait_line "$dir/safe.log" '"event":"safe_ready"' "$!" "the data-safe $practice/safe-1"
}

start_safe practice-a p-1001 p-1002
start_safe practice-b p-2001 p-2002

# ---------------------------------------------------------------------------
# Enrolled clients: the CLI makes its key, the data-safe issues the
# enrollment (grant and access token), the CLI imports it.

# enroll PRACTICE CLIENT [PATIENT]
enroll() {
    local practice=$1 client=$2 patient=${3:-} state pub file
    state=$DEMO/cli/$practice-$client
    file=$DEMO/enroll/$practice-$client.json
    pub=$("$CLI" --state "$state" init --cert "$PKI/$practice/$client.crt" \
        --key "$PKI/$practice/$client.key" --ca "$PKI/ca.crt" | head -n 1)
    local scope=()
    [[ -n $patient ]] && scope=(--patient "$patient")
    "$SAFE" enroll -c "$DEMO/$practice-safe-1/safe.conf" --client "$practice/$client" \
        --client-key "$pub" --client-cert "$PKI/$practice/$client.crt" "${scope[@]}" \
        --out "$file"
    "$CLI" --state "$state" enroll "$file" >/dev/null
}

enroll practice-a client-1
enroll practice-a client-2 p-1001
enroll practice-b client-1

# ---------------------------------------------------------------------------
# What to try.

C=$(rel "$CLI")
A1="$C --state $(rel "$DEMO/cli/practice-a-client-1")"
A2="$C --state $(rel "$DEMO/cli/practice-a-client-2")"
B1="$C --state $(rel "$DEMO/cli/practice-b-client-1")"
cat <<EOF

zkrelay demo running: relay on 127.0.0.1:$PORT, data-safes practice-a/safe-1
and practice-b/safe-1 (patients p-1001, p-1002 and p-2001, p-2002).
Try these from $ROOT:

  # practice-a/client-1, enrolled for the whole practice
  $A1 ls p-1001
  $A1 get p-1001 referral-letter.pdf -o /tmp/referral-letter.pdf
  $A1 put p-1002 README.md
  $A1 ls p-1002

  # practice-a/client-2, enrolled for patient p-1001 only
  $A2 ls
  $A2 get p-1001 lab-results-2024-01.txt -o -
  $A2 ls p-1002          # refused: exit 5 (not permitted)

  # practice-b/client-1
  $B1 ls p-2001

  # what the relay saw: no patient id, no document name, no content
  grep -c -e p-1001 -e referral-letter $(rel "$DEMO/relay.log") $(rel "$B/dev/audit.log")
  # what the data-safe recorded, and its hash chain
  $(rel "$SAFE") audit-verify $(rel "$DEMO/practice-a-safe-1/audit.log")

Logs: $(rel "$DEMO")/relay.log, $(rel "$DEMO")/practice-*-safe-1/safe.log
Metrics: http://127.0.0.1:$OPS_PORT/metrics
Access tokens expire in one hour: restart the demo then. Ctrl-C stops it.
EOF

# Until Ctrl-C, or until one of them ends on its own.
while :; do
    wait -n "${PIDS[@]}" || true
    for i in "${!PIDS[@]}"; do
        if ! kill -0 "${PIDS[i]}" 2>/dev/null; then
            [[ $STOPPING -eq 1 ]] && exit 0
            printf '%s: %s stopped unexpectedly; stopping the demo\n' "$PROG" "${NAMES[i]}" >&2
            stop_all
            exit 1
        fi
    done
done
