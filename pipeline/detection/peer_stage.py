"""Peer comparison in the worker: each node of a training job against the job's other nodes."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Final

import numpy as np

from detectors.anomaly import Anomaly
from detectors.peers import PeerDeviation
from pipeline.detection.membership import JobMembership
from pipeline.detection.job_stage import PLANNED_STOP_STATES
from pipeline.schemas import GpuTelemetry, JobGoodput, JobProgress

logger = logging.getLogger(__name__)

# Node-level gauges (mean over the node's GPUs), each with the smallest difference
# between nodes that counts as one unit of deviation. These are estimates: 20 MHz is
# about 1 % of an H100 boost clock, and the others sit above the spread between healthy
# nodes of the emulator at 1 s samples (power and tensor activity follow the step phase).
PEER_SCALES: Final = {
    "DCGM_FI_DEV_SM_CLOCK": 20.0,  # MHz
    "DCGM_FI_DEV_POWER_USAGE": 25.0,  # W
    "DCGM_FI_DEV_GPU_UTIL": 5.0,  # %
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": 0.05,  # ratio
}
PEER_FIELDS: Final = tuple(PEER_SCALES)
_SCALES = np.array([PEER_SCALES[name] for name in PEER_FIELDS])
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Log the first late sample and every 1000th after it.
LATE_LOG_EVERY: Final = 1000


@dataclass(frozen=True)
class _NodeSample:
    time: datetime
    values: np.ndarray
    rack: str
    cluster: str


@dataclass
class _JobPeers:
    nodes: tuple[str, ...] = ()
    detector: PeerDeviation | None = None
    pending: dict[datetime, dict[str, _NodeSample]] = field(default_factory=dict)
    last_scored: datetime | None = None
    flagged: set[str] = field(default_factory=set)


class PeerStage:
    """Find the node of a job whose GPU gauges differ from its peers' at the same time step.

    Job membership comes from ``JobProgress`` (see :class:`JobMembership`), so a node
    enters the comparison only while it has a rank. A hot spare that takes a
    rank replaces the node it swapped out at once, and a GPU sample of a node in no job
    is ignored.

    Samples are grouped per job by event time, truncated to ``bucket_seconds`` because
    nodes do not sample at the same instant. A time step is scored once every member
    reported it, or once the watermark is ``lateness_seconds`` past it; steps are scored
    in time order, and a sample of a step that was already scored is dropped. A missing
    node is NaN for :class:`detectors.peers.PeerDeviation`, which scores it as NaN.

    Each gauge is divided by its :data:`PEER_SCALES` unit before the comparison, so the
    deviation is in units of the larger of that unit and the peers' spread (1.4826 MAD).
    Only gauges below the peers' median count: a slow node delays every step of a
    synchronous job, while a node that runs faster than most (its rack is cooler than the
    others) costs nothing. While the job announces a planned stop (``JobGoodput`` state
    checkpointing, isolating, restarting or paused) its nodes idle in turn, so steps of
    that time are not compared.

    One anomaly is reported when a node's k-of-n persistent score first reaches
    ``threshold``; the node re-arms when the score falls below it. A NaN score (warm-up,
    missing sample) decides nothing. A change of the job's members restarts its detector
    and with it the persistence window of ``persistence_n`` steps.

    Args:
        threshold: Deviation, in units, that counts as different.
        persistence_k: Steps out of ``persistence_n`` that must deviate.
        persistence_n: Length of the persistence window, in time steps.
        min_peers: Nodes that must report a gauge for it to be compared.
        bucket_seconds: Width of the time step that groups the nodes' samples.
        lateness_seconds: Event time the stage waits for a step's missing nodes. It only
            matters when a node does not report; it is large because the watermark is
            the newest message of any partition, which runs ahead of the others in a backlog.
        membership: Job membership; a new :class:`JobMembership` by default.
    """

    name: Final = "peers.deviation"

    def __init__(
        self,
        *,
        threshold: float = 6.0,
        persistence_k: int = 3,
        persistence_n: int = 5,
        min_peers: int = 3,
        bucket_seconds: float = 1.0,
        lateness_seconds: float = 30.0,
        membership: JobMembership | None = None,
    ) -> None:
        if bucket_seconds <= 0:
            raise ValueError(f"bucket_seconds must be > 0, got {bucket_seconds}")
        self.threshold = threshold
        self.persistence_k = persistence_k
        self.persistence_n = persistence_n
        self.min_peers = min_peers
        self.bucket_seconds = bucket_seconds
        self.lateness_seconds = lateness_seconds
        self.membership = membership if membership is not None else JobMembership()
        # Check the detector settings now rather than at the first complete step.
        self._new_detector()
        self._jobs: dict[str, _JobPeers] = {}
        self._announced: dict[str, str] = {}
        self.late_samples = 0

    def observe_progress(self, message: JobProgress) -> None:
        """Learn job membership from one rank's progress."""
        self.membership.observe(message)

    def observe_goodput(self, message: JobGoodput) -> None:
        """Note the state the job announces: no comparison while it stops on purpose."""
        self._announced[message.job] = message.state

    def process(self, message: GpuTelemetry) -> list[Anomaly]:
        """Add one node's sample and return the anomalies of every time step it completed."""
        job = self.membership.job_of(message.node, at=message.time)
        if job is None:
            return []

        state = self._jobs.setdefault(job, _JobPeers())
        step = self._bucket(message.time)
        if state.last_scored is not None and step <= state.last_scored:
            self.late_samples += 1
            if self.late_samples % LATE_LOG_EVERY == 1:
                logger.warning("late GPU sample dropped job=%s node=%s time=%s late_samples=%d", job, message.node, message.time, self.late_samples)
            return []

        state.pending.setdefault(step, {})[message.node] = _NodeSample(message.time, _node_values(message), message.rack, message.cluster)
        members = self.membership.members(job, at=step)
        if not set(members) <= set(state.pending[step]):
            return []
        return self._score_until(job, state, step)

    def flush(self, watermark: datetime) -> list[Anomaly]:
        """Score every pending time step that is ``lateness_seconds`` or more behind ``watermark``."""
        limit = watermark - timedelta(seconds=self.lateness_seconds)
        anomalies: list[Anomaly] = []
        for job, state in self._jobs.items():
            due = [step for step in state.pending if step <= limit]
            if due:
                anomalies += self._score_until(job, state, max(due))
        return anomalies

    def _bucket(self, moment: datetime) -> datetime:
        seconds = (moment - _EPOCH).total_seconds()
        return _EPOCH + timedelta(seconds=np.floor(seconds / self.bucket_seconds) * self.bucket_seconds)

    def _new_detector(self) -> PeerDeviation:
        return PeerDeviation(
            persistence_k=self.persistence_k, persistence_n=self.persistence_n, min_peers=self.min_peers, min_scale=1.0, relative_scale=0.0,
            direction="low",
        )

    def _score_until(self, job: str, state: _JobPeers, last: datetime) -> list[Anomaly]:
        anomalies: list[Anomaly] = []
        for step in sorted(step for step in state.pending if step <= last):
            anomalies += self._score_step(job, state, step, state.pending.pop(step))
            state.last_scored = step
        return anomalies

    def _score_step(self, job: str, state: _JobPeers, step: datetime, samples: dict[str, _NodeSample]) -> list[Anomaly]:
        members = self.membership.members(job, at=step)
        if len(members) < self.min_peers or self._announced.get(job) in PLANNED_STOP_STATES:
            return []
        if state.detector is None or state.nodes != members:
            logger.info("peer comparison restarted job=%s nodes=%d previous_nodes=%d", job, len(members), len(state.nodes))
            state.detector = self._new_detector()
            state.nodes = members
            state.flagged &= set(members)

        missing = np.full(len(PEER_FIELDS), np.nan)
        values = np.array([samples[node].values if node in samples else missing for node in members])
        deviations = state.detector.deviations(values / _SCALES)
        scores = state.detector.score_learn_many(values / _SCALES)

        anomalies = []
        for row, node in enumerate(members):
            score = float(scores[row])
            if np.isnan(score):
                continue
            if score < self.threshold:
                state.flagged.discard(node)
                continue
            if node in state.flagged:
                continue
            state.flagged.add(node)
            anomalies.append(self._anomaly(job, node, samples[node], score, values, deviations[row], row))
        return anomalies

    def _anomaly(self, job: str, node: str, sample: _NodeSample, score: float, values: np.ndarray, deviations: np.ndarray, row: int) -> Anomaly:
        field_index = int(np.nanargmax(np.where(np.isnan(deviations), -np.inf, deviations)))
        name = PEER_FIELDS[field_index]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            peer_median = float(np.nanmedian(np.delete(values[:, field_index], row)))
        value = float(values[row, field_index])
        direction = "below" if value < peer_median else "above"
        return Anomaly(
            time=sample.time,
            cluster=sample.cluster,
            entity=node,
            entity_kind="node",
            rack=sample.rack,
            detector=self.name,
            score=score,
            threshold=self.threshold,
            severity="warning",
            # A node whose GPUs run slower than its peers' (lower clocks, power or activity) slows every step.
            fault_class="straggler" if value < peer_median else None,
            evidence={
                "job": job,
                "metric": name,
                "value": round(value, 4),
                "peer_median": round(peer_median, 4),
                "deviation": round(float(deviations[field_index]), 3),
                "peers": int(values.shape[0] - 1),
            },
            message=f"{name} of node {node} is {direction} its {values.shape[0] - 1} peers in job {job}: {value:.4g} against a median of {peer_median:.4g}",
        )


def _node_values(message: GpuTelemetry) -> np.ndarray:
    """Return the mean of each gauge over the node's GPUs that report it, NaN when none does."""
    matrix = np.array(
        [[np.nan if getattr(sample, name) is None else float(getattr(sample, name)) for name in PEER_FIELDS] for sample in message.gpus],
        dtype=float,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(matrix, axis=0)
