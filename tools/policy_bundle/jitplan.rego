# jitplan default policy bundle.
#
# Contract: package jitplan, rules `deny` and `escalate`, each a set of reason strings.
# Allowed iff deny is empty; escalate means a human must approve.
# Deterministic: no time, http, rand, uuid, net or opa.runtime built-ins (the loader refuses them).
# The input document and the rules are described in scenarios/policies/README.md (repository).
#
# Written for rego-cpp's cost model (README.md, "Writing rules for rego-cpp"): each rule body
# iterates one collection; per-feature facts are computed once, keyed by "id@version", as small
# arrays; sets are combined with built-ins (&, -, array.slice) rather than joined row by row;
# the plan's steps are indexed once, into `acts`.
# rego-cpp quirks: no `some k, v in` inside comprehensions; start a comprehension body on the
# `|` line; sprintf's %s quotes strings computed by other built-ins, so use concat for those.
package jitplan

import rego.v1

activating := {"enable", "canary", "promote", "shadow", "pin_version", "refresh_prompt"}

switching_on := {"enable", "canary", "promote"}

toggling := {"enable", "canary", "promote", "disable", "rollback"}

has_plan if is_object(input.plan)

plan_steps := input.plan.steps if has_plan else := []

state := input.state if is_object(input.state) else := {}

# ---- the listed features ------------------------------------------------------------------

# Their keys, "id@version".
spec_keys := {concat("@", [f.id, f.version]) | some f in input.features}

# Key -> risk tier, of the medium+ risk ones.
medium_plus_risk := {k: f.risk.tier | some f in input.features; f.risk.tier in {"medium", "high", "critical"}; k := concat("@", [f.id, f.version])}

medium_plus_keys := object.keys(medium_plus_risk)

# ---- what the request activates -----------------------------------------------------------

# The steps judged for activation: the plan's, or without a plan one synthetic "activate" step
# per listed feature (the `jitplan policy eval` question).
act_steps := input.plan.steps if has_plan else := [{"id": "request", "action": "enable", "feature": f.id, "version": f.version} | some f in input.features]

# One row per activation: [step index, spec key, feature id, action, canary weight, step id].
# A step acts on the version it names, or on every listed version of its feature. Rows for
# versions not in input.features are kept (a per-row check costs more than it saves); rules
# reach them through `act_keys` or per-spec facts, which hold only listed versions.
acts := array.concat(
	[[i, concat("@", [s.feature, s.version]), s.feature, s.action, object.get(s, ["params", "weight"], null), s.id] | s := act_steps[i]; s.action in activating; is_string(s.version)],
	[[s.i, k, s.feature, s.action, object.get(s, ["params", "weight"], null), s.id] | some s in unversioned_acts; some f in input.features; f.id == s.feature; k := concat("@", [f.id, f.version])],
)

# Activating steps naming no version, with their index (kept apart: the join is costly).
unversioned_acts := [object.union(s, {"i": i}) | s := act_steps[i]; s.action in activating; not is_string(s.version)]

act_keys := {a[1] | some a in acts} & spec_keys

# Features activated, whether or not the version is listed (quarantine blocks any activation).
act_features := {a[2] | some a in acts}

# ---- role and region (data sovereignty) ---------------------------------------------------

# [feature id, allowed roles] of each listed feature the requester's role may not change.
# (A role or region that is not given is refused outside Rego too: jitplan checks the catalog's
# roles and regions itself, with these same messages, whatever the bundle says.)
role_refusals := [[f.id, f.governance.roles] | some f in input.features; count(f.governance.roles) > 0; is_string(input.request.role); not input.request.role in f.governance.roles]

deny contains msg if {
	some r in role_refusals
	msg := concat("", ["role \"", input.request.role, "\" is not allowed to change ", r[0], " (allowed roles: ", concat(", ", r[1]), ")"])
}

# [feature id, allowed regions] of each listed feature not allowed in the request's region.
region_refusals := [[f.id, f.governance.regions] | some f in input.features; count(f.governance.regions) > 0; is_string(input.request.region); not input.request.region in f.governance.regions]

deny contains msg if {
	some r in region_refusals
	msg := concat("", ["region \"", input.request.region, "\" is not allowed for ", r[0], " (data sovereignty; allowed regions: ", concat(", ", r[1]), ")"])
}

# ---- PII only behind an active redaction dependency ---------------------------------------

# Redaction is a declared capability: a redactor says `provides: [pii_redaction]` in the
# catalog, and each depends_on entry in the input carries what its feature provides.

# Spec key -> ids of its dependencies providing pii_redaction, for specs handling pii (a
# feature that itself provides pii_redaction needs none).
pii_redactors := {k: deps | some f in input.features; "pii" in f.risk.data_classes; not "pii_redaction" in object.get(f, "provides", []); k := concat("@", [f.id, f.version]); deps := {d.id | some d in f.depends_on; "pii_redaction" in object.get(d, "provides", [])}}

# Activated pii specs with no dependency providing pii_redaction.
unredacted_keys := act_keys & {k | deps := pii_redactors[k]; count(deps) == 0}

deny contains msg if {
	some k in unredacted_keys
	msg := sprintf("%s handles pii but no dependency provides pii_redaction (declare depends_on a feature with provides: [pii_redaction])", [split(k, "@")[0]])
}

redactor_ids := {d | deps := pii_redactors[_]; some d in deps}

# Redactor id -> the plan's on/off steps for it, as [step index, switches on]; only redactors
# the plan switches.
redactor_toggles := {d: toggles | some d in redactor_ids; toggles := [[j, t.action in switching_on] | t := plan_steps[j]; t.feature == d; t.action in toggling]; count(toggles) > 0}

# Redactors the plan never switches that are active in the deployed state: on throughout.
redactors_on := {d | some d in redactor_ids; not redactor_toggles[d]; state[d].enabled == true}

# Activated pii specs none of whose redactors is simply on: judged step by step.
pii_suspect_keys := act_keys & {k | deps := pii_redactors[k]; count(deps) > 0; count(deps & redactors_on) == 0}

pii_suspect_acts := [a | some a in acts; a[1] in pii_suspect_keys]

# [feature id, redactor ids] of each pii activation with none of its redactors on at its step.
unredacted_acts := [[a[2], deps] | some a in pii_suspect_acts; deps := pii_redactors[a[1]]; count([d | some d in deps; active_before(a[0], object.get(redactor_toggles, d, []), object.get(state, [d, "enabled"], false))]) == 0]

deny contains msg if {
	some r in unredacted_acts
	msg := concat("", [r[0], " handles pii but its redaction dependency (", concat(", ", sort(r[1])), ") is neither active nor enabled earlier in the plan"])
}

# Whether a redactor is on just before step i, given its on/off steps in the plan and whether
# it is enabled in the deployed state: the last earlier on/off step decides; with none, the
# deployed state does. (Functions take rule values as arguments: rego-cpp re-evaluates a rule
# referenced inside a function at every call.)
active_before(i, toggles, deployed) if {
	earlier := [t | some t in toggles; t[0] < i]
	count(earlier) > 0
	earlier[count(earlier) - 1][1] == true
}

active_before(i, toggles, deployed) if {
	count([t | some t in toggles; t[0] < i]) == 0
	deployed == true
}

# ---- risk tier -> human approval ----------------------------------------------------------

high_risk := [[f.id, f.version, f.risk.tier] | some f in input.features; f.risk.tier in {"high", "critical"}]

escalate contains msg if {
	some r in high_risk
	msg := sprintf("%s@%s is %s risk: a human must approve", r)
}

approval_required := [[f.id, f.version] | some f in input.features; f.governance.human_approval == true]

escalate contains msg if {
	some r in approval_required
	msg := sprintf("%s@%s requires human approval (governance.human_approval)", r)
}

# ---- budget ceilings ----------------------------------------------------------------------

# Usable (not quarantined) [feature id, value] rows of one signal kind.
usable_demand := [[s.feature, s.value] | some s in input.signals; s.kind == "demand"; s.quarantined == false; is_number(s.value)]

usable_cost := [[s.feature, s.value] | some s in input.signals; s.kind == "cost"; s.quarantined == false; is_number(s.value)]

# Feature id -> highest usable demand (rpm) / observed cost per request.
demand_rpm := highest_by_key(usable_demand)

observed_cost := highest_by_key(usable_cost)

# rego-cpp's max, min and sort compare numbers as text (max([2.5, 10]) is 2.5, sort([3, 20]) is
# [20, 3]) and order null above numbers, so numbers are only compared with < and >, after
# is_number.
larger(a, b) := a if {
	a >= b
} else := b

smaller(a, b) := a if {
	a <= b
} else := b

# [[key, number], ...] -> {key: its highest number}. With one row per key (the usual case) that
# is the rows themselves; otherwise each row is compared with the rows of its key.
highest_by_key(rows) := {r[0]: r[1] | some r in rows} if {
	count(rows) == count({r[0] | some r in rows})
} else := {r[0]: r[1] | some r in rows; count([o | some o in rows; o[0] == r[0]; o[1] > r[1]]) == 0}

# Share of the feature's traffic a step sends to the version: the canary weight (at most all
# of it), else all.
share(a) := smaller(a[4], 100) / 100 if {
	a[3] == "canary"
	is_number(a[4])
} else := 1

# Activated spec key -> [USD/day at all of the feature's traffic, demand rpm, USD/request,
# daily budget] for specs over their budget at full traffic (no share of the traffic costs
# more, so only their activations need a closer look). The per-request cost is the larger of the
# envelope and the observed cost.
over_budget_at_full := {k: [full, demand, cost, f.cost.daily_budget_usd] | some f in input.features; k := concat("@", [f.id, f.version]); k in act_keys; demand := demand_rpm[f.id]; cost := larger(f.cost.per_request_usd, object.get(observed_cost, f.id, 0)); full := (demand * 1440) * cost; full > f.cost.daily_budget_usd}

over_budget_keys := object.keys(over_budget_at_full)

# [spec key, projected USD/day, demand rpm, USD/request, traffic share, daily budget] of each
# activation projected over its version's daily budget.
over_budget := [[a[1], c[0] * sh, c[1], c[2], sh, c[3]] | some a in acts; a[1] in over_budget_keys; c := over_budget_at_full[a[1]]; sh := share(a); c[0] * sh > c[3]]

deny contains msg if {
	some r in over_budget
	msg := concat("", [r[0], sprintf(" projected daily cost %.2f USD (%v rpm x 1440 min x %v USD/request x %v%% of traffic) exceeds its daily budget of %v USD", [r[1], r[2], r[3], r[4] * 100, r[5]])])
}

budget_steps := [s | some s in plan_steps; s.action == "set_budget"; is_number(s.params.usd_per_day)]

deny contains msg if {
	some s in budget_steps
	ceilings := [f.cost.daily_budget_usd | some f in input.features; f.id == s.feature]
	some ceiling in ceilings
	s.params.usd_per_day > ceiling
	count([c | some c in ceilings; c < ceiling]) == 0
	msg := sprintf("step %s sets %s budget to %v USD/day, above its catalog ceiling of %v USD/day", [s.id, s.feature, s.params.usd_per_day, ceiling])
}

# ---- no activation on quarantined signals -------------------------------------------------

quarantined_signals := [s | some s in input.signals; s.quarantined == true; s.feature in act_features]

deny contains msg if {
	some s in quarantined_signals
	msg := concat("", [s.feature, " cannot be activated: its signal ", s.name, " is quarantined (", concat("; ", s.reasons), ")"])
}

# ---- no full rollout without a canary first for medium+ risk ------------------------------

# Per plan step: its feature when it is a partial (0 < weight < 100) canary, else "" (so
# "a partial canary of f before step i" is `f in array.slice(partial_canary_at, 0, i)`).
partial_canary_at := [partial_canary_feature(s) | some s in plan_steps]

partial_canary_feature(s) := s.feature if {
	s.action == "canary"
	is_number(s.params.weight)
	s.params.weight > 0
	s.params.weight < 100
} else := ""

# Activations of a medium+ risk version that send it all traffic (enable, promote, or a canary
# at weight 100, or with no numeric weight: an unknown share is judged as all of it).
full_rollouts := array.concat([a | some a in acts; a[3] in {"enable", "promote"}; a[1] in medium_plus_keys], array.concat([a | some a in acts; a[3] == "canary"; is_number(a[4]); a[4] >= 100; a[1] in medium_plus_keys], [a | some a in acts; a[3] == "canary"; not is_number(a[4]); a[1] in medium_plus_keys]))

# [step id, feature id, risk tier] of each such activation with no partial canary before it
# (in the plan, or already running in the deployed state).
uncanaried := [[a[5], a[2], medium_plus_risk[a[1]]] | some a in full_rollouts; not a[2] in array.slice(partial_canary_at, 0, a[0]); not canary_running(a[2])]

canary_running(fid) if {
	is_number(state[fid].canary_weight)
	state[fid].canary_weight > 0
}

deny contains msg if {
	has_plan
	some r in uncanaried
	msg := sprintf("step %s rolls %s (%s risk) out to 100%% without a canary step first", r)
}
