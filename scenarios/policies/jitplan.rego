# jitplan default policy bundle.
#
# Contract: package jitplan, rules `deny` and `escalate`, each a set of reason strings.
# Allowed iff deny is empty; escalate means a human must approve.
# Deterministic: no time, http, rand, uuid, net or opa.runtime built-ins (the loader refuses them).
# The input document is described in README.md next to this file.
#
# Written for rego-cpp's performance profile: per-feature facts are computed once as rules keyed
# by "id@version" (rules are memoized), rules join on those keys instead of iterating whole
# objects, and no set holds whole objects.
# rego-cpp quirks: no `some k, v in` inside comprehensions; start a comprehension body on the
# `|` line; sprintf's %s quotes strings computed by other built-ins, so use concat for those.
package jitplan

import rego.v1

activating := {"enable", "canary", "promote", "shadow", "pin_version", "refresh_prompt"}

switching_on := {"enable", "canary", "promote"}

toggling := {"enable", "canary", "promote", "disable", "rollback"}

risk_level := {"low": 0, "medium": 1, "high": 2, "critical": 3}

has_plan if is_object(input.plan)

# ---- what the request activates -----------------------------------------------------------

spec_by_key := {k: f | some f in input.features; k := concat("@", [f.id, f.version])}

# The steps judged for activation: the plan's, or without a plan one synthetic "activate" step
# per listed feature (the `jitplan policy eval` question).
act_steps := input.plan.steps if has_plan else := [{"id": "request", "action": "enable", "feature": f.id, "version": f.version} | some f in input.features]

# One row per activation: [step index, spec key, feature id, action, canary weight, step id].
# A step acts on the version it names, or on every listed version of its feature.
acts := array.concat(
	[[i, k, s.feature, s.action, object.get(s, ["params", "weight"], null), s.id] | s := act_steps[i]; s.action in activating; is_string(s.version); k := concat("@", [s.feature, s.version]); spec_by_key[k]],
	[[s.i, k, s.feature, s.action, object.get(s, ["params", "weight"], null), s.id] | some s in unversioned_acts; some f in input.features; f.id == s.feature; k := concat("@", [f.id, f.version])],
)

# Activating steps naming no version, with their index (kept apart: the join is costly).
unversioned_acts := [object.union(s, {"i": i}) | s := act_steps[i]; s.action in activating; not is_string(s.version)]

# ---- role and region (data sovereignty) ---------------------------------------------------

deny contains msg if {
	some f in input.features
	count(f.governance.roles) > 0
	not input.request.role in f.governance.roles
	msg := concat("", ["role \"", input.request.role, "\" is not allowed to change ", f.id, " (allowed roles: ", concat(", ", f.governance.roles), ")"])
}

deny contains msg if {
	some f in input.features
	count(f.governance.regions) > 0
	not input.request.region in f.governance.regions
	msg := concat("", ["region \"", input.request.region, "\" is not allowed for ", f.id, " (data sovereignty; allowed regions: ", concat(", ", f.governance.regions), ")"])
}

# ---- PII only behind an active redaction dependency ---------------------------------------

# Spec key -> ids of its redaction dependencies, for specs handling pii (a redactor itself
# needs none).
pii_redactors[k] := {d.id | some d in f.depends_on; contains(d.id, "redact")} if {
	some f in input.features
	"pii" in f.risk.data_classes
	not contains(f.id, "redact")
	k := concat("@", [f.id, f.version])
}

deny contains msg if {
	some a in acts
	count(pii_redactors[a[1]]) == 0
	msg := sprintf("%s handles pii but declares no redaction dependency (a depends_on id containing 'redact')", [a[2]])
}

deny contains msg if {
	some a in acts
	deps := pii_redactors[a[1]]
	count(deps) > 0
	not any_active_before(deps, a[0])
	msg := concat("", [a[2], " handles pii but its redaction dependency (", concat(", ", sort(deps)), ") is neither active nor enabled earlier in the plan"])
}

# Redactor id -> the plan's on/off steps for it, as [step index, switches on].
redactor_toggles[d] := [[j, t.action in switching_on] | t := input.plan.steps[j]; t.feature == d; t.action in toggling] if {
	has_plan
	some k, _ in pii_redactors
	some d in pii_redactors[k]
}

any_active_before(deps, i) if {
	some d in deps
	active_before(d, i)
}

# The last earlier on/off step for d decides; with none, the deployed state decides.
active_before(d, i) if {
	earlier := [t | some t in object.get(redactor_toggles, d, []); t[0] < i]
	count(earlier) > 0
	earlier[count(earlier) - 1][1] == true
}

active_before(d, i) if {
	count([t | some t in object.get(redactor_toggles, d, []); t[0] < i]) == 0
	input.state[d].enabled == true
}

# ---- risk tier -> human approval ----------------------------------------------------------

escalate contains msg if {
	some f in input.features
	risk_level[f.risk.tier] >= 2
	msg := sprintf("%s@%s is %s risk: a human must approve", [f.id, f.version, f.risk.tier])
}

escalate contains msg if {
	some f in input.features
	f.governance.human_approval == true
	msg := sprintf("%s@%s requires human approval (governance.human_approval)", [f.id, f.version])
}

# ---- budget ceilings ----------------------------------------------------------------------

# Feature id -> highest usable (not quarantined) demand (rpm) / observed cost per request.
demand_rpm[fid] := max([v.value | some v in input.signals; v.feature == fid; v.kind == "demand"; v.quarantined == false]) if {
	some s in input.signals
	s.kind == "demand"
	s.quarantined == false
	fid := s.feature
}

observed_cost[fid] := max([v.value | some v in input.signals; v.feature == fid; v.kind == "cost"; v.quarantined == false]) if {
	some s in input.signals
	s.kind == "cost"
	s.quarantined == false
	fid := s.feature
}

# Share of the feature's traffic a step sends to the version: the canary weight, else all.
share(a) := a[4] / 100 if {
	a[3] == "canary"
	is_number(a[4])
} else := 1

deny contains msg if {
	some a in acts
	demand := demand_rpm[a[2]]
	f := spec_by_key[a[1]]
	cost := max([f.cost.per_request_usd, object.get(observed_cost, a[2], 0)])
	projected := ((demand * 1440) * cost) * share(a)
	projected > f.cost.daily_budget_usd
	msg := sprintf("%s@%s projected daily cost %.2f USD (%v rpm x 1440 min x %v USD/request x %v%% of traffic) exceeds its daily budget of %v USD", [f.id, f.version, projected, demand, cost, share(a) * 100, f.cost.daily_budget_usd])
}

deny contains msg if {
	has_plan
	some s in input.plan.steps
	s.action == "set_budget"
	is_number(s.params.usd_per_day)
	some f in input.features
	f.id == s.feature
	s.params.usd_per_day > f.cost.daily_budget_usd
	msg := sprintf("step %s sets %s budget to %v USD/day, above its catalog ceiling of %v USD/day", [s.id, f.id, s.params.usd_per_day, f.cost.daily_budget_usd])
}

# ---- no activation on quarantined signals -------------------------------------------------

# Feature id -> one reason per quarantined signal of that feature.
quarantine_reasons[fid] := [concat("", [s.name, " is quarantined (", concat("; ", s.reasons), ")"]) | some s in input.signals; s.feature == fid; s.quarantined == true] if {
	some q in input.signals
	q.quarantined == true
	fid := q.feature
}

deny contains msg if {
	some a in acts
	some reason in quarantine_reasons[a[2]]
	msg := concat("", [a[2], " cannot be activated: its signal ", reason])
}

# ---- no full rollout without a canary first for medium+ risk ------------------------------

full_rollout(a) if a[3] in {"enable", "promote"}

full_rollout(a) if {
	a[3] == "canary"
	a[4] >= 100
}

# [step index, feature id] of every partial (0 < weight < 100) canary step.
partial_canaries := [[i, s.feature] | s := input.plan.steps[i]; s.action == "canary"; s.params.weight > 0; s.params.weight < 100] if has_plan else := []

partial_canary_before(fid, i) if {
	some p in partial_canaries
	p[1] == fid
	p[0] < i
}

partial_canary_before(fid, _) if input.state[fid].canary_weight > 0

deny contains msg if {
	has_plan
	some a in acts
	full_rollout(a)
	tier := spec_by_key[a[1]].risk.tier
	risk_level[tier] >= 1
	not partial_canary_before(a[2], a[0])
	msg := sprintf("step %s rolls %s (%s risk) out to 100%% without a canary step first", [a[5], a[2], tier])
}
