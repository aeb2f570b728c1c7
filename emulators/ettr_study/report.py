"""Summary of ETTR study runs: a JSON-ready dictionary and a plain-text table."""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from emulators.ettr_study.model import BADPUT_KINDS, STRAGGLER_CATEGORY, StudyParameters
from emulators.ettr_study.simulate import PERIODIC_CHECKPOINT, PolicyResult, StudyRun

UNEXPECTED_CLASSES: Final[frozenset[str]] = frozenset({"crash", "hang", "silent"})
POLICIES: Final[tuple[str, str]] = ("automatic", "manual")


def _policy_summary(results: list[PolicyResult], unexpected: set[str]) -> dict[str, Any]:
    """Average one policy's results over runs; the interval holds 95 % of the runs' ETTRs."""
    ettrs = np.array([result.ettr for result in results])
    wall = results[0].wall_seconds
    runs = len(results)
    badput = {
        kind: {
            "hours": sum(result.badput_seconds[kind] for result in results) / runs / 3600.0,
            "percent": 100.0 * sum(result.badput_seconds[kind] for result in results) / runs / wall,
        }
        for kind in BADPUT_KINDS
    }

    failures: dict[str, dict[str, float]] = {}
    for name in results[0].failure_counts:
        count = sum(result.failure_counts[name] for result in results)
        lost = sum(sum(result.loss_by_category.get(name, {}).values()) for result in results)
        failures[name] = {"count": count / runs, "minutes_lost_per_failure": lost / count / 60.0 if count else 0.0}

    interruptions = sum(result.failure_counts[name] for result in results for name in unexpected)
    breakdown = {
        kind: sum(result.loss_by_category.get(name, {}).get(kind, 0.0) for result in results for name in unexpected)
        / max(interruptions, 1) / 60.0
        for kind in BADPUT_KINDS
    }
    return {
        "ettr": {
            "mean": float(ettrs.mean()),
            "interval_95": [float(np.percentile(ettrs, 2.5)), float(np.percentile(ettrs, 97.5))],
            "runs": ettrs.tolist(),
        },
        "wall_hours": wall / 3600.0,
        "productive_hours": sum(result.productive_seconds for result in results) / runs / 3600.0,
        "badput": badput,
        "periodic_checkpoint_hours": sum(result.loss_by_category.get(PERIODIC_CHECKPOINT, {}).get("checkpoint", 0.0) for result in results) / runs / 3600.0,
        "failures": failures,
        "per_unexpected_interruption": {
            "count": interruptions / runs,
            "minutes_lost": sum(breakdown.values()),
            "breakdown_minutes": breakdown,
        },
    }


def summarize(params: StudyParameters, runs: list[StudyRun]) -> dict[str, Any]:
    """Build the study summary: parameters, then per policy ETTR, badput and failures.

    Minutes lost per unexpected interruption cover crashes, hangs and silent corruption,
    the events the Llama 3 interruption count is made of.
    """
    unexpected = {category.name for category in params.failures.categories if category.fault_class in UNEXPECTED_CLASSES}
    return {
        "study": {
            "nodes": params.nodes,
            "gpus": params.gpus,
            "duration_days": params.duration_days,
            "first_seed": params.seed,
            "runs": len(runs),
            "arrival_process": params.failures.arrival_process,
        },
        "parameters": params.model_dump(mode="json"),
        "policies": {
            "automatic": _policy_summary([run.automatic for run in runs], unexpected),
            "manual": _policy_summary([run.manual for run in runs], unexpected),
        },
    }


def _ettr_cell(policy: dict[str, Any]) -> str:
    low, high = policy["ettr"]["interval_95"]
    return f"{100 * policy['ettr']['mean']:.2f} % [{100 * low:.2f}, {100 * high:.2f}]"


def format_table(summary: dict[str, Any]) -> str:
    """Render the summary as text: ETTR, badput, failures and the loss per interruption."""
    study = summary["study"]
    automatic, manual = (summary["policies"][name] for name in POLICIES)
    lines = [
        f"ETTR study: {study['gpus']:,} GPUs ({study['nodes']:,} nodes), {study['duration_days']:g} days, "
        f"{study['runs']} runs from seed {study['first_seed']}, {study['arrival_process']} arrivals",
        "",
        f"{'':34}{'automatic':>30}{'manual (no automatic FT)':>30}",
        f"{'ETTR, mean [95 % of runs]':34}{_ettr_cell(automatic):>30}{_ettr_cell(manual):>30}",
        f"{'productive hours':34}{automatic['productive_hours']:>30.1f}{manual['productive_hours']:>30.1f}",
        "",
        f"{'badput':34}{'hours      % of wall':>30}{'hours      % of wall':>30}",
    ]
    for kind in BADPUT_KINDS:
        auto_kind, manual_kind = automatic["badput"][kind], manual["badput"][kind]
        lines.append(
            f"{'  ' + kind:34}{auto_kind['hours']:>14.2f}{auto_kind['percent']:>15.3f} %"
            f"{manual_kind['hours']:>14.2f}{manual_kind['percent']:>15.3f} %"
        )

    lines += ["", f"{'failures (mean count)':34}{'count   min lost each':>30}{'count   min lost each':>30}"]
    for name, auto_failures in automatic["failures"].items():
        manual_failures = manual["failures"][name]
        label = name if name != STRAGGLER_CATEGORY else f"{name} (at start)"
        lines.append(
            f"{'  ' + label:34}{auto_failures['count']:>14.1f}{auto_failures['minutes_lost_per_failure']:>16.2f}"
            f"{manual_failures['count']:>14.1f}{manual_failures['minutes_lost_per_failure']:>16.2f}"
        )

    auto_per, manual_per = automatic["per_unexpected_interruption"], manual["per_unexpected_interruption"]
    lines += [
        "",
        f"{'unexpected interruptions':34}{auto_per['count']:>30.1f}{manual_per['count']:>30.1f}",
        f"{'  (crash, hang, silent corruption)':34}",
        f"{'minutes lost per interruption':34}{auto_per['minutes_lost']:>30.2f}{manual_per['minutes_lost']:>30.2f}",
    ]
    for kind in BADPUT_KINDS:
        lines.append(f"{'  ' + kind:34}{auto_per['breakdown_minutes'][kind]:>30.2f}{manual_per['breakdown_minutes'][kind]:>30.2f}")
    return "\n".join(lines)
