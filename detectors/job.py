"""Job-level detectors: stragglers from step times, and hangs from progress and RDMA traffic.

In a synchronous data-parallel job every step waits for the slowest rank, so one slow node
slows the whole job (MegaScale saw about 0.5 % of machines running about 10 % slower). A
hang shows as steps that stop while collective traffic falls flat (MegaScale, ByteRobust).
"""

from __future__ import annotations

import warnings

import numpy as np

from detectors.base import StreamingDetector


class StragglerDetector(StreamingDetector):
    """Change-point test on each node's share of the step, relative to its peers.

    ``X`` has one row per node (rank) of ONE job and one column: the node's compute time
    of the latest step in seconds (``JobProgress.step_time_seconds``). Per step, each node's
    excess is ``x / median(x over nodes) - 1``, so a job-wide slowdown (a checkpoint, a
    cooling event on every rack) moves no node. A one-sided CUSUM accumulates the excess
    above ``slack``:

        S = min(max(0, S + excess - slack), cap)

    The score is S, in units of "fraction of a step": a node 10 % slower than its peers
    adds about 0.1 - slack per step. ``cap`` bounds S so that a node that recovers drops
    below the threshold within (cap - threshold) / slack steps.

    The detector learns from every step, including slow ones: the CUSUM sum is its state.

    Args:
        slack: Excess share tolerated without accumulating, as a fraction of the median.
        cap: Upper bound of the sum.
        warmup: Steps before the first score; NaN before that.
        min_peers: Nodes that must report a step time for a median to exist.
        seed: Accepted for the common contract; this detector has no randomness.
    """

    learns_from_anomalies = True

    def __init__(self, *, slack: float = 0.02, cap: float = 1.0, warmup: int = 5, min_peers: int = 3, seed: int | None = 0) -> None:
        super().__init__(seed=seed)
        self.slack = slack
        self.cap = cap
        self.warmup = warmup
        self.min_peers = min_peers
        if slack < 0 or cap <= 0:
            raise ValueError(f"slack must be >= 0 and cap > 0, got slack={slack}, cap={cap}")
        if min_peers < 3:
            raise ValueError(f"min_peers must be >= 3, got {min_peers}")

    def excess_share(self, X: np.ndarray) -> np.ndarray:
        """Return each node's step time relative to the median of all nodes, minus one."""
        return self._excess(self._check_input(X))

    def _init_state(self, n_entities: int, n_features: int) -> None:
        if n_features != 1:
            self._shape = None
            raise ValueError(f"StragglerDetector expects one column (step_time_seconds), got {n_features}")
        self._sum = np.zeros(n_entities)
        self._steps = 0

    def _excess(self, X: np.ndarray) -> np.ndarray:
        times = X[:, 0]
        if np.count_nonzero(~np.isnan(times)) < self.min_peers:
            return np.full(times.shape, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(times)
        if median <= 0:
            return np.full(times.shape, np.nan)
        return times / median - 1.0

    def _next_sum(self, X: np.ndarray) -> np.ndarray:
        excess = self._excess(X)
        updated = np.clip(self._sum + excess - self.slack, 0.0, self.cap)
        return np.where(np.isnan(excess), self._sum, updated)

    def _learn(self, X: np.ndarray) -> None:
        self._sum = self._next_sum(X)
        self._steps += 1

    def _score(self, X: np.ndarray) -> np.ndarray:
        scores = self._next_sum(X)
        if self._steps < self.warmup:
            return np.full(X.shape[0], np.nan)
        scores[np.isnan(X[:, 0])] = np.nan
        return scores


class HangDetector(StreamingDetector):
    """Seconds without training progress while RDMA traffic is flat.

    Call it on a regular tick (every ``interval_seconds``), not per message, because a hung
    job sends no progress messages. ``X`` has one row per job (or node) and two columns:

    0. the latest step number seen (``JobProgress.step``),
    1. the RDMA throughput over the last tick in bytes per second (from the DPU port
       counters ``rx_bytes_phy`` + ``tx_bytes_phy``).

    While steps advance, the detector learns each row's normal throughput as an
    exponentially weighted mean. A tick with no new step and a throughput at or below
    ``flat_fraction`` of that baseline counts as stalled; a new step, or traffic above the
    flat level, clears the count (a long step that still moves data is not a hang). The
    score is the stalled time in seconds, so a threshold of 60 means "flat for a minute".

    The baseline learns only from ticks with progress, so a hang does not teach it that
    zero traffic is normal (``learns_from_anomalies`` is False).

    Args:
        interval_seconds: Time between calls, in seconds.
        flat_fraction: Throughput, as a fraction of the baseline, at or below which
            traffic counts as flat.
        baseline_alpha: Weight of the newest throughput in the baseline, in (0, 1].
        warmup: Ticks with progress needed before the first score; NaN before that.
        seed: Accepted for the common contract; this detector has no randomness.
    """

    learns_from_anomalies = False

    def __init__(
        self,
        *,
        interval_seconds: float = 1.0,
        flat_fraction: float = 0.1,
        baseline_alpha: float = 0.05,
        warmup: int = 10,
        seed: int | None = 0,
    ) -> None:
        super().__init__(seed=seed)
        self.interval_seconds = interval_seconds
        self.flat_fraction = flat_fraction
        self.baseline_alpha = baseline_alpha
        self.warmup = warmup
        if interval_seconds <= 0:
            raise ValueError(f"interval_seconds must be > 0, got {interval_seconds}")
        if not 0 < baseline_alpha <= 1:
            raise ValueError(f"baseline_alpha must be in (0, 1], got {baseline_alpha}")

    def _init_state(self, n_entities: int, n_features: int) -> None:
        if n_features != 2:
            self._shape = None
            raise ValueError(f"HangDetector expects two columns (step, rdma_bytes_per_second), got {n_features}")
        self._last_step = np.full(n_entities, np.nan)
        self._baseline = np.zeros(n_entities)
        self._progress_ticks = np.zeros(n_entities, dtype=np.int64)
        self._stalled = np.zeros(n_entities, dtype=np.int64)

    def _classify(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        step, rate = X[:, 0], X[:, 1]
        progress = np.isnan(self._last_step) | (step > self._last_step)
        flat = rate <= self.flat_fraction * self._baseline
        stalled = ~np.isnan(step) & ~progress & flat & ~np.isnan(rate)
        return progress & ~np.isnan(step), stalled

    def _learn(self, X: np.ndarray) -> None:
        progress, stalled = self._classify(X)
        step, rate = X[:, 0], X[:, 1]

        learn_rate = progress & ~np.isnan(rate)
        first = learn_rate & (self._progress_ticks == 0)
        self._baseline = np.where(first, rate, self._baseline)
        later = learn_rate & ~first
        self._baseline = np.where(later, self._baseline + self.baseline_alpha * (rate - self._baseline), self._baseline)
        self._progress_ticks += learn_rate

        self._stalled = np.where(stalled, self._stalled + 1, 0)
        self._last_step = np.where(np.isnan(step), self._last_step, np.fmax(self._last_step, step))

    def _score(self, X: np.ndarray) -> np.ndarray:
        _, stalled = self._classify(X)
        scores = np.where(stalled, self._stalled + 1, 0) * self.interval_seconds
        scores = scores.astype(float)
        scores[self._progress_ticks < self.warmup] = np.nan
        scores[np.isnan(X[:, 0])] = np.nan
        return scores
