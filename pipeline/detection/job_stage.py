"""Job-level detection: stragglers from step times, and hangs from missing progress."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import numpy as np

from detectors.anomaly import Anomaly
from detectors.job import StragglerDetector
from pipeline.schemas import JobGoodput, JobProgress

# Job states that its own controller announces while it stops on purpose; no progress
# then is not a hang.
PLANNED_STOP_STATES: Final = frozenset({"checkpointing", "isolating", "restarting", "paused"})


@dataclass
class _JobState:
    ranks: dict[int, str] = field(default_factory=dict)
    step: int = -1
    step_times: dict[int, float] = field(default_factory=dict)
    losses: dict[int, float] = field(default_factory=dict)
    loss_streaks: dict[int, int] = field(default_factory=dict)
    loss_flagged: set[int] = field(default_factory=set)
    last_progress: datetime | None = None
    median_step_seconds: float = 0.0
    detector: StragglerDetector | None = None
    flagged: set[int] = field(default_factory=set)
    hung: bool = False
    cluster: str = "default"
    announced_state: str = "running"


class JobStage:
    """Find stragglers with a CUSUM on each rank's share of the step, ranks whose loss departs from their peers', and hung jobs.

    A step is scored once every known rank reported it, or when a later step starts. A job
    is hung when no rank made progress for ``hang_steps`` median step times (and at least
    ``min_hang_seconds``) of event time, as seen from the newest message of any topic,
    unless the job's own ``JobGoodput`` announced a planned stop (checkpoint, isolation,
    restart, pause). A step number below the last one is a restart from a checkpoint:
    scoring starts again from that step.

    Every rank computes the loss of the same model on its own micro-batch, so the local
    losses of one step stay within a few percent of each other. A rank whose loss is
    ``loss_ratio`` times the median of the step or more (or that fraction of it or less),
    on ``loss_persistence`` steps in a row, computes wrong results: silent data corruption.
    """

    straggler_name: Final = "job.straggler"
    hang_name: Final = "job.hang"
    loss_name: Final = "job.loss"

    def __init__(
        self, *, straggler_threshold: float = 0.3, hang_steps: float = 10.0, min_hang_seconds: float = 30.0,
        loss_ratio: float = 1.5, loss_persistence: int = 2,
    ) -> None:
        if loss_ratio <= 1.0 or loss_persistence < 1:
            raise ValueError(f"loss_ratio must be > 1 and loss_persistence >= 1, got {loss_ratio}, {loss_persistence}")
        self.straggler_threshold = straggler_threshold
        self.hang_steps = hang_steps
        self.min_hang_seconds = min_hang_seconds
        self.loss_ratio = loss_ratio
        self.loss_persistence = loss_persistence
        self._jobs: dict[str, _JobState] = {}

    def process(self, message: JobProgress) -> list[Anomaly]:
        """Record one rank's step and return straggler anomalies of any step it completed."""
        state = self._jobs.setdefault(message.job, _JobState())
        state.cluster = message.cluster
        state.ranks[message.rank] = message.node
        state.last_progress = message.time if state.last_progress is None else max(state.last_progress, message.time)
        state.hung = False

        anomalies: list[Anomaly] = []
        if message.step < state.step:
            # The job restarted from a checkpoint: its steps count up again from there.
            state.step = message.step
            state.step_times, state.losses = {}, {}
        if message.step > state.step:
            if state.step_times:
                anomalies += self._score_step(message.job, state, message.time)
            state.step = message.step
            state.step_times, state.losses = {}, {}
        if message.step == state.step:
            state.step_times[message.rank] = message.step_time_seconds
            if message.loss is not None and math.isfinite(message.loss):
                state.losses[message.rank] = message.loss
        if len(state.step_times) == len(state.ranks):
            anomalies += self._score_step(message.job, state, message.time)
            state.step_times, state.losses = {}, {}
        return anomalies

    def process_goodput(self, message: JobGoodput) -> None:
        """Note the state the job announces; a planned stop restarts the hang clock when it ends."""
        state = self._jobs.get(message.job)
        if state is None:
            return
        if state.announced_state in PLANNED_STOP_STATES and message.state not in PLANNED_STOP_STATES:
            state.last_progress = message.time if state.last_progress is None else max(state.last_progress, message.time)
        state.announced_state = message.state

    def check_hangs(self, now: datetime) -> list[Anomaly]:
        """Return an anomaly for each job that has made no progress for too long before ``now``."""
        anomalies = []
        for job, state in self._jobs.items():
            if state.hung or state.last_progress is None or state.announced_state in PLANNED_STOP_STATES:
                continue
            limit = max(self.hang_steps * state.median_step_seconds, self.min_hang_seconds)
            silent = (now - state.last_progress).total_seconds()
            if silent >= limit:
                state.hung = True
                anomalies.append(
                    Anomaly(
                        time=now, cluster=state.cluster, entity=job, entity_kind="job", detector=self.hang_name,
                        score=silent / limit, threshold=1.0, severity="critical", fault_class="job_hang",
                        evidence={"seconds_without_progress": round(silent, 1), "last_step": state.step,
                                  "nodes": ",".join(sorted(set(state.ranks.values())))},
                        message=f"job {job} made no progress for {silent:.0f} s after step {state.step}",
                    )
                )
        return anomalies

    def _score_step(self, job: str, state: _JobState, now: datetime) -> list[Anomaly]:
        return self._score_step_times(job, state, now) + self._score_losses(job, state, now)

    def _score_losses(self, job: str, state: _JobState, now: datetime) -> list[Anomaly]:
        """Flag ranks whose local loss departs from the median of the step on enough steps in a row."""
        if len(state.losses) < 3:
            return []
        median = float(np.median(list(state.losses.values())))
        if median <= 0:
            return []
        anomalies = []
        for rank, loss in sorted(state.losses.items()):
            ratio = loss / median
            departed = ratio >= self.loss_ratio or ratio <= 1.0 / self.loss_ratio
            state.loss_streaks[rank] = state.loss_streaks.get(rank, 0) + 1 if departed else 0
            if not departed:
                state.loss_flagged.discard(rank)
                continue
            if state.loss_streaks[rank] < self.loss_persistence or rank in state.loss_flagged:
                continue
            state.loss_flagged.add(rank)
            node = state.ranks[rank]
            anomalies.append(
                Anomaly(
                    time=now, cluster=state.cluster, entity=node, entity_kind="node", detector=self.loss_name,
                    score=max(ratio, 1.0 / ratio), threshold=self.loss_ratio, severity="critical", fault_class="silent_data_corruption",
                    evidence={"job": job, "rank": rank, "step": state.step, "loss": round(loss, 5), "median_loss": round(median, 5)},
                    message=(
                        f"node {node} (rank {rank}) reports loss {loss:.4g} against a median of {median:.4g} in job {job}; "
                        "suspect silent data corruption: roll back to an earlier checkpoint and test the node"
                    ),
                )
            )
        return anomalies

    def _score_step_times(self, job: str, state: _JobState, now: datetime) -> list[Anomaly]:
        ranks = sorted(state.ranks)
        times = np.array([[state.step_times.get(rank, np.nan)] for rank in ranks])
        known = times[~np.isnan(times)]
        if known.size:
            state.median_step_seconds = float(np.median(known))
        if state.detector is None or state.detector.n_entities != len(ranks):
            state.detector = StragglerDetector()
            state.flagged = set()
        scores = state.detector.score_learn_many(times)

        anomalies = []
        for index, rank in enumerate(ranks):
            score = float(scores[index])
            if np.isnan(score) or score < self.straggler_threshold:
                state.flagged.discard(rank)
                continue
            if rank in state.flagged:
                continue
            state.flagged.add(rank)
            node = state.ranks[rank]
            anomalies.append(
                Anomaly(
                    time=now, cluster=state.cluster, entity=node, entity_kind="node", detector=self.straggler_name,
                    score=score, threshold=self.straggler_threshold, severity="warning", fault_class="straggler",
                    evidence={"job": job, "rank": rank, "step": state.step, "step_time_seconds": float(times[index, 0]),
                              "median_step_seconds": round(state.median_step_seconds, 4)},
                    message=f"node {node} (rank {rank}) is slower than its peers in job {job}",
                )
            )
        return anomalies


