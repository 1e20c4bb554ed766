"""The run report: counts in and out of every step and per source, drop reasons,
length distributions before and after, and preference-pair statistics.

It serialises to stable JSON (sorted keys, no timings, no absolute paths) and to
a readable summary.

    >>> distribution([3, 1, 2])["p50"]
    2
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from alignkit.recipes.items import Drop


def distribution(values: Sequence[int | float]) -> dict[str, Any]:
    """Count, min, p10/p25/p50/p75/p90 (nearest rank), max and mean of ``values``."""
    if not values:
        return {"count": 0}
    v = sorted(values)
    n = len(v)

    def q(p: float) -> int | float:
        return v[min(n - 1, max(0, int(round(p * (n - 1)))))]

    return {"count": n, "min": v[0], "p10": q(0.1), "p25": q(0.25), "p50": q(0.5),
            "p75": q(0.75), "p90": q(0.9), "max": v[-1], "mean": round(sum(v) / n, 2)}


def _by_source(units: Sequence[Any]) -> Counter[str]:
    return Counter(u.source for u in units)


class Report:
    """Collects what a recipe run did; :meth:`to_json` and :meth:`summary` render it."""

    def __init__(self, name: str, kind: str, seed: int) -> None:
        self.data: dict[str, Any] = {"recipe": name, "kind": kind, "seed": seed,
                                     "inputs": [], "steps": [], "lengths": {}}

    def add_input(self, source: str, path: str, fmt: str, read: int, rejected: Sequence[Drop]) -> None:
        self.data["inputs"].append({
            "source": source, "path": path, "format": fmt, "records": read + len(rejected),
            "read": read, "rejected": len(rejected),
            "rejected_reasons": dict(sorted(Counter(d.reason for d in rejected).items())),
        })

    def add_step(self, index: int, step_type: str, before: Sequence[Any], after: Sequence[Any],
                 drops: Sequence[Drop], stats: dict[str, Any]) -> None:
        src_in, src_out, src_drop = _by_source(before), _by_source(after), _by_source(drops)
        per_source = {s: {"in": src_in[s], "out": src_out[s], "dropped": src_drop[s]}
                      for s in sorted(set(src_in) | set(src_out))}
        self.data["steps"].append({
            "index": index, "type": step_type, "in": len(before), "out": len(after),
            "dropped": len(drops), "reasons": dict(sorted(Counter(d.reason for d in drops).items())),
            "per_source": per_source, **({"stats": stats} if stats else {}),
        })

    def set_lengths(self, label: str, when: str, values: Sequence[int]) -> None:
        self.data["lengths"].setdefault(label, {})[when] = distribution(values)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value

    def to_json(self) -> str:
        return json.dumps(self.data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def summary(self) -> str:
        """A short human-readable account of the run."""
        d = self.data
        lines = [f"recipe {d['recipe']!r} ({d['kind']}, seed {d['seed']})", "inputs:"]
        for i in d["inputs"]:
            rej = f", {i['rejected']} rejected ({_fmt(i['rejected_reasons'])})" if i["rejected"] else ""
            lines.append(f"  {i['source']:<16} {i['read']:>8} read{rej}")
        lines.append("steps:")
        for s in d["steps"]:
            why = f"  [{_fmt(s['reasons'])}]" if s["reasons"] else ""
            lines.append(f"  {s['index']:>2}. {s['type']:<15} {s['in']:>8} -> {s['out']:<8}{why}")
            short = s.get("stats", {}).get("shortfall", 0)
            if short:
                lines.append(f"      warning: {short} short of k = {s['stats']['k']}: too few records were left")
        for label, when in d["lengths"].items():
            parts = [f"{w}: p50 {x.get('p50', '-')} (min {x.get('min', '-')}, max {x.get('max', '-')})"
                     for w, x in when.items()]
            lines.append(f"{label}: " + "; ".join(parts))
        out = d.get("output", {})
        lines.append(f"output: {out.get('records', 0)} records {_fmt(out.get('per_source', {}))}")
        if not out.get("records"):
            lines.append("warning: no record reached the output; the steps above say where they were dropped")
        for key in ("chosen_on_a", "chosen_longer"):
            if key in d:
                lines.append(f"{key}: {d[key]}")
        return "\n".join(lines) + "\n"


def _fmt(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())
