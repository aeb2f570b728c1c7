"""A synchronous data-parallel training job, advanced in event time.

A step takes as long as the slowest member node's compute plus one collective; a
checkpoint every ``checkpoint_every_steps`` steps stalls the job. A crash on a member node
takes the job down, a hang stalls it until the faulty node recovers or the NCCL timeout
turns the hang into a crash. A down job waits for an action (:mod:`emulators.controller`)
or, when configured, for the emulated operator's manual recovery.

The job keeps its own time in seconds since its first sample and accounts every second
in a :class:`~emulators.goodput.GoodputLedger`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from emulators.effects import JOB_CRASH, JOB_HANG, JOB_OK
from emulators.goodput import GoodputLedger, LossKind
from emulators.messages import JOB_GOODPUT, JobState
from emulators.records import Record, format_time
from pipeline import topics
from pipeline.schemas import SCHEMA_VERSION

logger = logging.getLogger(__name__)

# Training loss of a step: LOSS_FLOOR + LOSS_SPAN / sqrt(1 + step / LOSS_STEPS), times a
# per-rank micro-batch noise of LOSS_BATCH_NOISE (relative standard deviation). A shape
# like that of a language model's early training; the numbers are illustrative.
LOSS_FLOOR = 1.7
LOSS_SPAN = 2.5
LOSS_STEPS = 50.0
LOSS_BATCH_NOISE = 0.02


@dataclass(frozen=True)
class JobConfig:
    """Timing of one training job. Defaults are estimates for a large language-model run."""

    name: str = "job-0001"
    compute_seconds: float = 1.6
    comm_seconds: float = 0.4
    # About every 10 minutes; the stall is that of an asynchronous in-memory snapshot.
    checkpoint_every_steps: int = 300
    checkpoint_seconds: float = 2.0
    restart_seconds: float = 90.0
    spare_swap_seconds: float = 60.0
    # PyTorch's default ProcessGroupNCCL timeout is 10 minutes.
    nccl_timeout_seconds: float = 600.0
    # Time until a human restarts a down job when no controller acts; None waits forever.
    manual_recovery_seconds: float | None = 1800.0
    samples_per_step: int = 1024
    step_jitter: float = 0.004
    node_speed_spread: float = 0.005
    # Seconds between JobGoodput messages; None publishes none.
    goodput_interval_seconds: float | None = None

    def __post_init__(self) -> None:
        for name in ("compute_seconds", "comm_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"job {name} must be positive, got {getattr(self, name)}")
        for name in ("checkpoint_seconds", "restart_seconds", "spare_swap_seconds", "nccl_timeout_seconds", "step_jitter", "node_speed_spread"):
            if getattr(self, name) < 0:
                raise ValueError(f"job {name} must not be negative, got {getattr(self, name)}")
        if self.goodput_interval_seconds is not None and self.goodput_interval_seconds <= 0:
            raise ValueError(f"job goodput_interval_seconds must be positive or None, got {self.goodput_interval_seconds}")
        if self.checkpoint_every_steps < 1:
            raise ValueError(f"job checkpoint_every_steps must be at least 1, got {self.checkpoint_every_steps}")


@dataclass
class JobConditions:
    """Node conditions that the cluster model passes to the job in one sample, per node index."""

    speed: np.ndarray
    comm_factor: np.ndarray
    job_fault: np.ndarray
    faulty: np.ndarray
    job_comm_factor: float = 1.0
    loss_factor: np.ndarray | None = None


@dataclass
class JobActivity:
    """Seconds each node spent in each phase during one sample interval, per node index."""

    compute: np.ndarray
    wait: np.ndarray
    comm: np.ndarray
    hung: np.ndarray
    checkpoint: np.ndarray
    restart: np.ndarray
    comm_phases: np.ndarray

    @classmethod
    def zeros(cls, nodes: int) -> JobActivity:
        """Return an activity with every phase at zero."""
        return cls(*(np.zeros(nodes) for _ in range(7)))


@dataclass
class _Step:
    number: int
    started: float
    start: float
    compute: np.ndarray
    comm: float
    healthy_seconds: float
    stall_seconds: float = 0.0

    @property
    def end(self) -> float:
        return self.start + float(self.compute.max()) + self.comm


@dataclass
class _Phase:
    state: JobState
    until: float
    loss: LossKind


@dataclass
class TrainingJob:
    """One job over ``members`` (node indices in rank order) with a hot-spare pool."""

    config: JobConfig
    cluster: str
    node_names: tuple[str, ...]
    members: list[int]
    spares: list[int]
    seed: int = 0
    ledger: GoodputLedger = field(default_factory=GoodputLedger)

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError("a training job needs at least one member node")
        self.rng = np.random.default_rng([self.seed, 3])
        # A stream of its own, so that the loss does not change the other draws of a seed.
        self.loss_rng = np.random.default_rng([self.seed, 7])
        spread = self.rng.normal(0.0, self.config.node_speed_spread, len(self.node_names))
        self.base_speed = np.clip(1.0 + spread, 0.5, 1.5)
        self.initial_size = len(self.members)
        self.cordoned: set[int] = set()
        self.origin: datetime | None = None
        self.t = 0.0
        self.state: JobState = "running"
        self.step_number = 0
        self.checkpoint_step = 0
        self.current: _Step | None = None
        self.phases: list[_Phase] = []
        self.down_since: float | None = None
        self.hang_since: float | None = None
        self.pause_after_checkpoint = False
        self.last_goodput_slot = -1
        self.last_conditions: JobConditions | None = None
        self.restarts = 0
        self.swaps_at_checkpoint: list[int] = []

    # Time

    def seconds_since_origin(self, moment: datetime) -> float:
        """Return the job time of ``moment``; the first call fixes the origin."""
        if self.origin is None:
            self.origin = moment
        return (moment - self.origin).total_seconds()

    def _stamp(self, seconds: float) -> str:
        assert self.origin is not None
        return format_time(self.origin + timedelta(seconds=round(seconds, 6)))

    # Advancing

    def advance(self, now: datetime, conditions: JobConditions) -> tuple[list[Record], JobActivity]:
        """Run the job up to event time ``now`` and return its messages and the nodes' activity."""
        t_now = self.seconds_since_origin(now)
        self.last_conditions = conditions
        activity = JobActivity.zeros(len(self.node_names))
        records: list[Record] = []

        if self.current is None and self.state == "running":
            self._start_step(self.t, conditions)
        while self.t < t_now:
            if not self._advance_once(t_now, conditions, activity, records):
                break
        self.t = max(self.t, t_now)
        self._apply_faults(t_now, conditions)
        self._maybe_recover_manually(t_now, conditions)
        records += self._goodput_records(t_now, now)
        return records, activity

    def _advance_once(self, t_now: float, conditions: JobConditions, activity: JobActivity, records: list[Record]) -> bool:
        """Advance through one step or phase; return False when ``t_now`` is reached."""
        if self.state == "running":
            return self._advance_running(t_now, conditions, activity, records)
        if self.state == "hung":
            return self._advance_hang(t_now, activity)
        if self.phases:
            return self._advance_phase(t_now, conditions, activity)

        # Down or paused: the time passes as loss until an action arrives.
        self.ledger.add_loss("paused" if self.state == "paused" else "detection", t_now - self.t)
        self.t = t_now
        return False

    def _advance_running(self, t_now: float, conditions: JobConditions, activity: JobActivity, records: list[Record]) -> bool:
        step = self.current
        assert step is not None
        end = step.end
        self._accumulate_step(step, self.t, min(end, t_now), activity)
        if end > t_now:
            self.t = t_now
            return False

        self._finish_step(step, records)
        self.t = end
        if self.step_number % self.config.checkpoint_every_steps == 0:
            self._begin_checkpoint(end)
        else:
            self._start_step(end, conditions)
        return True

    def _advance_phase(self, t_now: float, conditions: JobConditions, activity: JobActivity) -> bool:
        phase = self.phases[0]
        until = min(phase.until, t_now)
        spent = max(until - self.t, 0.0)
        self.ledger.add_loss(phase.loss, spent)
        if phase.state == "checkpointing":
            activity.checkpoint[self.members] += spent
        elif phase.state == "restarting":
            activity.restart[self.members] += spent
        self.t = until
        if phase.until > t_now:
            return False

        self.phases.pop(0)
        if phase.state == "checkpointing":
            self.checkpoint_step = self.step_number
            self.ledger.commit()
            if self.swaps_at_checkpoint and not self.phases:
                self._swap_after_checkpoint()
                return True
        if not self.phases:
            self._enter_after_phases(self.t, conditions)
        else:
            self.state = self.phases[0].state
        return True

    def _enter_after_phases(self, t: float, conditions: JobConditions) -> None:
        if self.pause_after_checkpoint:
            self.pause_after_checkpoint = False
            self.state = "paused"
            return
        self.state = "running"
        self._start_step(t, conditions)

    def _advance_hang(self, t_now: float, activity: JobActivity) -> bool:
        """Let a hang run until ``t_now`` or its NCCL timeout; return True when it timed out."""
        assert self.hang_since is not None
        deadline = self.hang_since + self.config.nccl_timeout_seconds
        activity.hung[self.members] += min(deadline, t_now) - self.t
        if deadline > t_now:
            self.t = t_now
            return False
        self.t = deadline
        logger.info("job hang timed out job=%s nccl_timeout_seconds=%.0f", self.config.name, self.config.nccl_timeout_seconds)
        self._go_down(deadline)
        return True

    # Steps

    def _start_step(self, t: float, conditions: JobConditions) -> None:
        members = np.asarray(self.members)
        jitter = 1.0 + self.rng.normal(0.0, self.config.step_jitter, len(members))
        healthy_compute = self.config.compute_seconds / self.base_speed[members] * jitter
        speed = np.clip(conditions.speed[members], 0.05, None)
        compute = healthy_compute / speed
        comm_factor = float(np.clip(conditions.comm_factor[members].min() * conditions.job_comm_factor, 0.01, None))
        self.current = _Step(
            number=self.step_number + 1,
            started=t,
            start=t,
            compute=compute,
            comm=self.config.comm_seconds / comm_factor,
            healthy_seconds=float(healthy_compute.max()) + self.config.comm_seconds,
        )

    def _accumulate_step(self, step: _Step, a: float, b: float, activity: JobActivity) -> None:
        if b <= a:
            return
        members = np.asarray(self.members)
        compute_end = step.start + step.compute
        comm_start = step.end - step.comm
        activity.compute[members] += np.clip(np.minimum(b, compute_end) - max(a, step.start), 0.0, None)
        activity.wait[members] += np.clip(min(b, comm_start) - np.maximum(a, compute_end), 0.0, None)
        comm = max(min(b, step.end) - max(a, comm_start), 0.0)
        activity.comm[members] += comm
        activity.comm_phases[members] += comm / step.comm

    def _finish_step(self, step: _Step, records: list[Record]) -> None:
        step_seconds = step.end - step.start + step.stall_seconds
        productive = min(step.healthy_seconds, step_seconds)
        self.ledger.add_step(productive, step_seconds - productive)
        self.step_number = step.number
        self.current = None

        stamp = self._stamp(step.end)
        samples_per_second = self.config.samples_per_step * len(self.members) / self.initial_size / step_seconds
        losses = self._local_losses(step.number)
        for rank, node in enumerate(self.members):
            value = {
                "schema_version": SCHEMA_VERSION,
                "time": stamp,
                "cluster": self.cluster,
                "job": self.config.name,
                "node": self.node_names[node],
                "rank": rank,
                "step": step.number,
                "step_time_seconds": round(float(step.compute[rank]) + step.comm + step.stall_seconds, 4),
                "samples_per_second": round(samples_per_second, 3),
                "loss": round(float(losses[rank]), 5),
            }
            records.append(Record(topics.JOB_PROGRESS, self.config.name, value))

    def _local_losses(self, step: int) -> np.ndarray:
        """Return each rank's loss on its own micro-batch: a falling curve, 2 % batch noise, fault factors."""
        members = np.asarray(self.members)
        curve = LOSS_FLOOR + LOSS_SPAN / np.sqrt(1.0 + step / LOSS_STEPS)
        noise = 1.0 + self.loss_rng.normal(0.0, LOSS_BATCH_NOISE, len(members))
        conditions = self.last_conditions
        factor = conditions.loss_factor[members] if conditions is not None and conditions.loss_factor is not None else 1.0
        return curve * noise * factor

    def _begin_checkpoint(self, t: float) -> None:
        self.state = "checkpointing"
        self.phases = [_Phase("checkpointing", t + self.config.checkpoint_seconds, "checkpoint")]

    # Faults

    def _apply_faults(self, t_now: float, conditions: JobConditions) -> None:
        worst = int(conditions.job_fault[np.asarray(self.members)].max())
        if worst == JOB_CRASH and self.state != "down":
            logger.info("job crashed job=%s step=%d time_seconds=%.1f", self.config.name, self.step_number, t_now)
            self._go_down(t_now)
        elif worst == JOB_HANG and self.state == "running":
            logger.info("job hung job=%s step=%d time_seconds=%.1f", self.config.name, self.step_number, t_now)
            self.ledger.interruptions += 1
            self.state = "hung"
            self.hang_since = t_now
        elif worst == JOB_OK and self.state == "hung":
            self._resume_from_hang(t_now)

    def _resume_from_hang(self, t: float) -> None:
        assert self.hang_since is not None and self.current is not None
        stall = t - self.hang_since
        self.current.start += stall
        self.current.stall_seconds += stall
        self.hang_since = None
        self.state = "running"
        logger.info("job resumed after stall job=%s stall_seconds=%.1f", self.config.name, stall)

    def _go_down(self, t: float) -> None:
        """Stop the job at ``t`` after a crash or a hang timeout and throw away unsaved work."""
        if self.state != "hung":
            self.ledger.interruptions += 1
        self._stop_work(t)
        self.state = "down"
        self.down_since = t

    def _stop_work(self, t: float) -> None:
        """Stop whatever runs at ``t``, counting a hang as detection and unsaved work as replayed."""
        work_end = t
        if self.state == "hung" and self.hang_since is not None:
            self.ledger.add_loss("detection", t - self.hang_since)
            work_end = self.hang_since
        partial = 0.0
        if self.current is not None:
            partial = max(work_end - self.current.started, 0.0)
        self.ledger.roll_back(partial)
        self.step_number = self.checkpoint_step
        self.current = None
        self.hang_since = None
        self.phases = []
        self.pause_after_checkpoint = False

    # Manual recovery

    def _maybe_recover_manually(self, t_now: float, conditions: JobConditions) -> None:
        wait = self.config.manual_recovery_seconds
        if wait is None or self.state != "down" or self.down_since is None or t_now - self.down_since < wait:
            return
        faulty = [node for node in self.members if conditions.faulty[node]]
        if len(faulty) == len(self.members):
            # Every rank is affected: a job-wide cause, which a restart in place clears.
            faulty = []
        logger.info(
            "operator recovers job manually job=%s faulty_nodes=%s",
            self.config.name, ",".join(self.node_names[node] for node in faulty) or "none",
        )
        for node in faulty:
            if self.swap(node) is None and len(self.members) > 1:
                self.exclude(node)
        if self.state == "down":
            self.restart()

    # Actions, applied at the job's current time

    def restart(self) -> str:
        """Restart from the last checkpoint on the current nodes and return what was done."""
        if self.state in ("isolating", "restarting"):
            return f"job {self.config.name} is already restarting"
        self._stop_work(self.t)
        self._set_phases(self._then([], "restarting", self.config.restart_seconds, "restart"))
        return f"job {self.config.name} restarts from step {self.checkpoint_step}"

    def swap(self, node: int, spare: int | None = None) -> int | None:
        """Replace member ``node`` with a hot spare and restart.

        A running job first takes a checkpoint, so only the unfinished step is lost.

        Args:
            node: the member to replace.
            spare: the spare to use; None takes the first uncordoned one.

        Returns:
            The spare's node index, or None when no spare is free.

        Raises:
            ValueError: ``node`` is not a member, or ``spare`` is not a free spare.
        """
        self._require_member(node)
        if spare is None:
            spare = self.free_spare()
            if spare is None:
                return None
        elif spare not in self.spares or spare in self.cordoned:
            raise ValueError(f"node {self.node_names[spare]} is not a free spare of job {self.config.name}")
        phases = self._checkpoint_or_stop()
        self.members[self.members.index(node)] = spare
        self.spares.remove(spare)
        phases = self._then(phases, "isolating", self.config.spare_swap_seconds, "isolation")
        self._set_phases(self._then(phases, "restarting", self.config.restart_seconds, "restart"))
        logger.info("job swapped node job=%s node=%s spare=%s", self.config.name, self.node_names[node], self.node_names[spare])
        return spare

    def free_spare(self) -> int | None:
        """Return the first spare that is not cordoned, or None."""
        return next((candidate for candidate in self.spares if candidate not in self.cordoned), None)

    def swap_at_checkpoint(self, node: int) -> None:
        """Replace member ``node`` with a spare right after the next periodic checkpoint, losing no work.

        A job that is not running swaps at once.

        Raises:
            ValueError: ``node`` is not a member of the job.
        """
        self._require_member(node)
        if self.state not in ("running", "checkpointing"):
            if self.swap(node) is None:
                self.exclude(node)
            return
        if node not in self.swaps_at_checkpoint:
            self.swaps_at_checkpoint.append(node)

    def exclude(self, node: int) -> None:
        """Remove member ``node`` from the job and restart with one node less.

        Raises:
            ValueError: ``node`` is not a member, or it is the last member.
        """
        self._require_member(node)
        if len(self.members) == 1:
            raise ValueError(f"cannot exclude {self.node_names[node]}: it is the last node of job {self.config.name}")
        phases = self._checkpoint_or_stop()
        self.members.remove(node)
        self._set_phases(self._then(phases, "restarting", self.config.restart_seconds, "restart"))
        logger.info("job excluded node job=%s node=%s nodes=%d", self.config.name, self.node_names[node], len(self.members))

    def cordon(self, node: int) -> None:
        """Mark ``node`` unschedulable: it is never taken as a spare. A member keeps running."""
        self.cordoned.add(node)

    def uncordon(self, node: int) -> None:
        """Make ``node`` schedulable again."""
        self.cordoned.discard(node)

    def release(self, node: int) -> None:
        """Return a repaired node to service: uncordon it and, unless it is a member, add it to the spares."""
        self.cordoned.discard(node)
        if node not in self.members and node not in self.spares:
            self.spares.append(node)
            logger.info("repaired node joins the spare pool job=%s node=%s spares=%d", self.config.name, self.node_names[node], len(self.spares))

    def emergency_checkpoint(self, pause: bool = False) -> None:
        """Take a checkpoint now; then go on running, or with ``pause`` wait for :meth:`resume` or :meth:`restart`.

        Raises:
            ValueError: the job is not running or checkpointing, so there is no state to save.
        """
        if self.state == "checkpointing":
            self.pause_after_checkpoint = self.pause_after_checkpoint or pause
            return
        if self.state != "running":
            raise ValueError(f"cannot checkpoint job {self.config.name} while it is {self.state}")
        self._set_phases(self._checkpoint_or_stop())
        self.pause_after_checkpoint = pause

    def resume(self) -> None:
        """Resume a paused job.

        Raises:
            ValueError: the job is not paused.
        """
        if self.state != "paused":
            raise ValueError(f"cannot resume job {self.config.name} while it is {self.state}; only a paused job resumes")
        self._enter_running()

    def _swap_after_checkpoint(self) -> None:
        nodes, self.swaps_at_checkpoint = self.swaps_at_checkpoint, []
        # Between the checkpoint and the swap nothing runs and nothing is unsaved.
        self.state = "paused"
        for node in nodes:
            if node not in self.members:
                continue
            if self.swap(node) is None and len(self.members) > 1:
                self.exclude(node)
        if self.state == "paused":
            self._enter_running()

    def _enter_running(self) -> None:
        self.state = "running"
        if self.last_conditions is not None:
            self._start_step(self.t, self.last_conditions)

    def _require_member(self, node: int) -> None:
        if node not in self.members:
            raise ValueError(f"node {self.node_names[node]} is not in job {self.config.name}")

    def _checkpoint_or_stop(self) -> list[_Phase]:
        """End the current work: save it with a checkpoint when running, else throw it away."""
        if self.state == "running" and self.current is not None:
            self.ledger.add_loss("replayed", max(self.t - self.current.started, 0.0))
            self.current = None
            return self._then([], "checkpointing", self.config.checkpoint_seconds, "checkpoint")
        if self.state == "checkpointing":
            return self.phases[:1]
        self._stop_work(self.t)
        return []

    def _then(self, phases: list[_Phase], state: JobState, seconds: float, loss: LossKind) -> list[_Phase]:
        """Return ``phases`` with one more phase of ``seconds`` that starts when the last one ends."""
        begin = phases[-1].until if phases else self.t
        return [*phases, _Phase(state, begin + seconds, loss)]

    def _set_phases(self, phases: list[_Phase]) -> None:
        if any(phase.state == "restarting" for phase in phases):
            self.restarts += 1
        self.phases = phases
        self.state = phases[0].state if phases else "running"
        self.down_since = None

    # Goodput

    def _goodput_records(self, t_now: float, now: datetime) -> list[Record]:
        if self.config.goodput_interval_seconds is None:
            return []
        slot = int(t_now // self.config.goodput_interval_seconds)
        if slot == self.last_goodput_slot:
            return []
        self.last_goodput_slot = slot
        return [Record(JOB_GOODPUT, self.config.name, self.goodput_value(now))]

    def goodput_value(self, now: datetime) -> dict[str, object]:
        """Return the job's time accounting at ``now`` as a ``JobGoodput`` message value."""
        ledger = self.ledger
        value: dict[str, object] = {
            "schema_version": SCHEMA_VERSION,
            "time": format_time(now),
            "cluster": self.cluster,
            "job": self.config.name,
            "state": self.state,
            "step": self.step_number,
            "checkpoint_step": self.checkpoint_step,
            "nodes": len(self.members),
            "interruptions": ledger.interruptions,
            "ettr": round(min(max(ledger.ettr, 0.0), 1.0), 6),
            "elapsed_seconds": round(ledger.elapsed_seconds, 3),
            "productive_seconds": round(max(ledger.productive_seconds, 0.0), 3),
        }
        for kind, seconds in ledger.losses.items():
            value[f"{kind}_seconds"] = round(max(seconds, 0.0), 3)
        return value
