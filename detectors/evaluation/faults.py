"""Event-level scoring of anomalies against injected faults: precision, recall, F1 and time to detect.

A fault (``FaultTruth``) is detected when an anomaly about the same place arrives between
the fault's start and its end plus ``grace_seconds``. Anomalies about one place (entity and
GPU) that follow each other within ``merge_gap_seconds`` form one alarm. An alarm that
matches no fault is a false alarm, except a job-level symptom: an anomaly about a job (a
hang, say) while a fault touches one of the job's nodes (listed in the anomaly's
``evidence["nodes"]``, comma-separated) is explained by that fault. It counts neither as a detection nor as
a false alarm. Planned maintenance (``SCHEDULED_KINDS``) is scheduled work, not a fault:
it is not scored, and an alarm raised about it counts as false. Per fault kind:

- recall = detected faults / faults,
- precision = detected faults / (detected faults + false alarms attributed to the kind),
  where a false alarm is attributed to the kind its anomalies named in ``fault_class``
  (false alarms without a matching kind count only in the overall row),
- time to detect = first matching anomaly time - fault start, in seconds, whatever the
  anomaly's ``fault_class``: the first sign that something is wrong at the place,
- named = detected faults with a matching anomaly whose ``fault_class`` is the fault's
  kind, and time to name = first such anomaly time - fault start: when the pipeline
  identified the fault.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import numpy as np

from detectors.anomaly import Anomaly
from detectors.evaluation.metrics import f1_from
from pipeline.schemas import FaultTruth

ALL_KINDS = "all"
SCHEDULED_KINDS: Final = frozenset({"planned_maintenance"})


@dataclass(frozen=True)
class FaultWindow:
    """One fault merged from its start and end records."""

    fault_id: str
    kind: str
    scope: str
    entity: str
    gpu: int | None
    cluster: str
    start: datetime
    end: datetime | None
    nodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class KindScores:
    """Event-level figures of one fault kind, or of every kind for ``kind == "all"``."""

    kind: str
    faults: int
    detected: int
    false_alarms: int
    precision: float
    recall: float
    f1: float
    detect_seconds_median: float | None
    detect_seconds_max: float | None
    named: int = 0
    name_seconds_median: float | None = None


def fault_windows(records: Iterable[FaultTruth]) -> list[FaultWindow]:
    """Merge ground-truth records by ``fault_id``: the first start and the latest end win."""
    merged: dict[str, FaultWindow] = {}
    for record in records:
        known = merged.get(record.fault_id)
        end = record.end
        if known is not None:
            end = max((moment for moment in (known.end, record.end) if moment is not None), default=None)
        start = record.start if known is None else min(known.start, record.start)
        nodes = tuple(record.nodes or (known.nodes if known is not None else ()))
        merged[record.fault_id] = FaultWindow(
            record.fault_id, record.kind, record.scope, record.entity, record.gpu, record.cluster, start, end, nodes
        )
    return sorted(merged.values(), key=lambda window: window.start)


def matches_place(window: FaultWindow, anomaly: Anomaly, members: Mapping[str, Collection[str]]) -> bool:
    """Return whether an anomaly is about the fault's place.

    A GPU fault matches anomalies on that GPU or on its whole node. A node fault matches
    anomalies on the node or any of its GPUs. A rack fault matches anomalies on the rack
    or anything in it, and a cluster fault matches anything in the cluster. Other scopes
    (job, switch, series) match their own entity, the nodes the fault record lists and
    the entities listed in ``members``.
    """
    if anomaly.cluster != window.cluster:
        return False
    if window.scope == "cluster":
        return True
    if window.scope == "gpu":
        return anomaly.entity == window.entity and anomaly.gpu in (None, window.gpu)
    if window.scope == "node":
        return anomaly.entity == window.entity
    if window.scope == "rack" and anomaly.rack == window.entity:
        return True
    return anomaly.entity == window.entity or anomaly.entity in window.nodes or anomaly.entity in members.get(window.entity, ())


def explains_symptom(window: FaultWindow, anomaly: Anomaly, racks: Mapping[str, str]) -> bool:
    """Return whether a job-level anomaly is a symptom of the fault: the fault touches one of the job's nodes.

    ``racks`` maps node names to rack names, for rack faults.
    """
    if anomaly.entity_kind != "job" or anomaly.cluster != window.cluster:
        return False
    nodes = set(str(anomaly.evidence.get("nodes") or "").split(",")) - {""}
    if window.scope == "cluster" or window.entity == anomaly.entity:
        return True
    if window.scope in ("gpu", "node"):
        return window.entity in nodes
    if window.scope == "rack":
        return any(racks.get(node) == window.entity for node in nodes)
    return bool(nodes & set(window.nodes))


def node_racks(anomalies: Iterable[Anomaly]) -> dict[str, str]:
    """Return the rack of every node that an anomaly names together with its rack."""
    return {anomaly.entity: anomaly.rack for anomaly in anomalies if anomaly.rack and anomaly.entity_kind in ("gpu", "node")}


def _alarms(anomalies: list[Anomaly], merge_gap_seconds: float) -> list[list[Anomaly]]:
    """Group anomalies per place into alarms of anomalies no more than the gap apart."""
    by_place: dict[tuple[str, str, int | None], list[Anomaly]] = defaultdict(list)
    for anomaly in anomalies:
        by_place[(anomaly.cluster, anomaly.entity, anomaly.gpu)].append(anomaly)

    alarms = []
    for items in by_place.values():
        items.sort(key=lambda anomaly: anomaly.time)
        current = [items[0]]
        for anomaly in items[1:]:
            if (anomaly.time - current[-1].time).total_seconds() <= merge_gap_seconds:
                current.append(anomaly)
            else:
                alarms.append(current)
                current = [anomaly]
        alarms.append(current)
    return alarms


def score_faults(
    truth: Iterable[FaultTruth],
    anomalies: Iterable[Anomaly],
    *,
    grace_seconds: float = 60.0,
    merge_gap_seconds: float = 30.0,
    members: Mapping[str, Collection[str]] | None = None,
    end_of_run: datetime | None = None,
) -> list[KindScores]:
    """Score anomalies against injected faults; returns one row per fault kind, then ``all``.

    Args:
        truth: Ground-truth records from ``faults.truth``.
        anomalies: Anomalies published during the same run.
        grace_seconds: Detections this long after a fault's end still count for it.
        merge_gap_seconds: Anomalies of one place this close in time form one alarm.
        members: Entities that belong to a job or switch, for faults of those scopes.
        end_of_run: End of faults that never got an end record; default the last anomaly.
    """
    windows = [window for window in fault_windows(truth) if window.kind not in SCHEDULED_KINDS]
    items = sorted(anomalies, key=lambda anomaly: anomaly.time)
    places = members or {}
    racks = node_racks(items)
    # Anomalies from job progress name a node but not its rack; other anomalies tell it.
    items = [anomaly if anomaly.rack or anomaly.entity not in racks else anomaly.model_copy(update={"rack": racks[anomaly.entity]}) for anomaly in items]
    horizon = end_of_run or (items[-1].time if items else None)

    detect_seconds: dict[str, list[float]] = defaultdict(list)
    name_seconds: dict[str, list[float]] = defaultdict(list)
    matched_ids: set[int] = set()
    for window in windows:
        end = window.end or horizon
        limit = None if end is None else end.timestamp() + grace_seconds
        during = [anomaly for anomaly in items if anomaly.time >= window.start and (limit is None or anomaly.time.timestamp() <= limit)]
        hits = [anomaly for anomaly in during if matches_place(window, anomaly, places)]
        matched_ids.update(id(anomaly) for anomaly in hits)
        matched_ids.update(id(anomaly) for anomaly in during if explains_symptom(window, anomaly, racks))
        if hits:
            detect_seconds[window.kind].append((hits[0].time - window.start).total_seconds())
            named = [anomaly for anomaly in hits if anomaly.fault_class == window.kind]
            if named:
                name_seconds[window.kind].append((named[0].time - window.start).total_seconds())

    false_by_kind: dict[str, int] = defaultdict(int)
    false_total = 0
    kinds = {window.kind for window in windows}
    for alarm in _alarms(items, merge_gap_seconds) if items else []:
        if any(id(anomaly) in matched_ids for anomaly in alarm):
            continue
        false_total += 1
        named = {anomaly.fault_class for anomaly in alarm} & kinds
        for kind in named:
            false_by_kind[kind] += 1

    rows = [
        _row(kind, [w for w in windows if w.kind == kind], detect_seconds[kind], false_by_kind[kind], name_seconds[kind]) for kind in sorted(kinds)
    ]
    every_detect = [value for values in detect_seconds.values() for value in values]
    every_name = [value for values in name_seconds.values() for value in values]
    rows.append(_row(ALL_KINDS, windows, every_detect, false_total, every_name))
    return rows


def _row(kind: str, windows: list[FaultWindow], seconds: list[float], false_alarms: int, named: list[float] | None = None) -> KindScores:
    detected = len(seconds)
    recall = detected / len(windows) if windows else 0.0
    precision = detected / (detected + false_alarms) if detected + false_alarms else 0.0
    return KindScores(
        kind=kind,
        faults=len(windows),
        detected=detected,
        false_alarms=false_alarms,
        precision=precision,
        recall=recall,
        f1=f1_from(precision, recall),
        detect_seconds_median=float(np.median(seconds)) if seconds else None,
        detect_seconds_max=float(max(seconds)) if seconds else None,
        named=len(named or []),
        name_seconds_median=float(np.median(named)) if named else None,
    )
