"""Job membership: the nodes of each training job now, learnt from the jobs' progress messages."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from pipeline.schemas import JobProgress

logger = logging.getLogger(__name__)


@dataclass
class _Job:
    rank_node: dict[int, str] = field(default_factory=dict)
    last_progress: dict[str, datetime] = field(default_factory=dict)
    first_progress: dict[str, datetime] = field(default_factory=dict)
    latest: datetime | None = None


class JobMembership:
    """Track the member nodes of every job from ``JobProgress`` messages.

    Each rank of a job reports every step with its node, so the node that last reported a
    rank has it. A node that takes over a rank replaces the previous holder at once,
    which is what a hot-spare swap looks like. A node that stops reporting while the rest
    of its job goes on (the job shrank, or the node left) drops out once the job's newest
    progress is more than ``stale_seconds`` of event time ahead of the node's. While the
    whole job is silent (down, restarting) its members stay as they are.

    A node belongs to one job at a time: reporting for another job moves it there.

    Args:
        stale_seconds: Event time a member may lag behind its job's newest progress.
    """

    def __init__(self, *, stale_seconds: float = 30.0) -> None:
        if stale_seconds <= 0:
            raise ValueError(f"stale_seconds must be > 0, got {stale_seconds}")
        self.stale_seconds = stale_seconds
        self._jobs: dict[str, _Job] = {}
        self._node_job: dict[str, str] = {}

    def observe(self, message: JobProgress) -> None:
        """Record that ``message.node`` has ``message.rank`` of ``message.job``."""
        previous_job = self._node_job.get(message.node)
        if previous_job is not None and previous_job != message.job:
            self._remove(previous_job, message.node)
            logger.info("node moved to another job node=%s from_job=%s to_job=%s", message.node, previous_job, message.job)

        job = self._jobs.setdefault(message.job, _Job())
        holder = job.rank_node.get(message.rank)
        if holder is not None and holder != message.node:
            self._remove(message.job, holder)
            logger.info("node replaced in job job=%s rank=%d node=%s replaced_by=%s", message.job, message.rank, holder, message.node)
        for rank, node in list(job.rank_node.items()):
            if node == message.node and rank != message.rank:
                del job.rank_node[rank]

        job.rank_node[message.rank] = message.node
        job.last_progress[message.node] = max(message.time, job.last_progress.get(message.node, message.time))
        job.first_progress[message.node] = min(message.time, job.first_progress.get(message.node, message.time))
        job.latest = message.time if job.latest is None else max(job.latest, message.time)
        self._node_job[message.node] = message.job

    def job_of(self, node: str, at: datetime | None = None) -> str | None:
        """Return the job ``node`` is a current member of, or None.

        With ``at``, a node that joined its job after that event time (a spare that took a
        rank later) is not a member yet: the worker may read that progress before older
        GPU samples of the node.
        """
        job = self._node_job.get(node)
        if job is None or not self._is_current(self._jobs[job], node) or not self._joined_by(self._jobs[job], node, at):
            return None
        return job

    def members(self, job: str, at: datetime | None = None) -> tuple[str, ...]:
        """Return the current member nodes of ``job``, sorted, that joined by ``at``; empty for an unknown job."""
        state = self._jobs.get(job)
        if state is None:
            return ()
        return tuple(sorted(node for node in state.rank_node.values() if self._is_current(state, node) and self._joined_by(state, node, at)))

    @staticmethod
    def _joined_by(job: _Job, node: str, at: datetime | None) -> bool:
        first = job.first_progress.get(node)
        return at is None or (first is not None and first <= at)

    def _is_current(self, job: _Job, node: str) -> bool:
        last = job.last_progress.get(node)
        if last is None or job.latest is None:
            return False
        return (job.latest - last).total_seconds() <= self.stale_seconds

    def _remove(self, job_name: str, node: str) -> None:
        job = self._jobs[job_name]
        for rank, holder in list(job.rank_node.items()):
            if holder == node:
                del job.rank_node[rank]
        job.last_progress.pop(node, None)
        job.first_progress.pop(node, None)
        if self._node_job.get(node) == job_name:
            del self._node_job[node]
