"""The detection targets and whether an evaluation run meets them.

Emulator run:

- overall precision ≥ 0.95 and overall recall ≥ 0.95 (the ``all`` row of the scores);
- median time to detect (p50) per class of fault: instant faults ≤ 5 s, hangs ≤ 60 s,
  fail-slow faults ≤ 120 s.

A fault kind's class comes from the emulator's fault catalog: a kind whose name ends in
``_hang`` is a hang; otherwise its ``onset`` decides, ``instant`` → instant, ``fast`` or
``gradual`` → fail-slow. Kinds that the catalog does not know are left out of the time
targets.

The p50 of a class counts each detected fault at its kind's median time to detect (the
scores keep no per-fault times), so it is exact when each kind has one fault, as in
``all-faults.yaml``, and an approximation otherwise. A class with faults but no detection
does not meet its target; a class without faults in the run is not measured, and so are
precision and recall when no scored fault started in the run.

Fault-free run: no anomaly at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from detectors.evaluation.faults import ALL_KINDS, KindScores

TimeClass = Literal["instant", "hang", "fail-slow"]
Status = Literal["met", "NOT met", "not measured"]

PRECISION_TARGET: Final = 0.95
RECALL_TARGET: Final = 0.95
DETECT_SECONDS_TARGETS: Final[dict[str, float]] = {"instant": 5.0, "hang": 60.0, "fail-slow": 120.0}
FAULT_FREE_ANOMALIES_TARGET: Final = 0
ONSET_CLASSES: Final[dict[str, TimeClass]] = {"instant": "instant", "fast": "fail-slow", "gradual": "fail-slow"}


@dataclass(frozen=True)
class TargetCheck:
    """One target and the run's figure against it.

    ``comparison`` is ``>=`` (the figure must reach ``goal``) or ``<=`` (it must not exceed
    it). ``figure`` is None when the run gives no figure (no fault of the class detected,
    or none in the run). ``kinds`` names the fault kinds behind a time target.
    """

    name: str
    figure: float | int | None
    comparison: Literal[">=", "<="]
    goal: float | int
    unit: str
    status: Status
    note: str = ""
    kinds: tuple[str, ...] = ()

    @property
    def met(self) -> bool:
        """Whether the figure meets the goal."""
        return self.status == "met"


def time_class(kind: str) -> TimeClass | None:
    """Return the time-to-detect class of a fault kind, or None for a kind the catalog does not know."""
    from emulators.faults.catalog import CATALOG

    if kind.endswith("_hang"):
        return "hang"
    known = CATALOG.get(kind)
    return ONSET_CLASSES.get(known.onset) if known is not None else None


def _compare(figure: float | int | None, comparison: str, goal: float | int) -> Status:
    if figure is None:
        return "NOT met"
    return "met" if (figure >= goal if comparison == ">=" else figure <= goal) else "NOT met"


def emulator_targets(kinds: Sequence[KindScores]) -> list[TargetCheck]:
    """Check the overall precision and recall and the p50 time to detect of each class against their targets."""
    overall = next((row for row in kinds if row.kind == ALL_KINDS), None)
    checks = []
    for name, goal in (("precision", PRECISION_TARGET), ("recall", RECALL_TARGET)):
        checks.append(_overall_check(name, goal, overall))

    rows = [row for row in kinds if row.kind != ALL_KINDS]
    for name, goal in DETECT_SECONDS_TARGETS.items():
        members = [row for row in rows if time_class(row.kind) == name]
        seconds = [row.detect_seconds_median for row in members if row.detect_seconds_median is not None for _ in range(row.detected)]
        faults = sum(row.faults for row in members)
        figure = float(np.median(seconds)) if seconds else None
        if not faults:
            status: Status = "not measured"
            note = "no fault of this class in the run"
        else:
            status = _compare(figure, "<=", goal)
            note = f"{len(seconds)} of {faults} faults detected"
        checks.append(TargetCheck(f"TTD p50 {name}", figure, "<=", goal, "s", status, note, tuple(row.kind for row in members)))
    return checks


def _overall_check(name: str, goal: float, overall: KindScores | None) -> TargetCheck:
    """Check the ``all`` row's precision or recall, which a run without a scored fault does not measure."""
    if overall is not None and overall.faults == 0:
        note = f"no scored fault started in the run, {overall.false_alarms} false alarms"
        return TargetCheck(name, None, ">=", goal, "", "not measured", note)
    figure = None if overall is None else getattr(overall, name)
    note = "" if overall is None else f"{overall.detected} of {overall.faults} faults detected, {overall.false_alarms} false alarms"
    return TargetCheck(name, figure, ">=", goal, "", _compare(figure, ">=", goal), note)


def fault_free_targets(anomalies: int) -> list[TargetCheck]:
    """Check the anomalies of a fault-free run against the target of none."""
    goal = FAULT_FREE_ANOMALIES_TARGET
    return [TargetCheck("anomalies without faults", anomalies, "<=", goal, "", _compare(anomalies, "<=", goal))]
