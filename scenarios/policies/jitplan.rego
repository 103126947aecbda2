# jitplan default policy bundle.
#
# Contract: package jitplan, rules `deny` and `escalate`, each a set of reason strings.
# Allowed iff deny is empty; escalate means a human must approve.
# Deterministic: no time, http, rand, uuid, net or opa.runtime built-ins (the loader refuses them).
# The input document is described in README.md next to this file.
# Note (rego-cpp): sprintf's %s quotes strings computed by other built-ins (concat, lower, ...);
# build such messages with concat instead.
package jitplan

import rego.v1

activating := {"enable", "canary", "promote", "shadow", "pin_version", "refresh_prompt"}

# Actions that switch a feature on (used to decide whether a dependency is active).
switching_on := {"enable", "canary", "promote"}

switching_off := {"disable", "rollback"}

toggling := switching_on | switching_off

full_rollout := {"enable", "promote"}

risk_level := {"low": 0, "medium": 1, "high": 2, "critical": 3}

has_plan if {
	is_object(input.plan)
}

# ---- which features the request touches / activates --------------------------------------

# Every spec in input.features is touched (the caller lists exactly what the plan acts on).
touched contains f if {
	some f in input.features
}

# Specs matching a step: same id, and same version when the step names one.
step_specs(s) := {f | some f in input.features; f.id == s.feature; version_matches(f, s)}

version_matches(_, s) if {
	not s.version
}

version_matches(_, s) if {
	s.version == null
}

version_matches(f, s) if {
	s.version == f.version
}

# activation[[i, f]]: step i (or -1 without a plan) activates spec f.
activation contains [i, f] if {
	has_plan
	some i, s in input.plan.steps
	s.action in activating
	some f in step_specs(s)
}

activation contains [-1, f] if {
	not has_plan
	some f in input.features
}

# ---- role and region (data sovereignty) ---------------------------------------------------

deny contains msg if {
	some f in touched
	count(f.governance.roles) > 0
	not input.request.role in f.governance.roles
	msg := concat("", ["role \"", input.request.role, "\" is not allowed to change ", f.id, " (allowed roles: ", concat(", ", f.governance.roles), ")"])
}

deny contains msg if {
	some f in touched
	count(f.governance.regions) > 0
	not input.request.region in f.governance.regions
	msg := concat("", ["region \"", input.request.region, "\" is not allowed for ", f.id, " (data sovereignty; allowed regions: ", concat(", ", f.governance.regions), ")"])
}

# ---- PII only behind an active redaction dependency ---------------------------------------

handles_pii(f) if {
	"pii" in f.risk.data_classes
	not contains(f.id, "redact")
}

redaction_deps(f) := {d.id | some d in f.depends_on; contains(d.id, "redact")}

deny contains msg if {
	some [_, f] in activation
	handles_pii(f)
	count(redaction_deps(f)) == 0
	msg := sprintf("%s handles pii but declares no redaction dependency (a depends_on id containing 'redact')", [f.id])
}

deny contains msg if {
	some [i, f] in activation
	handles_pii(f)
	deps := redaction_deps(f)
	count(deps) > 0
	not any_active_before(deps, i)
	msg := concat("", [f.id, " handles pii but its redaction dependency (", concat(", ", sort(deps)), ") is neither active nor enabled earlier in the plan"])
}

any_active_before(deps, i) if {
	some d in deps
	active_before(d, i)
}

toggles_before(d, i) := [k | s := input.plan.steps[k]; k < i; s.feature == d; s.action in toggling]

# The last earlier on/off step for d decides; with none, the deployed state decides.
active_before(d, i) if {
	ks := toggles_before(d, i)
	count(ks) > 0
	input.plan.steps[max(ks)].action in switching_on
}

active_before(d, i) if {
	count(toggles_before(d, i)) == 0
	input.state[d].enabled == true
}

# ---- risk tier -> human approval ----------------------------------------------------------

escalate contains msg if {
	some f in touched
	risk_level[f.risk.tier] >= 2
	msg := sprintf("%s@%s is %s risk: a human must approve", [f.id, f.version, f.risk.tier])
}

escalate contains msg if {
	some f in touched
	f.governance.human_approval == true
	msg := sprintf("%s@%s requires human approval (governance.human_approval)", [f.id, f.version])
}

# ---- budget ceilings ----------------------------------------------------------------------

usable_signal(fid, kind) := [s.value | some s in input.signals; s.feature == fid; s.kind == kind; s.quarantined == false]

per_request_usd(f) := max(array.concat([f.cost.per_request_usd], usable_signal(f.id, "cost")))

# Share of the feature's traffic a step sends to the version: the canary weight, else all of it.
traffic_share(i) := input.plan.steps[i].params.weight / 100 if {
	i >= 0
	input.plan.steps[i].action == "canary"
	is_number(input.plan.steps[i].params.weight)
} else := 1

deny contains msg if {
	some [i, f] in activation
	demand := usable_signal(f.id, "demand")
	count(demand) > 0
	share := traffic_share(i)
	projected := ((max(demand) * 1440) * per_request_usd(f)) * share
	projected > f.cost.daily_budget_usd
	msg := sprintf("%s@%s projected daily cost %.2f USD (%v rpm x 1440 min x %v USD/request x %v%% of traffic) exceeds its daily budget of %v USD", [f.id, f.version, projected, max(demand), per_request_usd(f), share * 100, f.cost.daily_budget_usd])
}

deny contains msg if {
	has_plan
	some s in input.plan.steps
	s.action == "set_budget"
	some f in step_specs(s)
	is_number(s.params.usd_per_day)
	s.params.usd_per_day > f.cost.daily_budget_usd
	msg := sprintf("step %s sets %s budget to %v USD/day, above its catalog ceiling of %v USD/day", [s.id, f.id, s.params.usd_per_day, f.cost.daily_budget_usd])
}

# ---- no activation on quarantined signals -------------------------------------------------

deny contains msg if {
	some [_, f] in activation
	some s in input.signals
	s.quarantined == true
	s.feature == f.id
	msg := concat("", [f.id, " cannot be activated: its signal ", s.name, " is quarantined (", concat("; ", s.reasons), ")"])
}

# ---- no full rollout without a canary first for medium+ risk ------------------------------

is_full_rollout(s) if {
	s.action in full_rollout
}

is_full_rollout(s) if {
	s.action == "canary"
	s.params.weight >= 100
}

partial_canary_before(fid, i) if {
	some k, s in input.plan.steps
	k < i
	s.feature == fid
	s.action == "canary"
	s.params.weight > 0
	s.params.weight < 100
}

partial_canary_before(fid, _) if {
	input.state[fid].canary_weight > 0
}

deny contains msg if {
	has_plan
	some i, s in input.plan.steps
	is_full_rollout(s)
	some f in step_specs(s)
	risk_level[f.risk.tier] >= 1
	not partial_canary_before(f.id, i)
	msg := sprintf("step %s rolls %s (%s risk) out to 100%% without a canary step first", [s.id, f.id, f.risk.tier])
}
