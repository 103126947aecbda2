#!/usr/bin/env bash
# `make demo`: the main job on embedded defaults (offline planner, SQLite checkpoints and audit,
# flagd JSON file, local JSONL traces) — no API key, no server.
set -euo pipefail
cd "$(dirname "$0")/.."
J=.venv/bin/jitplan
W=scenarios/world
HOME_DIR=${JITPLAN_HOME:-.jitplan/demo}
export JITPLAN_HOME=$HOME_DIR
mkdir -p "$HOME_DIR"
# The requester, configured once (every governed command needs a role and a region; the
# catalog's governance.roles/regions are checked against them). Policy is on by default: the
# bundle shipped in the package; --policy DIR / JITPLAN_POLICY replace it.
export JITPLAN_ROLE=${JITPLAN_ROLE:-operator} JITPLAN_REGION=${JITPLAN_REGION:-eu}
K=(--contracts $W/contracts.yaml --state $W/flags.json)
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. the catalog"
$J catalog validate $W/catalog.yaml

say "2. signals against their data contracts (healthy demand rise)"
$J signals check $W/signals/demand-rise.yaml --contracts $W/contracts.yaml --catalog $W/catalog.yaml

say "3. a planning cycle: perceive -> triage -> govern -> plan -> validate -> simulate -> decide -> record"
$J plan --catalog $W/catalog.yaml --signals $W/signals/demand-rise.yaml "${K[@]}" --out "$HOME_DIR/plan.json"
echo "-- no evidence for answer-synthesizer 1.0.0 yet: it is unproven, so the plan shadows it (no user sees it)"

say "3a. the next cycle, with the evidence its shadow gathered (scenarios/world/evidence): an evidence-backed canary"
$J plan --catalog $W/catalog.yaml --signals $W/signals/demand-rise.yaml "${K[@]}" --evidence $W/evidence \
  --out "$HOME_DIR/plan-evidence.json"

say "3b. the same inputs again: the plan cache skips the planner (the plan is still validated and simulated)"
thread=$($J plan --catalog $W/catalog.yaml --signals $W/signals/demand-rise.yaml "${K[@]}" --json \
  | .venv/bin/python -c 'import json,sys; d=json.load(sys.stdin); print(d["reasons"][0], file=sys.stderr); print(d["thread_id"])')

say "4. nothing changed: the fast path decides noop without a planner"
$J plan --catalog $W/catalog.yaml --signals $W/signals/steady.yaml "${K[@]}"

say "5. an instruction smuggled into a signal is data: the critical feature waits for a human"
$J plan --catalog $W/catalog.yaml --signals $W/signals/hostile.yaml "${K[@]}"

say "6. execute the approved rollout on copies of the flags file; gates judge canary vs baseline"
for f in flags.json flags-regressed.json; do cp $W/flags.json "$HOME_DIR/$f"; rm -rf "$HOME_DIR/$f.history"; done
rm -rf "$HOME_DIR/runs"
$J plan --catalog $W/catalog.yaml --signals $W/signals/demand-rise.yaml --contracts $W/contracts.yaml \
  --state "$HOME_DIR/flags.json" --evidence $W/evidence --out "$HOME_DIR/rollout.json" --json > /dev/null
# Each stage is judged only on samples observed after it began. A stand-in metrics pipeline
# (make_canary_snapshots.py --feed) scrapes once per stage into a watched folder.
FEED=
feed() {  # FLAGS SCENARIO DIR
  rm -rf "$3" && mkdir -p "$3"  # the folder exists before apply watches it (the feed starts async)
  .venv/bin/python scenarios/make_canary_snapshots.py --feed "$3" --flags "$1" --seconds 120 \
    answer-synthesizer "$2" & FEED=$!
}
stop_feed() { if [ -n "$FEED" ]; then kill "$FEED" 2>/dev/null || true; wait "$FEED" 2>/dev/null || true; FEED=; fi; }
trap stop_feed EXIT
A=(--contracts $W/contracts.yaml --poll 0.2)
echo "-- the canary regresses: the saga compensates, flags restored byte for byte"
feed "$HOME_DIR/flags-regressed.json" regressed "$HOME_DIR/live-regressed"
set +e
$J apply "$HOME_DIR/rollout.json" --state "$HOME_DIR/flags-regressed.json" --signals-dir "$HOME_DIR/live-regressed" "${A[@]}"
rc=$?
set -e
stop_feed
[ "$rc" -eq 1 ] || { echo "expected the regressed rollout to be compensated (exit 1), got $rc" >&2; exit 1; }
cmp $W/flags.json "$HOME_DIR/flags-regressed.json" && echo "flags file byte-identical to before the plan"
echo "-- a compensated run is final; after a fix, --retry starts a new audited attempt of the approved plan"
feed "$HOME_DIR/flags-regressed.json" healthy "$HOME_DIR/live-fixed"
$J apply "$HOME_DIR/rollout.json" --state "$HOME_DIR/flags-regressed.json" --signals-dir "$HOME_DIR/live-fixed" "${A[@]}" --retry
stop_feed
echo "-- healthy canary: every stage passes on its own fresh samples and the rollout completes"
feed "$HOME_DIR/flags.json" healthy "$HOME_DIR/live-healthy"
$J apply "$HOME_DIR/rollout.json" --state "$HOME_DIR/flags.json" --signals-dir "$HOME_DIR/live-healthy" "${A[@]}"
stop_feed

say "7. what the cycle cost and how long each node took"
$J report "$thread"

say "8. the audit chain is intact"
$J audit verify
echo
echo "plan written to $HOME_DIR/plan.json; traces in $HOME_DIR/traces.jsonl; audit log in $HOME_DIR/audit.db"
