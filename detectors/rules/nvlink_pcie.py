"""PCIe replay rate by link generation and width, PCIe link downgrades, and NVLink error counters."""

from __future__ import annotations

import math
from datetime import timedelta

from pydantic import Field

from detectors import thresholds
from detectors.anomaly import Anomaly
from detectors.rules.base import CounterSample, Rule, RuleState, counter_increase, gpu_anomaly, rising
from pipeline.schemas import GpuSample, GpuTelemetry


def pcie_replay_limit(generation: int, width: int) -> int | None:
    """Return the DCGM replay limit per minute for a link, or None for an unknown generation.

    The limit is ceil(per-lane rate x lanes): Gen4 x16 -> 16, Gen5 x16 -> 31.
    """
    rate = thresholds.PCIE_REPLAYS_PER_LANE_PER_MINUTE.get(generation)
    if rate is None or width <= 0:
        return None
    # Round before ceil so that 0.3 x 10 = 3.0000000000000004 stays 3.
    return math.ceil(round(rate * width, 9))


class PcieState(RuleState):
    """Per node: recent replay counter samples and the best link seen, per GPU."""

    replay_history: dict[str, list[CounterSample]] = Field(default_factory=dict)
    best_link: dict[str, list[int]] = Field(default_factory=dict)


class PcieReplayRule(Rule[GpuTelemetry, PcieState]):
    """PCIe replays in the last minute above the generation's limit, and link downgrades.

    Replay rule (DCGM health watch, PCIE system): warn when the replays counted over the
    last ``window_seconds`` exceed ceil(per-lane rate x lanes) for the link's current
    generation (``DCGM_FI_DEV_PCIE_LINK_GEN``) and width (``DCGM_FI_DEV_PCIE_LINK_WIDTH``).
    Like DCGM, the rule waits for a full window of data before it decides. The score is
    the replay count and ``threshold`` the limit; the rule fires when score > threshold.
    NOTE: older DCGM releases used one flat limit of 8 replays per minute for every link;
    the per-generation rates follow newer releases.

    Downgrade rule: warn when a GPU's link generation or width drops below the best value
    seen for that GPU since the state started, a classic silent cause of a straggler.
    """

    name = "rule.pcie"
    message_type = GpuTelemetry
    state_type = PcieState

    def __init__(self, *, window_seconds: float = thresholds.PCIE_REPLAY_WINDOW_SECONDS) -> None:
        self.window_seconds = window_seconds

    def check(self, message: GpuTelemetry, state: PcieState) -> list[Anomaly]:
        """Check replay rate and link state of every GPU of the node."""
        anomalies = []
        for sample in message.gpus:
            anomalies += self._check_replays(message, state, sample)
            anomalies += self._check_downgrade(message, state, sample)
        return anomalies

    def _replays_in_window(self, message: GpuTelemetry, state: PcieState, gpu: int, value: int) -> int | None:
        history = state.replay_history.setdefault(str(gpu), [])
        if history and value < history[-1].value:
            history.clear()
        history.append(CounterSample(time=message.time, value=value))

        # The reference is the newest sample at least one window old; older ones can go.
        cutoff = message.time - timedelta(seconds=self.window_seconds)
        old = [index for index, item in enumerate(history) if item.time <= cutoff]
        if not old:
            return None
        del history[: old[-1]]
        return value - history[0].value

    def _check_replays(self, message: GpuTelemetry, state: PcieState, sample: GpuSample) -> list[Anomaly]:
        value, generation, width = sample.DCGM_FI_DEV_PCIE_REPLAY_COUNTER, sample.DCGM_FI_DEV_PCIE_LINK_GEN, sample.DCGM_FI_DEV_PCIE_LINK_WIDTH
        if value is None:
            return []
        replays = self._replays_in_window(message, state, sample.gpu, value)
        limit = None if generation is None or width is None else pcie_replay_limit(generation, width)
        if replays is None or limit is None:
            return []
        if not rising(state, f"pcie_replay:{sample.gpu}", replays > limit):
            return []
        return [
            gpu_anomaly(
                self, message, sample.gpu, score=float(replays), threshold=float(limit), severity="warning",
                evidence={"replays_in_window": replays, "window_seconds": self.window_seconds, "link_gen": generation, "link_width": width},
                fault_class="pcie_degradation",
                text=f"{replays} PCIe replays in {self.window_seconds:g} s, above the Gen{generation} x{width} limit of {limit}; run field diagnostics",
            )
        ]

    def _check_downgrade(self, message: GpuTelemetry, state: PcieState, sample: GpuSample) -> list[Anomaly]:
        generation, width = sample.DCGM_FI_DEV_PCIE_LINK_GEN, sample.DCGM_FI_DEV_PCIE_LINK_WIDTH
        if generation is None or width is None:
            return []
        best = state.best_link.setdefault(str(sample.gpu), [generation, width])
        best[0], best[1] = max(best[0], generation), max(best[1], width)
        downgraded = generation < best[0] or width < best[1]
        if not rising(state, f"pcie_downgrade:{sample.gpu}", downgraded):
            return []
        return [
            gpu_anomaly(
                self, message, sample.gpu, score=float(best[0] * best[1] - generation * width), threshold=0.0, severity="warning",
                evidence={"link_gen": generation, "link_width": width, "best_link_gen": best[0], "best_link_width": best[1]},
                fault_class="pcie_degradation",
                text=f"PCIe link at Gen{generation} x{width}, below the Gen{best[0]} x{best[1]} seen before; reseat or swap at the next checkpoint",
            )
        ]


NVLINK_COUNTERS = (
    "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL",
    "DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL",
    "DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL",
)


class NvlinkState(RuleState):
    """Per node: the previous sample of each NVLink error counter, per GPU."""

    previous: dict[str, dict[str, CounterSample]] = Field(default_factory=dict)


class NvlinkRule(Rule[GpuTelemetry, NvlinkState]):
    """NVLink replay, recovery and CRC errors between consecutive samples (DCGM health watch, NVLINK system).

    - replay or recovery errors: an increase of ``replay_recovery_fail`` or more -> critical.
    - CRC flit errors: a rate of ``crc_fail_per_second`` or more -> critical; any lower
      non-zero increase -> warning. The score is the rate in errors per second.

    A condition is reported when it starts and re-arms after a sample without errors.
    """

    name = "rule.nvlink"
    message_type = GpuTelemetry
    state_type = NvlinkState

    def __init__(
        self,
        *,
        crc_fail_per_second: float = thresholds.NVLINK_CRC_ERRORS_PER_SECOND_FAIL,
        replay_recovery_fail: int = thresholds.NVLINK_REPLAY_RECOVERY_FAIL,
    ) -> None:
        self.crc_fail_per_second = crc_fail_per_second
        self.replay_recovery_fail = replay_recovery_fail

    def check(self, message: GpuTelemetry, state: NvlinkState) -> list[Anomaly]:
        """Compare every GPU's NVLink error counters with the previous sample."""
        anomalies = []
        for sample in message.gpus:
            previous = state.previous.setdefault(str(sample.gpu), {})
            increases: dict[str, tuple[int, float]] = {}
            for field in NVLINK_COUNTERS:
                value = getattr(sample, field)
                if value is None:
                    continue
                before = previous.get(field)
                increase = counter_increase(before, value)
                previous[field] = CounterSample(time=message.time, value=value)
                if before is not None and increase is not None:
                    increases[field] = (increase, (message.time - before.time).total_seconds())
            anomalies += self._check_gpu(message, state, sample.gpu, increases)
        return anomalies

    def _check_gpu(self, message: GpuTelemetry, state: NvlinkState, gpu: int, increases: dict[str, tuple[int, float]]) -> list[Anomaly]:
        anomalies = []
        for field in NVLINK_COUNTERS[1:]:
            increase = increases.get(field, (0, 0.0))[0]
            if rising(state, f"{field}:{gpu}", increase >= self.replay_recovery_fail):
                anomalies.append(
                    gpu_anomaly(
                        self, message, gpu, score=float(increase), threshold=float(self.replay_recovery_fail), severity="critical",
                        evidence={field: increase}, fault_class="nvlink_fault",
                        text=f"{increase} new NVLink {'replay' if 'REPLAY' in field else 'recovery'} errors; restart the job without this node and reset the GPU",
                    )
                )

        crc, seconds = increases.get(NVLINK_COUNTERS[0], (0, 0.0))
        rate = crc / seconds if seconds > 0 else 0.0
        failing = rate >= self.crc_fail_per_second
        if rising(state, f"nvlink_crc_fail:{gpu}", failing):
            anomalies.append(self._crc_anomaly(message, gpu, crc, rate, "critical"))
        if rising(state, f"nvlink_crc_warn:{gpu}", crc >= 1 and not failing):
            anomalies.append(self._crc_anomaly(message, gpu, crc, rate, "warning"))
        return anomalies

    def _crc_anomaly(self, message: GpuTelemetry, gpu: int, crc: int, rate: float, severity: str) -> Anomaly:
        return gpu_anomaly(
            self, message, gpu, score=rate, threshold=self.crc_fail_per_second, severity=severity,  # type: ignore[arg-type]
            evidence={"crc_flit_errors": crc, "crc_errors_per_second": rate}, fault_class="nvlink_fault",
            text=f"NVLink CRC errors at {rate:.1f}/s (fail at {self.crc_fail_per_second:g}/s); run field diagnostics",
        )
