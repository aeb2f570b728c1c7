"""Limits of the absolute rules, each with its source.

"DCGM health watch" means the passive health checks of NVIDIA DCGM,
``modules/health/DcgmHealthWatch.cpp`` with limits from ``common/DcgmGPUHardwareLimits.h``:
their WARN result maps to severity ``warning`` here and FAIL to ``critical``. Limits marked
"estimate" have no authoritative source; change them per site.

NOTE: the PCIe and NVLink rules were checked against DcgmHealthWatch.cpp in
github.com/NVIDIA/DCGM; the memory limits come from a summary of that file and were not.
"""

from __future__ import annotations

from typing import Final

# --- Xid ---------------------------------------------------------------------------

# Seconds after a primary Xid on a node during which a secondary Xid on that node is
# suppressed as its consequence. Estimate: the chains in NVIDIA's Xid catalog (13 then
# 43, 48 then 63, 48 then 94/95) follow within seconds.
XID_SECONDARY_WINDOW_SECONDS: Final = 60.0

# --- ECC and row remapping (DCGM health watch, MEM system) -------------------------

# Volatile double-bit ECC errors: any count above zero fails.
ECC_DBE_VOLATILE_FAIL: Final = 1
# Uncorrectable remapped rows: 512 or more warns.
UNCORRECTABLE_REMAPPED_ROWS_WARN: Final = 512
# Correctable remapped rows above this count predicted later regressions in 83 % of
# cases (Microsoft SuperBench, OSDI 2024); used as a warning.
CORRECTABLE_REMAPPED_ROWS_WARN: Final = 10
# Volatile single-bit ECC total that Meta's GPU cluster monitoring (facebookresearch/gcm)
# treats as excessive by default.
ECC_SBE_VOLATILE_WARN: Final = 50_000_000

# --- PCIe (DCGM health watch, PCIE system) -----------------------------------------

# Replays per lane per minute by PCIe generation, which correspond to a bit error rate
# of 1e-12. The watch warns when the replays of the last minute exceed
# ceil(rate x lanes): Gen4 x16 -> 16 per minute, Gen5 x16 -> 31 per minute.
PCIE_REPLAYS_PER_LANE_PER_MINUTE: Final[dict[int, float]] = {1: 0.15, 2: 0.3, 3: 0.48, 4: 0.96, 5: 1.92, 6: 3.84}
PCIE_REPLAY_WINDOW_SECONDS: Final = 60.0

# --- NVLink (DCGM health watch, NVLINK system) -------------------------------------

# CRC flit errors per second at or above which the watch fails; any lower non-zero
# rate warns.
NVLINK_CRC_ERRORS_PER_SECOND_FAIL: Final = 100.0
# Replay or recovery errors in the window at or above which the watch fails.
NVLINK_REPLAY_RECOVERY_FAIL: Final = 1

# --- Clock event reasons (DCGM_FI_DEV_CLOCKS_EVENT_REASONS bits, dcgm-exporter names) ---

CLOCK_EVENT_BITS: Final[dict[str, int]] = {
    "power_cap": 0x4,
    "hw_slowdown": 0x8,
    "sw_thermal": 0x20,
    "hw_thermal": 0x40,
    "hw_power_brake": 0x80,
}
# Fault kind each reason points to; hardware reasons cut clocks by half or more.
CLOCK_EVENT_FAULT_CLASS: Final[dict[str, str]] = {
    "power_cap": "rack_power_cap",
    "hw_slowdown": "gpu_thermal",
    "sw_thermal": "gpu_thermal",
    "hw_thermal": "gpu_thermal",
    "hw_power_brake": "psu_failure",
}
CLOCK_EVENT_SEVERITY: Final[dict[str, str]] = {
    "power_cap": "info",
    "hw_slowdown": "warning",
    "sw_thermal": "warning",
    "hw_thermal": "warning",
    "hw_power_brake": "warning",
}

# --- Liquid cooling (Redfish CoolingUnit / CoolantConnector / LeakDetector) --------

# Highest coolant supply temperature: the upper limit of ASHRAE liquid-cooling class
# W45. Sites on W32 or W40 should lower it.
COOLANT_SUPPLY_MAX_CELSIUS: Final = 45.0
# Highest return-minus-supply temperature. Estimate: typical secondary loops run at a
# rise of 8 to 12 degrees, so 15 leaves a margin above normal full load.
COOLANT_DELTA_T_MAX_CELSIUS: Final = 15.0
# Coolant flow below this fraction of the CDU's own healthy baseline warns, below the
# critical fraction it is critical. Estimates for a pump failure, which cuts flow in seconds.
COOLANT_FLOW_DROP_WARN: Final = 0.2
COOLANT_FLOW_DROP_CRITICAL: Final = 0.5
# Supply pressure below this fraction of its healthy baseline warns (loss of coolant).
# Estimate.
COOLANT_PRESSURE_DROP_WARN: Final = 0.2
# Weight of each healthy sample in the flow and pressure baselines.
COOLANT_BASELINE_ALPHA: Final = 0.01
# Samples a CDU needs before its baselines are trusted.
COOLANT_BASELINE_WARMUP: Final = 30

# --- DPU ports (mlx5 ethtool counters) -----------------------------------------------

# Share of the sample interval spent in transmitted PFC pause at or above which a port
# is in a pause storm. Estimate.
PFC_PAUSE_FRACTION_WARN: Final = 0.5
# Link flaps within the window at or above which a flapping link is critical: evict
# after about two flaps in five minutes (ByteRobust).
LINK_FLAPS_CRITICAL: Final = 2
LINK_FLAP_WINDOW_SECONDS: Final = 300.0
# RDMA congestion on one port, over a sliding window: out-of-sequence packets per second
# at or above which the port has drops or ECMP collisions (a healthy lossless fabric
# shows almost none), or retransmit timeouts (local_ack_timeout_err) at or above a count.
# Estimates.
RDMA_OUT_OF_SEQUENCE_PER_SECOND_WARN: Final = 10.0
RDMA_ACK_TIMEOUTS_WARN: Final = 3
RDMA_CONGESTION_WINDOW_SECONDS: Final = 10.0

# --- Power (Redfish Power / PowerSupply) --------------------------------------------

# Rack power at or above this fraction of its cap warns.
RACK_POWER_CAP_FRACTION_WARN: Final = 1.0

# --- Stale and frozen series ---------------------------------------------------------

# Seconds without a message before a series counts as stopped. Estimate: ten missed
# samples at the default 1 s interval.
SERIES_SILENCE_SECONDS: Final = 10.0
# Seconds during which a value that should vary (temperature, power, energy) may stay
# exactly equal before it counts as frozen. Estimate.
SERIES_FROZEN_SECONDS: Final = 60.0
