"""Sources that stop sending: the silence rule on a clock of event time, per message type."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final

from detectors.anomaly import Anomaly
from detectors.rules.staleness import SilenceRule, SilenceState
from pipeline.schemas import CoolingTelemetry, DpuTelemetry, Envelope, GpuTelemetry, PowerTelemetry

logger = logging.getLogger(__name__)

# Message types that every source sends on a fixed interval. Events, job progress (the
# hang check covers it) and replayed series (which end when their file ends) are left out.
WATCHED_TYPES: Final = (GpuTelemetry, DpuTelemetry, CoolingTelemetry, PowerTelemetry)

# Seconds without a message before a source counts as stopped: a little longer than the
# rule's default, so that an exporter that pauses for a few seconds is not reported.
# Estimate.
WORKER_SILENCE_SECONDS: Final = 15.0


class SilenceStage:
    """Report a node, CDU or PDU whose telemetry of one type stops arriving.

    Each (message type, source) keeps a :class:`detectors.rules.staleness.SilenceRule`
    state. The clock of a message type is the newest event time seen for that type, so
    a source is silent when the other sources of its type moved on without it. One
    anomaly is reported per silence; a new message from the source re-arms it.

    NOTE: a source whose type no other source sends (one node alone) is never found
    silent. Without the worker's ``clock``, a partition that lags far behind the others
    of its topic can look silent.

    Args:
        silence_seconds: Seconds without a message before a source counts as stopped.
        check_every_seconds: Event-time seconds between two checks of one message type.
    """

    def __init__(self, *, silence_seconds: float = WORKER_SILENCE_SECONDS, check_every_seconds: float = 1.0) -> None:
        self.rule = SilenceRule(silence_seconds=silence_seconds)
        self.check_every_seconds = check_every_seconds
        self._states: dict[tuple[str, str], SilenceState] = {}
        self._clocks: dict[str, datetime] = {}
        self._checked: dict[str, datetime] = {}

    def observe(self, message: Envelope) -> None:
        """Record that the message's source is alive at its event time."""
        if not isinstance(message, WATCHED_TYPES):
            return
        kind = type(message).__name__
        source = getattr(message, "cdu", None) or getattr(message, "pdu", None) or getattr(message, "node", None) or message.cluster
        state = self._states.get((kind, source))
        if state is None:
            state = self.rule.new_state()
            self._states[(kind, source)] = state
        self.rule.check(message, state)
        clock = self._clocks.get(kind)
        if clock is None or message.time > clock:
            self._clocks[kind] = message.time

    def check(self, clock: datetime | None = None) -> list[Anomaly]:
        """Return an anomaly for each source that just went silent, by the clock of its message type.

        ``clock``, the event time up to which every input has been read, holds each
        type's clock back while the worker catches up.
        """
        anomalies: list[Anomaly] = []
        for kind, newest in self._clocks.items():
            now = newest if clock is None else min(newest, clock)
            checked = self._checked.get(kind)
            if checked is not None and (now - checked).total_seconds() < self.check_every_seconds:
                continue
            self._checked[kind] = now
            for (state_kind, source), state in self._states.items():
                if state_kind != kind:
                    continue
                found = self.rule.check_silence(now, state)
                for anomaly in found:
                    logger.info("source silent type=%s source=%s since=%s", kind, source, state.last_time)
                anomalies += [anomaly.model_copy(update={"evidence": {**anomaly.evidence, "message_type": kind}}) for anomaly in found]
        return anomalies
