"""Boundary tests of the RDMA congestion rule."""

from __future__ import annotations

import pytest

from detectors.rules.congestion import RdmaCongestionRule
from tests.detectors.messages import dpu_telemetry


def run(rule: RdmaCongestionRule, samples: list[dict[str, int]]) -> list[list[str]]:
    """Feed one message per second and return the fault classes raised at each."""
    state = rule.new_state()
    return [[anomaly.fault_class or "" for anomaly in rule.check(dpu_telemetry(second, **fields), state)] for second, fields in enumerate(samples)]


def counters(seconds: int, out_of_sequence_per_second: int = 0, timeouts_at: tuple[int, ...] = ()) -> list[dict[str, int]]:
    return [
        {"out_of_sequence": out_of_sequence_per_second * second, "local_ack_timeout_err": sum(1 for moment in timeouts_at if moment <= second)}
        for second in range(seconds)
    ]


@pytest.mark.parametrize(("rate", "fires"), [(9, False), (10, True)], ids=["below", "at_limit"])
def test_out_of_sequence_rate_boundary(rate: int, fires: bool) -> None:
    # The window contains 10 one-second increases once 11 samples have arrived.
    raised = run(RdmaCongestionRule(), counters(11, out_of_sequence_per_second=rate))

    assert any(raised[-1]) is fires
    assert sum(len(classes) for classes in raised) == (1 if fires else 0)


@pytest.mark.parametrize(("timeouts", "fires"), [(2, False), (3, True)], ids=["below", "at_limit"])
def test_ack_timeout_boundary(timeouts: int, fires: bool) -> None:
    raised = run(RdmaCongestionRule(), counters(6, timeouts_at=tuple(range(1, timeouts + 1))))

    assert (["network_congestion"] in raised) is fires


def test_old_increases_leave_the_window() -> None:
    # Three timeouts, but 10 s apart: never three in one 10 s window.
    raised = run(RdmaCongestionRule(), counters(25, timeouts_at=(1, 11, 21)))

    assert not any(raised)


def test_lasting_congestion_reported_once() -> None:
    raised = run(RdmaCongestionRule(), counters(60, out_of_sequence_per_second=50))

    assert sum(len(classes) for classes in raised) == 1


def test_evidence_names_ecn_and_cnp_rates() -> None:
    rule = RdmaCongestionRule()
    state = rule.new_state()
    anomalies = []
    for second in range(12):
        message = dpu_telemetry(second, out_of_sequence=50 * second, np_ecn_marked_roce_packets=800 * second, np_cnp_sent=200 * second)
        anomalies += rule.check(message, state)

    assert len(anomalies) == 1
    assert anomalies[0].evidence["ecn_marked_per_second"] > 0
    assert anomalies[0].evidence["cnp_sent_per_second"] > 0
    assert anomalies[0].entity == "r000-n00"


def test_invalid_limits_rejected() -> None:
    with pytest.raises(ValueError, match="ack_timeouts"):
        RdmaCongestionRule(ack_timeouts=0)
