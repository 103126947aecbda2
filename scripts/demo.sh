#!/usr/bin/env bash
# The main job on embedded defaults: no API key, no server.
set -euo pipefail
cd "$(dirname "$0")/.."
J=.venv/bin/jitplan
W=scenarios/world
echo "== catalog"
$J catalog validate $W/catalog.yaml
echo
echo "== signals (healthy demand rise)"
$J signals check $W/signals/demand-rise.yaml --contracts $W/contracts.yaml --catalog $W/catalog.yaml
echo
echo "== signals (stale and out-of-contract: quarantined, exit 1 expected)"
set +e
$J signals check $W/signals/stale.yaml --contracts $W/contracts.yaml --catalog $W/catalog.yaml
rc=$?
set -e
[ "$rc" -eq 1 ] || { echo "expected exit 1 for quarantined signals, got $rc" >&2; exit 1; }
