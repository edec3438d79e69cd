#!/usr/bin/env bash
# Installs the Debian 12 packages that building zkrelay, running its tests
# and its development tooling need; with --bench, instead those that
# `make bench-compare` needs (deploy/install-bench-deps.sh runs that).
# Run with --help for usage.

set -euo pipefail
export LC_ALL=C

PROG=${0##*/}
BASE_PACKAGES=(
    # build
    build-essential
    pkg-config
    make
    libuv1-dev
    libwebsockets-dev
    libwebsockets-evlib-uv # lws event-lib plugin for libuv, loaded at run time
    libssl-dev
    libprotobuf-c-dev
    protobuf-c-compiler
    libjansson-dev
    libinih-dev
    libseccomp-dev          # the syscall filter ([relay] seccomp)
    libjemalloc-dev         # the relay's allocator (not in sanitizer builds)
    # tests and dev tooling
    check
    clang
    openssl
    sslscan
    procps
    prometheus      # promtool: checks /metrics output and the alert rules
    systemd         # systemd-analyze: checks the unit
    docker-compose  # "docker-compose config" checks deploy/compose (no daemon needed)
    ca-certificates
    git
)
# make bench-compare, beside the build's own: the brokers zkrelay is
# compared with, their client libraries for the load generators, gnuplot.
# Kept apart so that CI's install stays lean.
BENCH_PACKAGES=(
    nats-server      # NATS 2.9, TLS with client certificates
    mosquitto        # Mosquitto 2.0: MQTT over TLS and over WebSockets (its lws)
    libnats-dev      # the NATS C client, for the NATS load generator
    libmosquitto-dev # the Mosquitto C client, for the MQTT-over-TLS generator
    gnuplot-nox      # the PNG plots
)
# Node's mqtt package, for the MQTT-over-WebSockets generator: into
# $BUILD/node (build/ unless BUILD is set), as the user running this.
readonly NODE_PACKAGES=(mqtt@5)

usage() {
    cat <<EOF
Usage: $PROG [--bench] [--force] [--list]

Installs the Debian 12 packages that zkrelay's build, tests and development
tooling need, with apt-get (through sudo when not run as root).

  --bench   instead, what make bench-compare needs: NATS, Mosquitto, their
            client libraries, gnuplot, Node (Debian's, if there is no npm)
            and Node's mqtt package (npm, into \$BUILD/node)
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

# Node's packages go into $BUILD/node, not root's global tree; make
# bench-compare points NODE_PATH there.
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

force=0
bench=0
list=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --bench) bench=1 ;;
        --force) force=1 ;;
        --list) list=1 ;;
        -h | --help) usage; exit 0 ;;
        *)
            printf '%s: error: unknown argument %s\n' "$PROG" "$1" >&2
            printf "Run '%s --help' for usage.\n" "$PROG" >&2
            exit 2
            ;;
    esac
    shift
done

PACKAGES=("${BASE_PACKAGES[@]}")
if [[ $bench -eq 1 ]]; then
    PACKAGES=("${BENCH_PACKAGES[@]}")
    # A Node that came with its own npm (not Debian's) conflicts with
    # Debian's npm package: Debian's pair only when there is no npm at all.
    command -v npm >/dev/null || PACKAGES+=(nodejs npm)
fi
readonly PACKAGES
if [[ $list -eq 1 ]]; then
    printf '%s\n' "${PACKAGES[@]}"
    exit 0
fi

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

find_missing

if [[ $force -eq 0 && ${#missing[@]} -eq 0 ]]; then
    printf '%s: all %d packages are installed\n' "$PROG" "${#PACKAGES[@]}"
    [[ $bench -eq 0 ]] || install_node_packages
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
[[ $bench -eq 0 ]] || install_node_packages
