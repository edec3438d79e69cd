#!/usr/bin/env bash
# Installs the Debian 12 packages that `make bench-compare` needs beside
# the build's own (deploy/install-deps.sh): the brokers it compares zkrelay
# with, their client libraries for the load generators, and gnuplot for the
# plots. Kept apart so that CI's install stays lean. Run with --help.

set -euo pipefail
export LC_ALL=C

readonly PROG=${0##*/}
PACKAGES=(
    nats-server      # NATS 2.9, TLS with client certificates
    mosquitto        # Mosquitto 2.0: MQTT over TLS and over WebSockets (its lws)
    libnats-dev      # the NATS C client, for the NATS load generator
    libmosquitto-dev # the Mosquitto C client, for the MQTT-over-TLS generator
    gnuplot-nox      # the PNG plots
)
# The MQTT-over-WebSockets generator runs on Node; a Node that came with
# its own npm (not Debian's) conflicts with Debian's npm package, so
# Debian's pair is installed only when there is no npm at all.
if ! command -v npm >/dev/null; then
    PACKAGES+=(nodejs npm)
fi
readonly PACKAGES
# Node's mqtt package, for the WebSockets generator: into $BUILD/node.
readonly NODE_PACKAGES=(mqtt@5)

usage() {
    cat <<EOF
Usage: $PROG [--force] [--list]

Installs the Debian 12 packages that make bench-compare needs (NATS,
Mosquitto, their client libraries, gnuplot, Node), with apt-get (through
sudo when not run as root), and Node's mqtt package into \$BUILD/node (build/
unless BUILD is set) with npm. The build and the tests need
deploy/install-deps.sh only.

  --force   run apt-get update and install even if everything is installed
  --list    print the package names, one a line, and exit
  -h, --help  show this help
EOF
}

die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

# Sets missing to the packages not (fully) installed.
find_missing() {
    local pkg status
    missing=()
    for pkg in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
        [[ $status == installed ]] || missing+=("$pkg")
    done
}

force=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --force) force=1 ;;
        --list) printf '%s\n' "${PACKAGES[@]}"; exit 0 ;;
        -h | --help) usage; exit 0 ;;
        *)
            printf '%s: error: unknown argument %s\n' "$PROG" "$1" >&2
            printf "Run '%s --help' for usage.\n" "$PROG" >&2
            exit 2
            ;;
    esac
    shift
done

if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
    die "apt-get and dpkg-query are needed (a Debian 12 system)"
fi

if [[ -r /etc/os-release ]]; then
    # shellcheck disable=SC1091
    os_id=$(. /etc/os-release && printf '%s %s' "${ID:-}" "${VERSION_ID:-}")
    if [[ $os_id != 'debian 12' ]]; then
        printf '%s: warning: made for Debian 12, this is %s; trying anyway\n' \
            "$PROG" "${os_id:-an unknown system}" >&2
    fi
fi

# Node's packages go into $BUILD/node (build by default), as the user
# running this, not root's global tree; make bench-compare points NODE_PATH
# there.
install_node_packages() {
    local dir=${BUILD:-build}/node
    if [[ -f $dir/node_modules/mqtt/package.json && $force -eq 0 ]]; then
        printf '%s: %s present in %s\n' "$PROG" "${NODE_PACKAGES[*]}" "$dir"
        return
    fi
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "${NODE_PACKAGES[@]}" ||
        die "npm install ${NODE_PACKAGES[*]} failed"
    printf '%s: %s installed in %s\n' "$PROG" "${NODE_PACKAGES[*]}" "$dir"
}

find_missing

if [[ $force -eq 0 && ${#missing[@]} -eq 0 ]]; then
    printf '%s: all %d packages are installed\n' "$PROG" "${#PACKAGES[@]}"
    install_node_packages
    exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "not root and sudo is not installed"
    sudo=(sudo)
fi

if [[ ${#missing[@]} -gt 0 ]]; then
    printf '%s: installing %s\n' "$PROG" "${missing[*]}"
fi
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    "${PACKAGES[@]}"

# Check that everything is now in place.
find_missing
[[ ${#missing[@]} -eq 0 ]] || die "still not installed: ${missing[*]}"
printf '%s: all %d packages are installed\n' "$PROG" "${#PACKAGES[@]}"
install_node_packages
