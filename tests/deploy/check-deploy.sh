#!/usr/bin/env bash
# Checks the deployment artifacts with the tools operators use on them:
# promtool for the Prometheus configuration, alert rules and their unit
# tests, systemd-analyze for the unit (verify, and its security exposure
# rating), docker-compose for the compose stack (its model, as the engine
# would read it; no daemon runs here). Exits non-zero on the first failure.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
relay=${ZKRELAY_BIN:-$top/build/zkrelay}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0

check() {
	local what=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then
		pass=$((pass + 1))
	else
		echo "check-deploy: $what failed:" >&2
		cat "$tmp/out" >&2
		exit 1
	fi
}

command -v promtool >/dev/null || { echo "check-deploy: promtool missing (run deploy/install-deps.sh)" >&2; exit 1; }
command -v systemd-analyze >/dev/null || { echo "check-deploy: systemd-analyze missing (run deploy/install-deps.sh)" >&2; exit 1; }
command -v docker-compose >/dev/null || { echo "check-deploy: docker-compose missing (run deploy/install-deps.sh)" >&2; exit 1; }

check "promtool check rules" promtool check rules "$top/deploy/prometheus/alerts.yml"
check "promtool test rules" promtool test rules "$top/deploy/prometheus/alerts_test.yml"
check "promtool check config" promtool check config --syntax-only "$top/deploy/prometheus/prometheus.yml"

# The unit names the installed binary; verify it against this build.
sed "s|/usr/local/bin/zkrelay|$relay|g" "$top/deploy/systemd/zkrelay.service" >"$tmp/zkrelay.service"
check "systemd-analyze verify" systemd-analyze verify "$tmp/zkrelay.service"

# The unit's sandboxing as systemd rates it (offline: no running manager
# needed). Anything worse than "OK" (MEDIUM, EXPOSED, UNSAFE) fails.
security_rating() {
	local line
	systemd-analyze security --offline=yes --no-pager "$tmp/zkrelay.service" >"$tmp/security" 2>&1 || true
	line=$(grep -a 'Overall exposure level' "$tmp/security") || { cat "$tmp/security"; return 1; }
	echo "$line"
	[[ $line =~ (PERFECT|SAFE|OK) ]]
}
check "systemd-analyze security (exposure OK or better)" security_rating

# Every service, the demo data-safe's profile included, as compose reads it.
check "docker-compose config" docker-compose -p zkrelay -f "$top/deploy/compose/docker-compose.yml" \
	--profile demo config -q

echo "$pass passed, 0 failed"
