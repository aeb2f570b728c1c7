"""Apply every detector to a batch of validated messages and collect the anomalies."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import detectors.rules
from detectors.anomaly import Anomaly
from detectors.rules.base import Rule, RuleState
from pipeline.detection.facility_stage import FacilityDriftStage
from pipeline.detection.generic_stage import GenericStage
from pipeline.detection.gpu_stats import GpuStatsStage
from pipeline.detection.job_stage import JobStage
from pipeline.detection.model_stage import ModelStage
from pipeline.detection.peer_stage import PeerStage
from pipeline.detection.silence_stage import SilenceStage
from pipeline.schemas import CoolingTelemetry, Envelope, GenericTelemetry, GpuTelemetry, JobGoodput, JobProgress

logger = logging.getLogger(__name__)


def default_rules() -> list[Rule[Any, Any]]:
    """Build every message rule of ``detectors.rules`` with its default thresholds.

    ``SilenceRule`` needs a clock as well as messages; :class:`SilenceStage` runs it.
    """
    rules = [rule for topic_rules in detectors.rules.default_rules().values() for rule in topic_rules]
    return sorted(rules, key=lambda rule: rule.name)


def state_key(message: Envelope) -> str:
    """Return the entity whose rule state a message updates: its node, rack or job."""
    for name in ("node", "job", "rack"):
        value = getattr(message, name, None)
        if value:
            return str(value)
    return message.cluster


class DetectionEngine:
    """Rules, per-GPU, per-CDU and per-series statistics, peer comparison, job-level checks, silent sources and an optional model.

    NOTE: state lives in memory, so a restarted worker re-learns its statistics and may
    report a condition that was already active once more.
    """

    def __init__(
        self,
        rules: Sequence[Rule[Any, Any]] | None = None,
        gpu_stats: GpuStatsStage | None = None,
        job_stage: JobStage | None = None,
        generic_stage: GenericStage | None = None,
        peer_stage: PeerStage | None = None,
        model_stage: ModelStage | None = None,
        facility_stage: FacilityDriftStage | None = None,
        silence_stage: SilenceStage | None = None,
    ) -> None:
        self.rules_by_type: dict[type[Envelope], list[Rule[Any, Any]]] = defaultdict(list)
        for rule in rules if rules is not None else default_rules():
            self.rules_by_type[rule.message_type].append(rule)
        self.gpu_stats = gpu_stats if gpu_stats is not None else GpuStatsStage()
        self.job_stage = job_stage if job_stage is not None else JobStage()
        self.generic_stage = generic_stage if generic_stage is not None else GenericStage()
        self.peer_stage = peer_stage if peer_stage is not None else PeerStage()
        self.facility_stage = facility_stage if facility_stage is not None else FacilityDriftStage()
        self.silence_stage = silence_stage if silence_stage is not None else SilenceStage()
        # The trained model runs only when one is configured.
        self.model_stage = model_stage
        self._states: dict[tuple[str, str], RuleState] = {}
        self.watermark: datetime | None = None

    def process(self, messages: Sequence[Envelope], clock: datetime | None = None) -> list[Anomaly]:
        """Run the detectors on messages in order and return the anomalies found.

        ``clock`` is the event time up to which every input has been read (see
        :class:`pipeline.agents.event_clock.EventClock`). The checks for what did not
        arrive (hangs, silent sources, peers that did not report) use it. Without it they
        use the newest event time seen, which is right only for input read in event-time
        order.
        """
        anomalies: list[Anomaly] = []
        for message in messages:
            anomalies += self._process_one(message)
            if self.watermark is None or message.time > self.watermark:
                self.watermark = message.time
        if self.model_stage is not None:
            anomalies += self.model_stage.process([message for message in messages if isinstance(message, GpuTelemetry)])
        now = clock if clock is not None else self.watermark
        if now is not None:
            anomalies += self.job_stage.check_hangs(now)
            anomalies += self.peer_stage.flush(now)
        anomalies += self.silence_stage.check(clock)
        return anomalies

    def _process_one(self, message: Envelope) -> list[Anomaly]:
        anomalies: list[Anomaly] = []
        key = state_key(message)
        for rule in self.rules_by_type.get(type(message), ()):
            state = self._states.get((rule.name, key))
            if state is None:
                state = rule.new_state()
                self._states[(rule.name, key)] = state
            try:
                anomalies += rule.check(message, state)
            except (ValueError, TypeError, KeyError, ArithmeticError):
                logger.exception("rule failed, skipping this message for it rule=%s key=%s time=%s", rule.name, key, message.time)

        self.silence_stage.observe(message)
        if isinstance(message, GpuTelemetry):
            anomalies += self.gpu_stats.process(message)
            anomalies += self.peer_stage.process(message)
        elif isinstance(message, JobProgress):
            anomalies += self.job_stage.process(message)
            self.peer_stage.observe_progress(message)
        elif isinstance(message, CoolingTelemetry):
            anomalies += self.facility_stage.process(message)
        elif isinstance(message, JobGoodput):
            self.job_stage.process_goodput(message)
            self.peer_stage.observe_goodput(message)
        elif isinstance(message, GenericTelemetry):
            anomalies += self.generic_stage.process(message)
        return anomalies
