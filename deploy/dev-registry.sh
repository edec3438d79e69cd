#!/usr/bin/env bash
# zkrelay development practice registry.
#
# Writes one registry file per practice of a development PKI made by
# dev-pki.sh (see DESIGN.md, "Registry"), and a practice token signing key
# beside each practice's certificates.
#
# For development and tests only: in a real deployment the token signing
# key is made on, and never leaves, the practice's data-safe.
#
# Run with --help for usage.

set -euo pipefail
export LC_ALL=C
umask 022

readonly PROG=${0##*/}
readonly ID_RE='^[a-z0-9][a-z0-9._-]{0,63}$'
readonly URI_RE='^zkrelay://practice/([a-z0-9][a-z0-9._-]{0,63})/(safe|client)/([a-z0-9][a-z0-9._-]{0,63})$'
readonly KID=k1
readonly TOKEN_KEY=token-$KID.key
# DER SubjectPublicKeyInfo of an Ed25519 key: this 12-byte header, then
# the 32 raw key bytes (RFC 8410 section 4).
readonly ED25519_SPKI_HEADER=302a300506032b6570032100

usage() {
    cat <<EOF
Usage:
  $PROG PKI_DIR REG_DIR
  $PROG --help

Development practice registry for zkrelay, from a PKI made by dev-pki.sh.

For every practice directory PKI_DIR/PRACTICE/ (every subdirectory with
certificates, except PKI_DIR/ca/ and REG_DIR):
  PKI_DIR/PRACTICE/$TOKEN_KEY
      the practice's Ed25519 token signing key (kid "$KID"), made once with
      openssl genpkey -algorithm ed25519, mode 600; kept if present
  REG_DIR/PRACTICE.json
      status "active"; token_keys: kid "$KID" with the raw 32-byte public
      key of $TOKEN_KEY in base64url; data_safes: every
      PKI_DIR/PRACTICE/ENDPOINT.crt whose one URI SAN is
      zkrelay://practice/PRACTICE/safe/ENDPOINT, pinned by the SHA-256 of its
      DER SubjectPublicKeyInfo; revoked_jti: none. Rewritten on every run
      (atomically), so running again gives the same files.

Certificates without exactly one zkrelay URI SAN naming their own practice
and file name (test certificates made with "dev-pki.sh issue --san/--no-san")
are skipped with a note on stderr. Other files in REG_DIR are left alone.
Ids must match $ID_RE.

Check a result with:
  openssl x509 -in PKI_DIR/practice-a/safe-1.crt -pubkey -noout |
    openssl pkey -pubin -outform DER | sha256sum
  (the spki_sha256 of safe-1 in REG_DIR/practice-a.json)
EOF
}

die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

note() {
    printf '%s: note: %s\n' "$PROG" "$*" >&2
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
        rm -f -- "$p"
    done
    if [[ -n $TMP ]]; then
        rm -rf -- "$TMP"
    fi
}
trap cleanup EXIT

# run CMD... : run quietly; on failure show the command and its output.
run() {
    if ! "$@" >"$TMP/out" 2>&1; then
        printf '%s: error: command failed:' "$PROG" >&2
        printf ' %q' "$@" >&2
        printf '\n' >&2
        sed 's/^/  | /' "$TMP/out" >&2
        exit 1
    fi
}

# Make the practice's token key unless it exists, mode 600.
ensure_token_key() { # key
    local key=$1 old
    if [[ -e $key ]]; then
        [[ -f $key ]] || die "$key exists but is not a regular file"
        return 0
    fi
    PENDING+=("$key.tmp")
    old=$(umask)
    umask 077
    run openssl genpkey -algorithm ed25519 -out "$key.tmp"
    umask "$old"
    chmod 600 -- "$key.tmp"
    mv -f -- "$key.tmp" "$key"
}

# base64url (no padding) of the raw 32-byte Ed25519 public key of a key file.
token_public_key() { # key
    local key=$1 hex
    openssl pkey -in "$key" -pubout -outform DER -out "$TMP/pub.der" 2>"$TMP/out" ||
        die "cannot read the token key $key: $(head -n 1 "$TMP/out")"
    hex=$(od -An -v -tx1 "$TMP/pub.der" | tr -d ' \n')
    [[ ${#hex} -eq 88 && ${hex:0:24} == "$ED25519_SPKI_HEADER" ]] ||
        die "$key is not an Ed25519 key (remove it to have a new one made)"
    tail -c 32 "$TMP/pub.der" | base64 | tr '+/' '-_' | tr -d '=\n'
}

# The zkrelay URI SANs of a certificate, one per line (scheme matched
# without regard to case, as the relay does, so a near miss counts too).
zkrelay_uris() { # crt
    local crt=$1
    openssl x509 -in "$crt" -noout -ext subjectAltName 2>"$TMP/out" >"$TMP/san" ||
        die "cannot read $crt: $(head -n 1 "$TMP/out")"
    tr ',' '\n' <"$TMP/san" | sed -n 's/^[[:space:]]*URI://p' | grep -i '^zkrelay:' || true
}

# Prints the SHA-256 (hex) of the certificate's DER SubjectPublicKeyInfo.
spki_sha256() { # crt
    local crt=$1 sum
    sum=$(openssl x509 -in "$crt" -pubkey -noout 2>"$TMP/out" |
        openssl pkey -pubin -outform DER 2>>"$TMP/out" | sha256sum) ||
        die "cannot read the public key of $crt: $(head -n 1 "$TMP/out")"
    printf '%s' "${sum%% *}"
}

# Writes REG_DIR/PRACTICE.json for PKI_DIR/PRACTICE.
write_practice() { # pki practice reg
    local pki=$1 practice=$2 reg=$3
    local dir=$pki/$practice key=$pki/$practice/$TOKEN_KEY
    local pub crt endpoint uris pin out sep=''

    [[ -e $dir/${TOKEN_KEY%.key}.crt ]] &&
        die "$dir/${TOKEN_KEY%.key}.crt exists: endpoint id ${TOKEN_KEY%.key} clashes with the token key file name"
    ensure_token_key "$key"
    pub=$(token_public_key "$key")
    [[ ${#pub} -eq 43 ]] || die "unexpected base64url public key length for $key"

    out=$reg/$practice.json
    PENDING+=("$out.tmp")
    {
        printf '{\n'
        printf '  "practice_id": "%s",\n' "$practice"
        printf '  "status": "active",\n'
        printf '  "token_keys": [\n'
        printf '    { "kid": "%s", "public_key": "%s" }\n' "$KID" "$pub"
        printf '  ],\n'
        printf '  "data_safes": ['
        for crt in "$dir"/*.crt; do
            [[ -f $crt ]] || continue
            endpoint=${crt##*/}
            endpoint=${endpoint%.crt}
            uris=$(zkrelay_uris "$crt")
            if [[ -z $uris ]]; then
                note "skipping $crt: no zkrelay URI SAN"
                continue
            fi
            if [[ $uris == *$'\n'* ]]; then
                note "skipping $crt: more than one zkrelay URI SAN"
                continue
            fi
            if ! [[ $uris =~ $URI_RE ]]; then
                note "skipping $crt: malformed zkrelay URI SAN '$uris'"
                continue
            fi
            if [[ ${BASH_REMATCH[1]} != "$practice" || ${BASH_REMATCH[3]} != "$endpoint" ]]; then
                note "skipping $crt: its URI SAN '$uris' names another endpoint"
                continue
            fi
            [[ ${BASH_REMATCH[2]} == safe ]] || continue
            pin=$(spki_sha256 "$crt")
            [[ $pin =~ ^[0-9a-f]{64}$ ]] || die "unexpected SHA-256 output for $crt"
            printf '%s\n    { "endpoint_id": "%s", "spki_sha256": "%s" }' "$sep" "$endpoint" "$pin"
            sep=','
        done
        if [[ -n $sep ]]; then
            printf '\n  ],\n'
        else
            printf '],\n'
        fi
        printf '  "revoked_jti": []\n'
        printf '}\n'
    } >"$out.tmp"
    chmod 644 -- "$out.tmp"
    mv -f -- "$out.tmp" "$out"
}

main() {
    local arg
    for arg in "$@"; do
        case $arg in
            -h | --help) usage; exit 0 ;;
        esac
    done
    if [[ $# -eq 0 ]]; then
        usage >&2
        exit 2
    fi
    for arg in "$@"; do
        case $arg in
            -*) usage_error "unknown option '$arg'" ;;
            '') usage_error "empty directory name" ;;
        esac
    done
    [[ $# -eq 2 ]] || usage_error "expected PKI_DIR REG_DIR, got $# arguments"
    local pki=$1 reg=$2
    command -v openssl >/dev/null || die "openssl not found (install the openssl package)"
    [[ -d $pki ]] || die "no such directory '$pki'"
    [[ -f $pki/ca.crt ]] || die "$pki has no ca.crt: not a PKI made by dev-pki.sh"
    mkdir -p -- "$reg" || die "cannot create directory '$reg'"
    [[ -w $reg ]] || die "cannot write to '$reg'"
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/zkrelay-registry.XXXXXX")

    local dir practice crts found=0 reg_abs
    reg_abs=$(cd -- "$reg" && pwd -P)
    for dir in "$pki"/*/; do
        [[ -d $dir ]] || continue
        practice=${dir%/}
        practice=${practice##*/}
        # The CA's own directory, and REG_DIR if it lies inside PKI_DIR.
        [[ $practice == ca ]] && continue
        [[ $(cd -- "$dir" && pwd -P) == "$reg_abs" ]] && continue
        if ! [[ $practice =~ $ID_RE ]]; then
            note "skipping $pki/$practice: not a practice id"
            continue
        fi
        crts=("$dir"*.crt)
        if [[ ! -f ${crts[0]} ]]; then
            note "skipping $pki/$practice: no certificates"
            continue
        fi
        write_practice "$pki" "$practice" "$reg"
        found=1
    done
    [[ $found -eq 1 ]] || die "no practice directories in $pki"
}

main "$@"
