"""Plain-text tables of the pipeline evaluation's results and its target lines."""

from __future__ import annotations

from collections.abc import Sequence

from detectors.evaluation.faults import KindScores
from detectors.evaluation.report import render_table
from pipeline.evaluation.parts import EmulatorResult, FaultFreeResult, NabResult, SmdResult
from pipeline.evaluation.targets import TargetCheck

KIND_HEADERS = [
    "fault kind", "faults", "detected", "false alarms", "precision", "recall", "F1", "median TTD s", "max TTD s", "named", "median TTN s",
]


def emulator_table(result: EmulatorResult) -> str:
    """Return the per-kind table of an emulator run, the ``all`` row last."""
    return kind_table(result.kinds)


def kind_table(kinds: Sequence[KindScores]) -> str:
    """Return one row per fault kind of fault-level scores.

    TTD is the time to the first anomaly about the fault's place. "named" counts the
    detected faults that an anomaly also named by kind, and TTN is the time to that name.
    """
    rows = [
        [row.kind, row.faults, row.detected, row.false_alarms, row.precision, row.recall, row.f1, row.detect_seconds_median, row.detect_seconds_max,
         row.named, row.name_seconds_median]
        for row in kinds
    ]
    return render_table(KIND_HEADERS, rows)


def fault_free_table(result: FaultFreeResult) -> str:
    """Return a one-line summary of a fault-free run and its anomalies by detector and entity."""
    summary = (
        f"{result.samples} samples on {result.topology} ({result.gpus} GPUs), {result.messages} messages, "
        f"{result.faults_started} faults injected, {result.anomalies} anomalies"
    )
    if not result.sources:
        return summary
    rows = [
        [source.detector, source.entity, source.anomalies, source.first.isoformat(), source.last.isoformat(), ",".join(source.fault_classes) or None]
        for source in result.sources
    ]
    return summary + "\n" + render_table(["detector", "entity", "anomalies", "first", "last", "fault class"], rows)


def smd_table(result: SmdResult) -> str:
    """Return the per-machine table of the SMD replay."""
    rows = [
        [m.machine, m.rows, m.events, m.anomalies, m.point_adjusted.precision, m.point_adjusted.recall, m.point_adjusted.f1,
         m.event_wise.precision, m.event_wise.recall, m.event_wise.f1]
        for m in result.machines
    ]
    return render_table(["machine", "rows", "events", "anomalies", "PA-P", "PA-R", "PA-F1", "event-P", "event-R", "event-F1"], rows)


def nab_table(result: NabResult) -> str:
    """Return the per-series and corpus table of the NAB replay."""
    rows = [[file.name, file.true_positives, file.false_negatives, file.false_positives, file.raw, file.normalized] for file in result.corpus.files]
    rows.append(["(corpus)", None, None, None, result.corpus.raw, result.corpus.normalized])
    return render_table(["series", "found", "missed", "false", "raw", "NAB score"], rows)


def targets_table(checks: Sequence[TargetCheck]) -> str:
    """Return one line per target: the figure, the goal, met / NOT met / not measured, and a note."""
    rows = [[check.name, check.figure, _goal(check), check.status, check.note or None] for check in checks]
    return render_table(["target", "figure", "goal", "result", "note"], rows)


def _goal(check: TargetCheck) -> str:
    unit = f" {check.unit}" if check.unit else ""
    return f"{check.comparison} {check.goal:g}{unit}"
