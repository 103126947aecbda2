"""Seeded generator of large synthetic catalogs (benchmarks, property tests).

    python scenarios/generate_catalog.py --n 200 --seed 0 > /tmp/catalog200.yaml

The result is a valid catalog: dependencies point only at earlier features (no cycles) with
ranges some version satisfies; every risk tier and kind appears.
"""

from __future__ import annotations

import argparse
import random
import sys
from typing import Any

KINDS = ["prompt", "reasoning", "adapter", "pipeline"]
TIERS = ["low", "low", "low", "medium", "medium", "high", "critical"]
REGIONS = ["eu", "us", "apac"]
ROLES = ["operator", "ml-engineer", "support-lead", "payments-lead"]
DOMAINS = ["ticket", "refund", "search", "reply", "fraud", "churn", "intent", "tone", "sql", "triage"]
VERBS = ["summarizer", "classifier", "ranker", "drafter", "screener", "router", "rewriter", "tagger"]


def generate_catalog(n: int = 200, seed: int = 0) -> dict[str, Any]:
    """A catalog mapping with ``n`` feature ids (some with two versions) and a redactor at index 0."""
    rng = random.Random(seed)
    features: list[dict[str, Any]] = []
    ids: list[str] = []
    for i in range(n):
        fid = "pii-redactor" if i == 0 else f"{rng.choice(DOMAINS)}-{rng.choice(VERBS)}-{i:03d}"
        tier = "medium" if i == 0 else rng.choice(TIERS)
        classes = ["pii"] if (i == 0 or rng.random() < 0.2) else ["public"]
        deps: list[dict[str, str]] = []
        if ids and rng.random() < 0.4:
            for dep in sorted(rng.sample(ids, k=min(len(ids), rng.randint(1, 2)))):
                deps.append({"id": dep, "version": ">=1.0,<2"})
        if "pii" in classes and i > 0 and not any(d["id"] == "pii-redactor" for d in deps):
            deps.append({"id": "pii-redactor", "version": ">=1.0,<2"})
        n_versions = 2 if rng.random() < 0.25 else 1
        for v in range(n_versions):
            per_req = round(rng.uniform(0.00001, 0.01), 6)
            features.append(
                {
                    "id": fid,
                    "version": f"1.{v}.0",
                    "kind": rng.choice(KINDS),
                    "description": f"Synthetic feature {i} ({fid}) version 1.{v}.0.",
                    "owner": f"team-{rng.randint(1, 12)}",
                    "cost": {
                        "per_request_usd": per_req,
                        "daily_budget_usd": round(per_req * rng.uniform(5_000, 200_000), 2),
                    },
                    "risk": {"tier": tier, "data_classes": classes, "harms": []},
                    "governance": {
                        "regions": sorted(rng.sample(REGIONS, k=rng.randint(1, 3))),
                        "roles": sorted([*rng.sample(ROLES, k=rng.randint(1, 3)), "operator"]),
                        "human_approval": tier in ("high", "critical"),
                    },
                    "slo": {
                        "latency_p95_ms": float(rng.choice([200, 500, 1000, 2500, 5000])),
                        "error_rate_max": rng.choice([0.001, 0.005, 0.01, 0.02]),
                        "quality_min": round(rng.uniform(0.7, 0.95), 2),
                    },
                    "triggers": {"demand_min_rpm": float(rng.choice([10, 30, 60, 120])), "drift_max": 0.1},
                    "depends_on": deps,
                    **({"provides": ["pii_redaction"]} if i == 0 else {}),
                }
            )
        ids.append(fid)
    for f in features:  # dedupe roles
        f["governance"]["roles"] = sorted(set(f["governance"]["roles"]))
    return {"catalog": f"synthetic-{n}", "version": f"{seed}", "features": features}


def main(argv: list[str] | None = None) -> int:
    import yaml

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    yaml.safe_dump(generate_catalog(args.n, args.seed), sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
