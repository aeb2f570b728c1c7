"""RDMA congestion on DPU ports: out-of-sequence packets and retransmit timeouts.

ECMP collisions and incast show on the receiving port as packets out of sequence
(``out_of_sequence``) and, once a sender gives up waiting, as retransmit timeouts
(``local_ack_timeout_err``), while ECN marks and CNPs soar. ECN marks alone depend on the
traffic mix, so the rule decides on the two error counters and reports the ECN and CNP
rates as evidence.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from detectors import thresholds
from detectors.anomaly import Anomaly
from detectors.rules.base import CounterSample, Rule, RuleState, counter_increase, place_anomaly, rising
from pipeline.schemas import DpuPort, DpuTelemetry

WINDOW_COUNTERS = ("out_of_sequence", "local_ack_timeout_err", "np_ecn_marked_roce_packets", "np_cnp_sent")


class CongestionState(RuleState):
    """Per node: previous counters and recent increases (time, counter, increase), per port."""

    previous: dict[str, dict[str, CounterSample]] = Field(default_factory=dict)
    increases: dict[str, list[tuple[datetime, str, int]]] = Field(default_factory=dict)


class RdmaCongestionRule(Rule[DpuTelemetry, CongestionState]):
    """Congestion on a DPU port over the last ``window_seconds``: fault ``network_congestion``.

    - ``out_of_sequence`` grows by ``out_of_sequence_per_second`` or more per second, or
    - ``local_ack_timeout_err`` grows by ``ack_timeouts`` or more,

    -> warning. The score is the out-of-sequence rate against its limit, or the timeout
    count against its limit, whichever is larger.
    """

    name = "rule.congestion"
    message_type = DpuTelemetry
    state_type = CongestionState

    def __init__(
        self,
        *,
        out_of_sequence_per_second: float = thresholds.RDMA_OUT_OF_SEQUENCE_PER_SECOND_WARN,
        ack_timeouts: int = thresholds.RDMA_ACK_TIMEOUTS_WARN,
        window_seconds: float = thresholds.RDMA_CONGESTION_WINDOW_SECONDS,
    ) -> None:
        if out_of_sequence_per_second <= 0 or ack_timeouts < 1 or window_seconds <= 0:
            raise ValueError(
                "out_of_sequence_per_second and window_seconds must be > 0 and ack_timeouts >= 1, got "
                f"{out_of_sequence_per_second}, {window_seconds}, {ack_timeouts}"
            )
        self.out_of_sequence_per_second = out_of_sequence_per_second
        self.ack_timeouts = ack_timeouts
        self.window_seconds = window_seconds

    def check(self, message: DpuTelemetry, state: CongestionState) -> list[Anomaly]:
        """Check every port of the node's DPU."""
        anomalies = []
        for port in message.ports:
            totals = self._window_totals(message, state, port)
            out_of_sequence_rate = totals["out_of_sequence"] / self.window_seconds
            timeouts = totals["local_ack_timeout_err"]
            score = max(out_of_sequence_rate / self.out_of_sequence_per_second, timeouts / self.ack_timeouts)
            if not rising(state, f"congestion:{port.port}", score >= 1.0):
                continue
            anomalies.append(
                place_anomaly(
                    self, message, entity=message.node, entity_kind="node", rack=message.rack, score=score, threshold=1.0,
                    severity="warning", fault_class="network_congestion",
                    evidence={
                        "dpu": message.dpu, "port": port.port, "window_seconds": self.window_seconds,
                        "out_of_sequence_per_second": round(out_of_sequence_rate, 2), "local_ack_timeout_err": timeouts,
                        "ecn_marked_per_second": round(totals["np_ecn_marked_roce_packets"] / self.window_seconds, 1),
                        "cnp_sent_per_second": round(totals["np_cnp_sent"] / self.window_seconds, 1),
                    },
                    text=(
                        f"port {port.port}: {out_of_sequence_rate:.0f} out-of-sequence packets/s and {timeouts} retransmit "
                        f"timeouts in {self.window_seconds:g} s; congestion or ECMP collisions under its switch"
                    ),
                )
            )
        return anomalies

    def _window_totals(self, message: DpuTelemetry, state: CongestionState, port: DpuPort) -> dict[str, int]:
        """Record this sample's counter increases and return each counter's total over the window."""
        previous = state.previous.setdefault(str(port.port), {})
        recent = state.increases.setdefault(str(port.port), [])
        for field in WINDOW_COUNTERS:
            value = getattr(port, field)
            if value is None:
                continue
            increase = counter_increase(previous.get(field), value)
            previous[field] = CounterSample(time=message.time, value=value)
            if increase:
                recent.append((message.time, field, increase))
        cutoff = message.time - timedelta(seconds=self.window_seconds)
        recent[:] = [entry for entry in recent if entry[0] > cutoff]
        totals = dict.fromkeys(WINDOW_COUNTERS, 0)
        for _, field, increase in recent:
            totals[field] += increase
        return totals
