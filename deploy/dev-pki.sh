#!/usr/bin/env bash
# zkrelay development PKI.
#
# Makes the relay CA, the relay's server certificate, an (empty) CRL and one
# client certificate per endpoint, as described in DESIGN.md ("Identities",
# "TLS profile"): ECDSA P-256 everywhere, endpoint certificates carrying
# exactly one URI SAN zkrelay://practice/<practice-id>/<role>/<endpoint-id>.
#
# For development and tests only: the CA key sits unencrypted next to the
# certificates it signs. A production relay CA is an offline root.
#
# Run with --help for usage.

set -euo pipefail
export LC_ALL=C
umask 022

readonly PROG=${0##*/}
readonly ID_RE='^[a-z0-9][a-z0-9._-]{0,63}$'
readonly CA_CN='zkrelay dev CA'
readonly CA_DAYS=3650
readonly CRL_DAYS=3650
readonly SERVER_DAYS=825
readonly ENDPOINT_DAYS=825
readonly DEFAULT_PRACTICES=(practice-a practice-b)
# endpoint-id:role, made for every default practice
readonly DEFAULT_ENDPOINTS=(safe-1:safe client-1:client client-2:client)

usage() {
    cat <<EOF
Usage:
  $PROG DIR [init]
  $PROG DIR issue PRACTICE ROLE ENDPOINT [--days N | --expired] [--no-san] [--san URI]...
  $PROG DIR revoke PRACTICE ENDPOINT
  $PROG DIR other-ca OUTDIR
  $PROG --help

Development PKI for zkrelay (ECDSA P-256, made with the openssl CLI).

init (the default)
  Makes, unless they already exist:
    DIR/ca.crt               relay CA "$CA_CN" (self-signed, $CA_DAYS days)
    DIR/ca/                  CA key (ca.key), openssl.cnf and database
    DIR/server.crt, .key     relay server certificate (serverAuth;
                             DNS:localhost, IP:127.0.0.1, IP:::1)
    DIR/crl.pem              CRL signed by the CA (valid $CRL_DAYS days)
    DIR/PRACTICE/ENDPOINT.crt, .key
                             endpoint client certificates (clientAuth, CN =
                             endpoint id, one URI SAN
                             zkrelay://practice/PRACTICE/ROLE/ENDPOINT) for
                             practices ${DEFAULT_PRACTICES[*]}, each with
                             endpoints safe-1 (safe), client-1 and client-2
                             (client)
  If DIR/ca.crt exists the CA is kept and only missing files are made.

issue PRACTICE ROLE ENDPOINT
  Issues (or re-issues, replacing the files) DIR/PRACTICE/ENDPOINT.crt and
  .key, signed by the CA in DIR.
    --days N      valid for N days from now (default $ENDPOINT_DAYS)
    --expired     validity ended in the past (from 30 days ago to 1 day ago)
    --no-san      no subjectAltName at all
    --san URI     use URI as the URI SAN instead of the zkrelay name;
                  repeat for several SANs (e.g. two zkrelay names, or a
                  wrong scheme)

revoke PRACTICE ENDPOINT
  Revokes DIR/PRACTICE/ENDPOINT.crt and regenerates DIR/crl.pem.

other-ca OUTDIR
  Makes an unrelated CA in OUTDIR (same layout as DIR, and the same name as
  the dev CA, but its own key) and a client certificate
  OUTDIR/practice-a/client-9.crt, .key with a valid zkrelay SAN for
  practice-a, signed by that other CA.

Practice and endpoint ids must match $ID_RE;
ROLE is safe or client. Keys are written with mode 600. The script prints
nothing on success; on failure it prints the failing command and its output.

Check a result with:
  openssl verify -CAfile DIR/ca.crt -crl_check -CRLfile DIR/crl.pem DIR/practice-a/client-1.crt
  openssl x509 -noout -ext subjectAltName -in DIR/practice-a/client-1.crt
EOF
}

die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

usage_error() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    printf "Run '%s --help' for usage.\n" "$PROG" >&2
    exit 2
}

TMP=''
# Paths to remove if the script stops before finishing with them.
PENDING=()
cleanup() {
    local p
    for p in "${PENDING[@]}"; do
        rm -rf -- "$p"
    done
    if [[ -n $TMP ]]; then
        rm -rf -- "$TMP"
    fi
}
trap cleanup EXIT

tmpdir() {
    if [[ -z $TMP ]]; then
        TMP=$(mktemp -d "${TMPDIR:-/tmp}/zkrelay-pki.XXXXXX")
    fi
}

# run CMD... : run quietly; on failure show the command and its output.
run() {
    tmpdir
    if ! "$@" >"$TMP/out" 2>&1; then
        printf '%s: error: command failed:' "$PROG" >&2
        printf ' %q' "$@" >&2
        printf '\n' >&2
        sed 's/^/  | /' "$TMP/out" >&2
        exit 1
    fi
}

check_id() { # what value
    [[ $2 =~ $ID_RE ]] || usage_error "invalid $1 '$2' (must match $ID_RE)"
}

check_role() {
    [[ $1 == safe || $1 == client ]] || usage_error "invalid role '$1' (must be safe or client)"
}

zkrelay_uri() { # practice role endpoint
    printf 'zkrelay://practice/%s/%s/%s' "$1" "$2" "$3"
}

# Serialise runs on one PKI directory (openssl ca's database is not safe
# against concurrent writers, and tests may issue certificates in parallel).
lock_dir() { # base
    local fd
    command -v flock >/dev/null || return 0
    exec {fd}>"$1/.dev-pki.lock" || die "cannot create $1/.dev-pki.lock"
    flock "$fd" || die "cannot lock $1/.dev-pki.lock"
}

# Make a directory (and parents) and print its absolute path.
abs_dir() {
    mkdir -p -- "$1" || die "cannot create directory '$1'"
    (cd -- "$1" && pwd -P)
}

# New ECDSA P-256 private key (PKCS#8 PEM), mode 600.
new_key() { # out
    local old
    old=$(umask)
    umask 077
    run openssl genpkey -algorithm EC \
        -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve \
        -out "$1"
    umask "$old"
    chmod 600 -- "$1"
}

# openssl ca on the CA kept in $1/ca (the config finds it through the
# environment, so the directory can be moved).
ca_cmd() { # base args...
    local base=$1
    shift
    run env ZKRELAY_CA_DIR="$base/ca" openssl ca -batch -config "$base/ca/openssl.cnf" "$@"
}

write_ca_config() { # file
    cat >"$1" <<'EOF'
# openssl configuration of the zkrelay development CA.
# Written by dev-pki.sh. Use it as: ZKRELAY_CA_DIR=<this directory> openssl ca -config <this directory>/openssl.cnf ...
# (or run openssl ca -config openssl.cnf from inside this directory).
HOME = .
ZKRELAY_CA_DIR = .

[ ca ]
default_ca = zkrelay_ca

[ zkrelay_ca ]
dir              = $ENV::ZKRELAY_CA_DIR
database         = $dir/index.txt
new_certs_dir    = $dir/newcerts
certificate      = $dir/../ca.crt
private_key      = $dir/ca.key
serial           = $dir/serial
crlnumber        = $dir/crlnumber
default_md       = sha256
default_days     = 825
default_crl_days = 3650
crl_extensions   = crl_ext
policy           = policy_endpoint
unique_subject   = no
copy_extensions  = none
email_in_dn      = no
name_opt         = ca_default
cert_opt         = ca_default

[ policy_endpoint ]
organizationName       = optional
organizationalUnitName = optional
commonName             = supplied

[ crl_ext ]
authorityKeyIdentifier = keyid:always

[ req ]
distinguished_name = req_dn
string_mask        = utf8only
prompt             = no

[ req_dn ]
CN = unused

[ v3_ca ]
basicConstraints       = critical, CA:true
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF
}

gen_crl() { # base
    local base=$1
    PENDING+=("$base/crl.pem.tmp")
    ca_cmd "$base" -gencrl -crldays "$CRL_DAYS" -out "$base/crl.pem.tmp"
    chmod 644 -- "$base/crl.pem.tmp"
    mv -f -- "$base/crl.pem.tmp" "$base/crl.pem"
}

# Make the CA in $base unless $base/ca.crt exists.
ensure_ca() { # base
    local base=$1 ca=$1/ca
    if [[ -f $base/ca.crt ]]; then
        [[ -f $ca/ca.key && -f $ca/openssl.cnf && -f $ca/index.txt ]] ||
            die "$base/ca.crt exists but the CA in $ca/ is incomplete; remove $base to start over"
        return 0
    fi
    local f
    for f in ca server.crt server.key crl.pem; do
        [[ -e $base/$f ]] &&
            die "$base/$f exists but $base/ca.crt does not (left from an earlier PKI?); remove it or use an empty directory"
    done

    PENDING+=("$ca" "$base/ca.crt.tmp")
    mkdir -p -- "$ca/newcerts"
    chmod 700 -- "$ca"
    write_ca_config "$ca/openssl.cnf"
    : >"$ca/index.txt"
    printf 'unique_subject = no\n' >"$ca/index.txt.attr"
    # random positive 128-bit starting serial, so serials of two dev PKIs differ
    local serial
    serial=$(openssl rand -hex 16)
    printf '%d%s\n' $((RANDOM % 7 + 1)) "${serial:1}" >"$ca/serial"
    printf '1000\n' >"$ca/crlnumber"
    new_key "$ca/ca.key"
    run env ZKRELAY_CA_DIR="$ca" openssl req -new -x509 -config "$ca/openssl.cnf" \
        -key "$ca/ca.key" -subj "/CN=$CA_CN" -days "$CA_DAYS" -sha256 \
        -extensions v3_ca -out "$base/ca.crt.tmp"
    chmod 644 -- "$base/ca.crt.tmp"
    mv -f -- "$base/ca.crt.tmp" "$base/ca.crt"
    PENDING=()
    gen_crl "$base"
}

# Sign a CSR with the CA in $base.
# sign base csr out extfile [openssl ca validity args...]
sign() {
    local base=$1 csr=$2 out=$3 ext=$4
    shift 4
    ca_cmd "$base" -notext -in "$csr" -out "$out" -extfile "$ext" -extensions ext "$@"
    chmod 644 -- "$out"
}

# Issue a key and certificate into $dir/$name.{key,crt}.
# issue_cert base dir name subject extfile [openssl ca validity args...]
issue_cert() {
    local base=$1 dir=$2 name=$3 subj=$4 ext=$5
    shift 5
    tmpdir
    mkdir -p -- "$dir"
    PENDING+=("$dir/.$name.key.tmp" "$dir/.$name.crt.tmp")
    new_key "$dir/.$name.key.tmp"
    run env ZKRELAY_CA_DIR="$base/ca" openssl req -new -config "$base/ca/openssl.cnf" \
        -key "$dir/.$name.key.tmp" -subj "$subj" -out "$TMP/$name.csr"
    sign "$base" "$TMP/$name.csr" "$dir/.$name.crt.tmp" "$ext" "$@"
    mv -f -- "$dir/.$name.key.tmp" "$dir/$name.key"
    mv -f -- "$dir/.$name.crt.tmp" "$dir/$name.crt"
}

ensure_server() { # base
    local base=$1
    [[ -f $base/server.crt && -f $base/server.key ]] && return 0
    tmpdir
    cat >"$TMP/server.ext" <<'EOF'
[ ext ]
basicConstraints       = critical, CA:false
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF
    issue_cert "$base" "$base" server "/O=zkrelay dev/CN=localhost" "$TMP/server.ext" \
        -days "$SERVER_DAYS"
}

# issue_endpoint base practice role endpoint san-mode [validity args...]
# san-mode: "default", "none", or "list" with the URIs in SAN_LIST.
SAN_LIST=()
issue_endpoint() {
    local base=$1 practice=$2 role=$3 endpoint=$4 san_mode=$5
    shift 5
    tmpdir
    local ext="$TMP/endpoint.ext" sans='' uri
    case $san_mode in
        default) sans="URI:$(zkrelay_uri "$practice" "$role" "$endpoint")" ;;
        none) sans='' ;;
        list)
            for uri in "${SAN_LIST[@]}"; do
                sans+="${sans:+, }URI:$uri"
            done
            ;;
    esac
    {
        printf '[ ext ]\n'
        printf 'basicConstraints       = critical, CA:false\n'
        printf 'keyUsage               = critical, digitalSignature\n'
        printf 'extendedKeyUsage       = clientAuth\n'
        printf 'subjectKeyIdentifier   = hash\n'
        printf 'authorityKeyIdentifier = keyid:always\n'
        if [[ -n $sans ]]; then
            printf 'subjectAltName         = %s\n' "$sans"
        fi
    } >"$ext"
    issue_cert "$base" "$base/$practice" "$endpoint" \
        "/O=zkrelay dev/OU=$practice/CN=$endpoint" "$ext" "$@"
}

cmd_init() { # base
    local base=$1 practice spec endpoint role
    lock_dir "$base"
    ensure_ca "$base"
    ensure_server "$base"
    [[ -f $base/crl.pem ]] || gen_crl "$base"
    for practice in "${DEFAULT_PRACTICES[@]}"; do
        for spec in "${DEFAULT_ENDPOINTS[@]}"; do
            endpoint=${spec%%:*}
            role=${spec#*:}
            if [[ ! -f $base/$practice/$endpoint.crt || ! -f $base/$practice/$endpoint.key ]]; then
                issue_endpoint "$base" "$practice" "$role" "$endpoint" default \
                    -days "$ENDPOINT_DAYS"
            fi
        done
    done
}

require_ca() { # base
    [[ -f $1/ca.crt && -f $1/ca/ca.key && -f $1/ca/openssl.cnf ]] ||
        die "no CA in $1 (run '$PROG $1' first)"
}

# The URI goes into an openssl config value: keep it to characters that need
# no quoting there.
readonly SAN_RE='^[]A-Za-z0-9._~:/?@!&()*+;=%[-]+$'
add_san() { # uri
    [[ $1 =~ $SAN_RE ]] ||
        usage_error "invalid --san '$1' (empty, or has a space, comma, \$, #, quote or backslash)"
    SAN_LIST+=("$1")
}

cmd_issue() { # base args...
    local base=$1
    shift
    [[ $# -ge 3 ]] || usage_error "issue needs PRACTICE ROLE ENDPOINT"
    local practice=$1 role=$2 endpoint=$3
    shift 3
    check_id "practice id" "$practice"
    check_role "$role"
    check_id "endpoint id" "$endpoint"

    local days='' expired=0 no_san=0
    SAN_LIST=()
    while [[ $# -gt 0 ]]; do
        case $1 in
            --days)
                [[ $# -ge 2 ]] || usage_error "--days needs a number"
                [[ $2 =~ ^[1-9][0-9]{0,5}$ ]] || usage_error "invalid --days '$2' (a whole number of days, 1 or more)"
                days=$2
                shift 2
                ;;
            --days=*)
                days=${1#--days=}
                [[ $days =~ ^[1-9][0-9]{0,5}$ ]] || usage_error "invalid --days '$days' (a whole number of days, 1 or more)"
                shift
                ;;
            --expired) expired=1; shift ;;
            --no-san) no_san=1; shift ;;
            --san)
                [[ $# -ge 2 ]] || usage_error "--san needs a URI"
                add_san "$2"
                shift 2
                ;;
            --san=*)
                add_san "${1#--san=}"
                shift
                ;;
            *) usage_error "unknown issue option '$1'" ;;
        esac
    done
    [[ -n $days && $expired -eq 1 ]] && usage_error "--days and --expired exclude each other"
    [[ $no_san -eq 1 && ${#SAN_LIST[@]} -gt 0 ]] && usage_error "--no-san and --san exclude each other"

    require_ca "$base"
    lock_dir "$base"
    local validity=()
    if [[ $expired -eq 1 ]]; then
        validity=(-startdate "$(date -u -d '30 days ago' +%Y%m%d%H%M%SZ)"
            -enddate "$(date -u -d '1 day ago' +%Y%m%d%H%M%SZ)")
    else
        validity=(-days "${days:-$ENDPOINT_DAYS}")
    fi
    local mode=default
    [[ $no_san -eq 1 ]] && mode=none
    [[ ${#SAN_LIST[@]} -gt 0 ]] && mode=list
    issue_endpoint "$base" "$practice" "$role" "$endpoint" "$mode" "${validity[@]}"
}

cmd_revoke() { # base practice endpoint
    local base=$1
    shift
    [[ $# -eq 2 ]] || usage_error "revoke needs PRACTICE ENDPOINT"
    local practice=$1 endpoint=$2
    check_id "practice id" "$practice"
    check_id "endpoint id" "$endpoint"
    require_ca "$base"
    lock_dir "$base"
    local crt="$base/$practice/$endpoint.crt"
    [[ -f $crt ]] || die "no certificate $crt"

    local serial status
    serial=$(openssl x509 -in "$crt" -noout -serial 2>/dev/null) ||
        die "cannot read $crt"
    serial=${serial#serial=}
    status=$(awk -F'\t' -v s="$serial" 'toupper($4) == toupper(s) { print $1; exit }' \
        "$base/ca/index.txt")
    case $status in
        '') die "$crt (serial $serial) was not issued by the CA in $base" ;;
        R) printf '%s: note: %s is already revoked\n' "$PROG" "$crt" >&2 ;;
        *) ca_cmd "$base" -revoke "$crt" ;;
    esac
    gen_crl "$base"
}

cmd_other_ca() { # base outdir
    local base=$1
    shift
    [[ $# -eq 1 ]] || usage_error "other-ca needs OUTDIR"
    [[ -n $1 ]] || usage_error "OUTDIR is empty"
    local out
    out=$(abs_dir "$1")
    [[ $out == "$base" ]] && usage_error "OUTDIR must not be DIR"
    if [[ -f $base/ca.crt && -f $out/ca.crt ]] && cmp -s -- "$base/ca.crt" "$out/ca.crt"; then
        die "$out holds the same CA as $base"
    fi
    lock_dir "$out"
    ensure_ca "$out"
    if [[ ! -f $out/practice-a/client-9.crt || ! -f $out/practice-a/client-9.key ]]; then
        issue_endpoint "$out" practice-a client client-9 default -days "$ENDPOINT_DAYS"
    fi
}

main() {
    if [[ $# -eq 0 ]]; then
        usage >&2
        exit 2
    fi
    case $1 in
        -h | --help | help) usage; exit 0 ;;
        -*) usage_error "unknown option '$1' (DIR comes first)" ;;
        '') usage_error "DIR is empty" ;;
    esac
    command -v openssl >/dev/null || die "openssl not found (install the openssl package)"

    local dir=$1
    shift
    local cmd=${1:-init}
    [[ $# -gt 0 ]] && shift
    local arg
    for arg in "$cmd" "$@"; do
        case $arg in
            -h | --help) usage; exit 0 ;;
        esac
    done
    [[ $cmd == help ]] && { usage; exit 0; }
    local base
    case $cmd in
        init)
            [[ $# -eq 0 ]] || usage_error "init takes no arguments"
            base=$(abs_dir "$dir")
            cmd_init "$base"
            ;;
        issue | revoke)
            [[ -d $dir ]] || die "no such directory '$dir'"
            base=$(cd -- "$dir" && pwd -P)
            if [[ $cmd == issue ]]; then
                cmd_issue "$base" "$@"
            else
                cmd_revoke "$base" "$@"
            fi
            ;;
        other-ca)
            # DIR is only compared with OUTDIR; it need not exist.
            if [[ -d $dir ]]; then
                base=$(cd -- "$dir" && pwd -P)
            else
                base=$dir
            fi
            cmd_other_ca "$base" "$@"
            ;;
        *) usage_error "unknown command '$cmd'" ;;
    esac
}

main "$@"
