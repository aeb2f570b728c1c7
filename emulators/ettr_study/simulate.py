"""Event loop of the ETTR study: one recovery policy against one set of failure draws.

Wall time is split into disjoint windows. Down windows (detection, isolation, waiting for
a spare, restart, an emergency checkpoint) and replayed windows (work since the last
completed checkpoint, lost by a crash) come from the event loop. Periodic checkpoint stalls
fill the running segments between them. Slow-step loss is counted last, only on running time
that no other window has claimed, so every second is counted once:
wall = productive + sum of badput.

Checkpoints are time-based: a running segment that starts at ``a`` stalls during
``[a + k*P - s, a + k*P)`` for k = 1, 2, ..., with ``P = interval + s`` and ``s`` the stall.
"""

from __future__ import annotations

import heapq
import logging
import math
from dataclasses import dataclass, field

import numpy as np

from emulators.ettr_study.failures import FailureDraws
from emulators.ettr_study.model import (
    BADPUT_KINDS,
    STRAGGLER_CATEGORY,
    BadputKind,
    FailureCategory,
    RecoveryPolicy,
    StudyParameters,
)
from emulators.ettr_study.spares import SparePool

logger = logging.getLogger(__name__)

PERIODIC_CHECKPOINT: str = "periodic_checkpoint"


@dataclass(frozen=True)
class PolicyResult:
    """Time accounting of one policy over one run.

    Attributes:
        policy: the policy's name.
        wall_seconds: length of the run.
        productive_seconds: wall time minus every kind of badput.
        badput_seconds: seconds lost per badput kind.
        loss_by_category: seconds lost per failure category and badput kind; periodic
            checkpoint stalls are under ``periodic_checkpoint``.
        failure_counts: failures per category that began within the run.
    """

    policy: str
    wall_seconds: float
    productive_seconds: float
    badput_seconds: dict[BadputKind, float]
    loss_by_category: dict[str, dict[BadputKind, float]]
    failure_counts: dict[str, int]

    @property
    def ettr(self) -> float:
        """Effective training time ratio: productive over wall seconds."""
        return self.productive_seconds / self.wall_seconds


@dataclass
class _Timeline:
    horizon: float
    lost: list[tuple[float, float, BadputKind, str]] = field(default_factory=list)
    running: list[tuple[float, float]] = field(default_factory=list)
    slow: list[tuple[float, float, float, str]] = field(default_factory=list)

    def add_lost(self, start: float, end: float, kind: BadputKind, category: str) -> None:
        start, end = max(start, 0.0), min(end, self.horizon)
        if end > start:
            self.lost.append((start, end, kind, category))

    def add_running(self, start: float, end: float) -> None:
        end = min(end, self.horizon)
        if end > start:
            self.running.append((start, end))


def _straggler_category(params: StudyParameters) -> FailureCategory:
    return FailureCategory(
        name=STRAGGLER_CATEGORY,
        rate_per_1000_node_days=0.0,
        fault_class="fail_slow",
        needs_node_swap=True,
        emergency_checkpoint=True,
        slowdown_factor=params.failures.straggler_slowdown_factor,
    )


def detection_delay(policy: RecoveryPolicy, fault_class: str, quantile: float) -> float:
    """Return a policy's detection delay for a fault class, picked from its list by quantile.

    Planned and transient faults need no detection and return 0; a class the policy never
    detects returns ``inf``.
    """
    if fault_class not in policy.detection_delay_seconds:
        return 0.0
    value = policy.detection_delay_seconds[fault_class]  # type: ignore[index]
    if value is None:
        return math.inf
    if isinstance(value, list):
        ordered = sorted(value)
        return float(ordered[min(int(quantile * len(ordered)), len(ordered) - 1)])
    return float(value)


class _Recovery:
    """The job's state between failures: when it runs again and where its checkpoints fall."""

    def __init__(self, params: StudyParameters, policy: RecoveryPolicy, timeline: _Timeline) -> None:
        self.policy = policy
        self.timeline = timeline
        self.period = policy.checkpoint_interval_seconds + policy.checkpoint_stall_seconds
        self.pool = SparePool(policy.hot_spare_nodes, policy.cold_spare_provision_seconds)
        self.up_at = 0.0
        self.restored_at = 0.0

    def _stop_running(self, time: float, category: FailureCategory) -> list[tuple[BadputKind, float]]:
        """Close the running segment at ``time`` and return the phases that precede recovery."""
        if category.emergency_checkpoint:
            self.timeline.add_running(self.restored_at, time)
            return [("checkpoint", self.policy.checkpoint_stall_seconds)]
        completed = math.floor((time - self.restored_at) / self.period)
        last_checkpoint = self.restored_at + completed * self.period
        self.timeline.add_running(self.restored_at, last_checkpoint)
        self.timeline.add_lost(last_checkpoint, time, "replayed", category.name)
        return []

    def interrupt(self, time: float, category: FailureCategory, detection: float, repaired_at: float) -> None:
        """Stop the job for one failure (or join a recovery in progress) and restart it."""
        running = time >= self.up_at
        phases = self._stop_running(time, category) if running else []
        if category.fault_class in ("crash", "hang", "silent"):
            phases.append(("detection", detection))
        # Planned work and a straggler eviction were decided before the job stops.
        decision = 0.0 if category.fault_class == "planned" or category.name == STRAGGLER_CATEGORY else self.policy.decision_seconds
        if category.needs_node_swap:
            request = time + sum(seconds for _, seconds in phases) + decision
            phases.append(("isolation", decision + self.policy.node_swap_seconds))
            phases.append(("spare_wait", self.pool.replace(request, repaired_at)))
        else:
            phases.append(("isolation", decision))
        phases.append(("restart", self.policy.restart_seconds))

        # A failure during a recovery only counts the time it adds beyond that recovery.
        cursor = time
        floor = time if running else self.up_at
        for kind, seconds in phases:
            self.timeline.add_lost(max(cursor, floor), cursor + seconds, kind, category.name)
            cursor += seconds
        self.up_at = max(self.up_at, cursor) if not running else cursor
        self.restored_at = self.up_at

    def finish(self) -> None:
        """Close the last running segment at the horizon."""
        if self.up_at < self.timeline.horizon:
            self.timeline.add_running(self.restored_at, self.timeline.horizon)


def _slow_window(
    policy: RecoveryPolicy, category: FailureCategory, onset: float, duration: float, quantile: float
) -> tuple[float, bool]:
    """Return when a slowdown ends under the policy and whether it ends with an eviction."""
    natural_end = onset + duration
    detected_at = onset + detection_delay(policy, "fail_slow", quantile)
    if detected_at >= natural_end:
        return natural_end, False
    if category.needs_node_swap:
        return detected_at + policy.decision_seconds, True
    return min(natural_end, detected_at + policy.fail_slow_mitigation_seconds), False


def _replay_failures(
    params: StudyParameters, policy: RecoveryPolicy, draws: FailureDraws, timeline: _Timeline
) -> None:
    """Run the event loop: interruptions stop the job, slowdowns are recorded as windows."""
    categories = list(params.failures.categories) + [_straggler_category(params)]
    recovery = _Recovery(params, policy, timeline)
    events: list[tuple[float, int, int, bool]] = [(float(draws.time_seconds[i]), i, i, False) for i in range(len(draws))]
    heapq.heapify(events)
    order = len(draws)

    while events:
        time, _, index, eviction = heapq.heappop(events)
        if time >= timeline.horizon:
            break
        category = categories[int(draws.category[index])]
        repaired_at = time + float(draws.repair_seconds[index])
        quantile = float(draws.detection_quantile[index])
        duration = float(draws.duration_seconds[index])

        if eviction:
            recovery.interrupt(time, category, 0.0, repaired_at)
        elif category.fault_class == "transient":
            timeline.slow.append((time, time + duration, math.inf, category.name))
        elif category.fault_class == "fail_slow":
            end, evict = _slow_window(policy, category, time, duration, quantile)
            timeline.slow.append((time, end, category.slowdown_factor, category.name))
            if evict:
                order += 1
                heapq.heappush(events, (end, order, index, True))
        else:
            delay = detection_delay(policy, category.fault_class, quantile)
            recovery.interrupt(time, category, delay, repaired_at)

    recovery.finish()


def _periodic_stalls(policy: RecoveryPolicy, running: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Return the checkpoint stall windows inside the running segments."""
    stall = policy.checkpoint_stall_seconds
    period = policy.checkpoint_interval_seconds + stall
    if stall <= 0:
        return []
    windows: list[tuple[float, float]] = []
    for start, end in running:
        ends = start + period * np.arange(1, math.ceil((end - start) / period) + 1)
        starts = ends - stall
        keep = starts < end
        windows.extend(zip(starts[keep].tolist(), np.minimum(ends[keep], end).tolist()))
    return windows


def _covered_seconds(starts: np.ndarray, ends: np.ndarray, cumulative: np.ndarray, time: float) -> float:
    """Return the seconds of the sorted, disjoint windows that lie before ``time``."""
    index = int(np.searchsorted(starts, time, side="right"))
    if index == 0:
        return 0.0
    return float(cumulative[index - 1] + min(ends[index - 1], time) - starts[index - 1])


def _slow_step_loss(timeline: _Timeline) -> dict[str, float]:
    """Return slow-step seconds per category, over running time no other window claims.

    The job runs at the pace of its slowest node, so overlapping slowdowns count once, at
    the largest factor; a factor of ``inf`` is a full stall.
    """
    lost = sorted((start, end) for start, end, _, _ in timeline.lost)
    starts = np.array([start for start, _ in lost])
    ends = np.array([end for _, end in lost])
    # cumulative[i]: seconds of the windows before window i.
    cumulative = np.concatenate([[0.0], np.cumsum(ends - starts)])[:-1] if lost else np.empty(0)

    windows = [(max(s, 0.0), min(e, timeline.horizon), f, c) for s, e, f, c in timeline.slow if min(e, timeline.horizon) > max(s, 0.0)]
    edges = sorted({edge for s, e, _, _ in windows for edge in (s, e)})
    loss: dict[str, float] = {}
    for left, right in zip(edges, edges[1:]):
        active = [(factor, name) for s, e, factor, name in windows if s <= left and e >= right]
        if not active:
            continue
        factor, name = max(active)
        free = (right - left) - (_covered_seconds(starts, ends, cumulative, right) - _covered_seconds(starts, ends, cumulative, left))
        loss[name] = loss.get(name, 0.0) + free * (1.0 - 1.0 / factor)
    return loss


def simulate_policy(params: StudyParameters, policy: RecoveryPolicy, draws: FailureDraws) -> PolicyResult:
    """Replay one run's failures against one recovery policy and account every second.

    Args:
        params: the study parameters; their failure model must be the one behind ``draws``.
        policy: the recovery policy to apply.
        draws: the run's failures, from :func:`emulators.ettr_study.failures.draw_failures`.

    Returns:
        Productive time, badput per kind and per failure category, and failure counts.
    """
    timeline = _Timeline(horizon=params.duration_seconds)
    _replay_failures(params, policy, draws, timeline)
    for start, end in _periodic_stalls(policy, timeline.running):
        timeline.add_lost(start, end, "checkpoint", PERIODIC_CHECKPOINT)

    loss_by_category: dict[str, dict[BadputKind, float]] = {}
    for start, end, kind, name in timeline.lost:
        per_kind = loss_by_category.setdefault(name, dict.fromkeys(BADPUT_KINDS, 0.0))
        per_kind[kind] += end - start
    for name, seconds in _slow_step_loss(timeline).items():
        loss_by_category.setdefault(name, dict.fromkeys(BADPUT_KINDS, 0.0))["slow_step"] += seconds

    badput: dict[BadputKind, float] = {kind: sum(per_kind[kind] for per_kind in loss_by_category.values()) for kind in BADPUT_KINDS}
    counts = {name: 0 for name in draws.category_names}
    for index in draws.category.tolist():
        counts[draws.category_names[index]] += 1
    wall = timeline.horizon
    logger.debug("policy simulated policy=%s failures=%d lost_windows=%d", policy.name, len(draws), len(timeline.lost))
    return PolicyResult(
        policy=policy.name,
        wall_seconds=wall,
        productive_seconds=wall - sum(badput.values()),
        badput_seconds=badput,
        loss_by_category=loss_by_category,
        failure_counts=counts,
    )


@dataclass(frozen=True)
class StudyRun:
    """Both policies over the same failure draws of one seed."""

    seed: int
    automatic: PolicyResult
    manual: PolicyResult


def run_study(params: StudyParameters, runs: int, repair_seconds: np.ndarray) -> list[StudyRun]:
    """Run the study for ``runs`` consecutive seeds starting at ``params.seed``.

    Args:
        params: the study parameters.
        runs: number of seeds, at least 1.
        repair_seconds: measured node repair times to resample, in seconds.

    Returns:
        One :class:`StudyRun` per seed.

    Raises:
        ValueError: ``runs`` is below 1.
    """
    from emulators.ettr_study.failures import draw_failures

    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    results = []
    for seed in range(params.seed, params.seed + runs):
        draws = draw_failures(params, repair_seconds, seed)
        results.append(StudyRun(seed, simulate_policy(params, params.automatic, draws), simulate_policy(params, params.manual, draws)))
    logger.info("ettr study finished runs=%d nodes=%d duration_days=%s", runs, params.nodes, params.duration_days)
    return results
