#!/usr/bin/env bash
# Installs what `make bench-compare` needs beside the build's own packages:
# NATS, Mosquitto, their client libraries, gnuplot, Node and Node's mqtt
# package (see deploy/install-deps.sh --help, option --bench). Kept apart
# so that CI's install stays lean.
exec "$(dirname "$0")/install-deps.sh" --bench "$@"
