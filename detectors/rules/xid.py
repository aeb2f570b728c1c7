"""Xid classification with secondary Xids suppressed.

The catalog contains NVIDIA's immediate action and fatal/non-fatal class per Xid, from the
NVIDIA Xid catalog (docs.nvidia.com/deploy/xid-errors). Several Xids are usually
consequences of an earlier one on the same node. Xid 43 follows 13 or 31, and 45 is cleanup
after other errors. Xid 63 records the row remap that a 48 caused, and 94 is the contained
form of a 48.

The first non-secondary Xid of a node is the candidate cause, so a secondary Xid within
``secondary_window_seconds`` after a primary one on the same node is suppressed. Alone, a
secondary Xid is reported with its own action.

NOTE: the mnemonics and actions come from a summary of NVIDIA's catalog and were not
checked against the catalog itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from pydantic import Field

from detectors import thresholds
from detectors.anomaly import Anomaly, Severity
from detectors.rules.base import Rule, RuleState, gpu_anomaly, place_anomaly
from pipeline.schemas import GpuTelemetry, HardwareEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class XidInfo:
    """One Xid code: NVIDIA's mnemonic and immediate action, and how the pipeline ranks it.

    ``fault_class`` is the emulator's fault kind that the Xid points to, or None when the
    Xid alone does not tell.
    """

    mnemonic: str
    action: str
    fatal: bool
    severity: Severity
    fault_class: str | None


XID_CATALOG: Final[dict[int, XidInfo]] = {
    13: XidInfo("GR_EXCEPTION", "RESTART_APP", False, "warning", "software_crash"),
    31: XidInfo("FIFO_ERROR_MMU_ERR_FLT", "RESTART_APP", False, "warning", "software_crash"),
    43: XidInfo("RESETCHANNEL_VERIF_ERROR", "IGNORE", False, "info", "software_crash"),
    45: XidInfo("PREEMPTIVE_REMOVAL", "RESTART_FABRIC_MANAGER_IF_ALONE", False, "warning", None),
    46: XidInfo("GPU_TIMEOUT_ERROR", "RESET_GPU", True, "critical", "gpu_hard_fault"),
    48: XidInfo("GPU_ECC_DBE", "RESET_GPU", True, "critical", "hbm_uncorrectable"),
    61: XidInfo("PMU_BREAKPOINT", "REPORT_ISSUE", True, "critical", "gpu_hard_fault"),
    62: XidInfo("PMU_HALT_ERROR", "RESET_GPU", True, "critical", "gpu_hard_fault"),
    63: XidInfo("INFOROM_DRAM_RETIREMENT_EVENT", "RESET_AT_NEXT_CHECKPOINT", False, "info", "hbm_uncorrectable"),
    64: XidInfo("INFOROM_DRAM_RETIREMENT_FAILURE", "RESET_GPU", True, "critical", "hbm_uncorrectable"),
    74: XidInfo("NVLINK_ERROR", "RESET_GPU", True, "critical", "nvlink_fault"),
    79: XidInfo("GPU_HAS_FALLEN_OFF_THE_BUS", "REBOOT_NODE", True, "critical", "gpu_fell_off_bus"),
    92: XidInfo("EXCESSIVE_SBE_INTERRUPTS", "IGNORE", False, "info", "ecc_sbe_storm"),
    94: XidInfo("CONTAINED_ERROR", "RESTART_APP", False, "warning", "hbm_uncorrectable"),
    95: XidInfo("UNCONTAINED_ERROR", "RESET_GPU", True, "critical", "hbm_uncorrectable"),
    109: XidInfo("CTXSW_TIMEOUT_ERROR", "RESET_GPU", True, "critical", "gpu_hard_fault"),
    119: XidInfo("GSP_RPC_TIMEOUT", "RESET_GPU", True, "critical", "gsp_hang"),
    120: XidInfo("GSP_ERROR", "RESET_GPU", True, "critical", "gsp_hang"),
    136: XidInfo("ALI_TRAINING_FAIL", "RESET_GPU", True, "critical", "nvlink_fault"),
    140: XidInfo("UNRECOVERABLE_ECC_ERROR_ESCAPE", "RESET_GPU", True, "critical", "hbm_uncorrectable"),
    154: XidInfo("GPU_RECOVERY_ACTION_CHANGED", "FOLLOW_STATED_ACTION", False, "warning", None),
}
# Xid 144 to 150 are NVLink5 sub-unit errors (Blackwell); they are handled like Xid 74.
for _code in range(144, 151):
    XID_CATALOG[_code] = XidInfo(f"NVLINK5_{_code}", "RESET_GPU", True, "critical", "nvlink_fault")

SECONDARY_XIDS: Final = frozenset({43, 45, 63, 94})
UNKNOWN_XID: Final = XidInfo("UNKNOWN", "REPORT_ISSUE", False, "warning", None)
# Event ids remembered per node to drop repeats of an at-least-once delivery.
SEEN_EVENT_IDS_MAX: Final = 64


def classify_xid(code: int) -> XidInfo:
    """Return the catalog entry of an Xid code, or a warning-level entry for an unknown code."""
    return XID_CATALOG.get(code, UNKNOWN_XID)


class XidState(RuleState):
    """Per node: the latest primary Xid and recently seen event ids."""

    last_primary_time: datetime | None = None
    last_primary_code: int | None = None
    seen_event_ids: list[str] = Field(default_factory=list)
    last_xid_by_gpu: dict[str, int] = Field(default_factory=dict)


def _secondary_of(state: XidState, code: int, time: datetime, window_seconds: float) -> int | None:
    """Return the primary Xid that ``code`` follows, or None when it is not a suppressed secondary."""
    if code not in SECONDARY_XIDS or state.last_primary_time is None:
        return None
    elapsed = (time - state.last_primary_time).total_seconds()
    if 0 <= elapsed <= window_seconds:
        return state.last_primary_code
    return None


def _remember(state: XidState, code: int, time: datetime) -> None:
    if code not in SECONDARY_XIDS:
        state.last_primary_time = time
        state.last_primary_code = code


class XidRule(Rule[HardwareEvent, XidState]):
    """Classify Xid events from ``hardware.events`` and suppress secondary ones.

    Each reported Xid gets the catalog's severity and fault kind, with the Xid code and
    NVIDIA's immediate action in the evidence. Score 1.0, no numeric threshold.

    Args:
        secondary_window_seconds: How long after a primary Xid a secondary one on the same
            node counts as its consequence.
    """

    name = "rule.xid"
    message_type = HardwareEvent
    state_type = XidState

    def __init__(self, *, secondary_window_seconds: float = thresholds.XID_SECONDARY_WINDOW_SECONDS) -> None:
        self.secondary_window_seconds = secondary_window_seconds

    def check(self, message: HardwareEvent, state: XidState) -> list[Anomaly]:
        """Classify one event of kind ``xid``; other kinds return no anomaly."""
        if message.kind != "xid" or message.code is None:
            return []
        if message.event_id is not None:
            if message.event_id in state.seen_event_ids:
                logger.debug("dropped repeated event event_id=%s node=%s", message.event_id, message.node)
                return []
            state.seen_event_ids = (state.seen_event_ids + [message.event_id])[-SEEN_EVENT_IDS_MAX:]

        code = message.code
        primary = _secondary_of(state, code, message.time, self.secondary_window_seconds)
        _remember(state, code, message.time)
        if primary is not None:
            logger.debug("suppressed secondary xid node=%s xid=%d primary_xid=%d", message.node, code, primary)
            return []

        info = classify_xid(code)
        evidence = {"xid": code, "mnemonic": info.mnemonic, "action": info.action, "fatal": info.fatal, "source": message.source}
        text = f"Xid {code} ({info.mnemonic}): NVIDIA action {info.action}"
        if message.gpu is not None and message.node is not None:
            return [
                gpu_anomaly(
                    self, message, message.gpu, score=1.0, threshold=None, severity=info.severity,
                    evidence=evidence, fault_class=info.fault_class, text=text,
                )
            ]
        entity, kind = (message.node, "node") if message.node is not None else (message.rack, "rack")
        return [
            place_anomaly(
                self, message, entity=entity or "", entity_kind=kind, rack=message.rack, score=1.0, threshold=None,
                severity=info.severity, evidence=evidence, fault_class=info.fault_class, text=text,
            )
        ]


class XidFieldRule(Rule[GpuTelemetry, XidState]):
    """Classify the last-Xid gauge ``DCGM_FI_DEV_XID_ERRORS`` of GPU telemetry.

    dcgm-exporter publishes the code of the last Xid per GPU (0 for none). A change to a
    non-zero code is treated as a new Xid. The same code twice in a row counts as one Xid,
    because the gauge cannot show a repeat. Suppression works as in :class:`XidRule`.

    Args:
        secondary_window_seconds: How long after a primary Xid a secondary one on the same
            node counts as its consequence.
    """

    name = "rule.xid_field"
    message_type = GpuTelemetry
    state_type = XidState

    def __init__(self, *, secondary_window_seconds: float = thresholds.XID_SECONDARY_WINDOW_SECONDS) -> None:
        self.secondary_window_seconds = secondary_window_seconds

    def check(self, message: GpuTelemetry, state: XidState) -> list[Anomaly]:
        """Report each GPU whose last-Xid gauge changed to a non-zero code."""
        new_codes = []
        for sample in message.gpus:
            code = sample.DCGM_FI_DEV_XID_ERRORS
            if code is None:
                continue
            previous = state.last_xid_by_gpu.get(str(sample.gpu), 0)
            state.last_xid_by_gpu[str(sample.gpu)] = code
            if code != 0 and code != previous:
                new_codes.append((sample.gpu, code))

        # Primary codes first, so that a secondary one in the same sample is suppressed.
        new_codes.sort(key=lambda item: item[1] in SECONDARY_XIDS)
        anomalies = []
        for gpu, code in new_codes:
            primary = _secondary_of(state, code, message.time, self.secondary_window_seconds)
            _remember(state, code, message.time)
            if primary is not None:
                continue
            info = classify_xid(code)
            anomalies.append(
                gpu_anomaly(
                    self, message, gpu, score=1.0, threshold=None, severity=info.severity,
                    evidence={"xid": code, "mnemonic": info.mnemonic, "action": info.action, "fatal": info.fatal},
                    fault_class=info.fault_class, text=f"Xid {code} ({info.mnemonic}): NVIDIA action {info.action}",
                )
            )
        return anomalies
