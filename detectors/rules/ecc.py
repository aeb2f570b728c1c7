"""ECC errors and the row-remap chain of HBM memory.

A failing HBM row usually shows rising single-bit errors (and Xid 92) first, then a
double-bit error (Xid 48), then a pending row remap that needs a GPU reset (Xid 63). Once
the spare rows are used up, a remap failure (Xid 64) means replacing the GPU. This rule
reads the DCGM counters of that chain from GPU telemetry.
"""

from __future__ import annotations

from pydantic import Field

from detectors import thresholds
from detectors.anomaly import Anomaly
from detectors.rules.base import Rule, RuleState, gpu_anomaly, rising
from pipeline.schemas import GpuTelemetry


class EccState(RuleState):
    """Per node: the last volatile double-bit count of each GPU."""

    dbe_by_gpu: dict[str, int] = Field(default_factory=dict)


class EccRule(Rule[GpuTelemetry, EccState]):
    """Double-bit errors, remapped rows, remap failures and single-bit storms per GPU.

    - ``DCGM_FI_DEV_ECC_DBE_VOL_TOTAL`` >= ``dbe_fail`` -> critical, reported again on
      every increase (each new double-bit error is a new event). DCGM health watch: any
      volatile DBE fails.
    - ``DCGM_FI_DEV_ROW_REMAP_FAILURE`` set -> critical (spare rows exhausted; replace).
    - ``DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS`` >= ``uncorrectable_rows_warn`` -> warning.
    - ``DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS`` > ``correctable_rows_warn`` -> warning.
    - ``DCGM_FI_DEV_ECC_SBE_VOL_TOTAL`` >= ``sbe_warn`` -> warning.

    The score is the observed count and ``threshold`` the limit.
    """

    name = "rule.ecc"
    message_type = GpuTelemetry
    state_type = EccState

    def __init__(
        self,
        *,
        dbe_fail: int = thresholds.ECC_DBE_VOLATILE_FAIL,
        uncorrectable_rows_warn: int = thresholds.UNCORRECTABLE_REMAPPED_ROWS_WARN,
        correctable_rows_warn: int = thresholds.CORRECTABLE_REMAPPED_ROWS_WARN,
        sbe_warn: int = thresholds.ECC_SBE_VOLATILE_WARN,
    ) -> None:
        self.dbe_fail = dbe_fail
        self.uncorrectable_rows_warn = uncorrectable_rows_warn
        self.correctable_rows_warn = correctable_rows_warn
        self.sbe_warn = sbe_warn

    def check(self, message: GpuTelemetry, state: EccState) -> list[Anomaly]:
        """Check every GPU of the node."""
        anomalies = []
        for sample in message.gpus:
            gpu = sample.gpu
            anomalies += self._check_dbe(message, state, gpu, sample.DCGM_FI_DEV_ECC_DBE_VOL_TOTAL)

            failure = sample.DCGM_FI_DEV_ROW_REMAP_FAILURE
            if rising(state, f"remap_failure:{gpu}", failure is not None and failure >= 1):
                anomalies.append(
                    gpu_anomaly(
                        self, message, gpu, score=float(failure or 0), threshold=1.0, severity="critical",
                        evidence={"DCGM_FI_DEV_ROW_REMAP_FAILURE": failure}, fault_class="hbm_uncorrectable",
                        text="row remapping failed: no spare rows left; drain the node and replace the GPU",
                    )
                )

            rows = sample.DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS
            if rising(state, f"uncorrectable_rows:{gpu}", rows is not None and rows >= self.uncorrectable_rows_warn):
                anomalies.append(
                    gpu_anomaly(
                        self, message, gpu, score=float(rows or 0), threshold=float(self.uncorrectable_rows_warn), severity="warning",
                        evidence={"DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": rows}, fault_class="hbm_uncorrectable",
                        text=f"{rows} uncorrectable remapped rows (limit {self.uncorrectable_rows_warn}); plan a GPU replacement",
                    )
                )

            correctable = sample.DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS
            if rising(state, f"correctable_rows:{gpu}", correctable is not None and correctable > self.correctable_rows_warn):
                anomalies.append(
                    gpu_anomaly(
                        self, message, gpu, score=float(correctable or 0), threshold=float(self.correctable_rows_warn), severity="warning",
                        evidence={"DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": correctable}, fault_class="ecc_sbe_storm",
                        text=f"{correctable} correctable remapped rows (more than {self.correctable_rows_warn}); swap the GPU at the next checkpoint",
                    )
                )

            sbe = sample.DCGM_FI_DEV_ECC_SBE_VOL_TOTAL
            if rising(state, f"sbe:{gpu}", sbe is not None and sbe >= self.sbe_warn):
                anomalies.append(
                    gpu_anomaly(
                        self, message, gpu, score=float(sbe or 0), threshold=float(self.sbe_warn), severity="warning",
                        evidence={"DCGM_FI_DEV_ECC_SBE_VOL_TOTAL": sbe}, fault_class="ecc_sbe_storm",
                        text=f"{sbe} volatile single-bit ECC errors (limit {self.sbe_warn}); watch for double-bit errors",
                    )
                )
        return anomalies

    def _check_dbe(self, message: GpuTelemetry, state: EccState, gpu: int, count: int | None) -> list[Anomaly]:
        if count is None:
            return []
        previous = state.dbe_by_gpu.get(str(gpu))
        state.dbe_by_gpu[str(gpu)] = count
        if count < self.dbe_fail or (previous is not None and count <= previous):
            return []
        return [
            gpu_anomaly(
                self, message, gpu, score=float(count), threshold=float(self.dbe_fail), severity="critical",
                evidence={"DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": count, "previous": previous}, fault_class="hbm_uncorrectable",
                text=f"{count} volatile double-bit ECC errors; restart the job on a spare and reset the GPU to apply the row remap",
            )
        ]
