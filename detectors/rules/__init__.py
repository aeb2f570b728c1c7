"""Absolute rules, one module per family, and the default set per input topic."""

from __future__ import annotations

from typing import Any

from detectors.rules.base import Rule, RuleState
from detectors.rules.clocks import ClockEventRule
from detectors.rules.congestion import RdmaCongestionRule
from detectors.rules.cooling import CoolingRule
from detectors.rules.ecc import EccRule
from detectors.rules.events import HardwareEventRule
from detectors.rules.network import DpuPortRule
from detectors.rules.nvlink_pcie import NvlinkRule, PcieReplayRule
from detectors.rules.power import PowerRule
from detectors.rules.staleness import FrozenSeriesRule, SilenceRule
from detectors.rules.xid import XidFieldRule, XidRule
from pipeline import topics

__all__ = [
    "ClockEventRule",
    "CoolingRule",
    "DpuPortRule",
    "EccRule",
    "FrozenSeriesRule",
    "HardwareEventRule",
    "NvlinkRule",
    "PcieReplayRule",
    "PowerRule",
    "RdmaCongestionRule",
    "Rule",
    "RuleState",
    "SilenceRule",
    "XidFieldRule",
    "XidRule",
    "default_rules",
]


def default_rules() -> dict[str, list[Rule[Any, Any]]]:
    """Return new instances of every message rule with default limits, by input topic.

    :class:`SilenceRule` is not included: it needs a timer as well as messages, so the
    worker sets it up on its own.
    """
    return {
        topics.GPU: [XidFieldRule(), EccRule(), PcieReplayRule(), NvlinkRule(), ClockEventRule(), FrozenSeriesRule()],
        topics.COOLING: [CoolingRule()],
        topics.DPU: [DpuPortRule(), RdmaCongestionRule()],
        topics.POWER: [PowerRule()],
        topics.HARDWARE_EVENTS: [XidRule(), HardwareEventRule()],
    }
