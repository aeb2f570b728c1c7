"""Peer comparison: which node of a synchronous job differs from the others.

Ranks of one data-parallel job run the same code on the same kind of hardware, so at any
moment their metrics should look alike. A node whose metrics sit far from its peers' at
the same time step is suspect even when every value is inside its absolute limits. This is
the idea behind Minder (NSDI 2025) and MegaScale (NSDI 2024); the scoring below is a
simpler robust-statistics version of it.
"""

from __future__ import annotations

import warnings

import numpy as np

from detectors.base import StreamingDetector, max_over_features
from detectors.stats import MAD_TO_SIGMA


class PeerDeviation(StreamingDetector):
    """Robust distance of each node from its peers at the same step, with a k-of-n persistence rule.

    ``X`` has one row per node of ONE job and one column per metric (for example
    Minder's most fault-sensitive metrics: PFC Tx packet rate, CPU, GPU duty cycle, power,
    graphics and tensor activity, NVLink bandwidth). At each step and for each metric:

        deviation = |x - median(peers)| / max(1.4826 * MAD(peers), min_scale, relative_scale * |median|)

    where the median and MAD are taken over the rows of that step. A node's instantaneous
    score is its largest deviation over metrics.

    Persistence: the returned score is the ``persistence_k``-th largest instantaneous score
    over the last ``persistence_n`` steps (the current one included). So ``score >= t``
    exactly when the node's deviation reached ``t`` in at least k of the last n steps, and
    a one-step blip does not raise an alarm. Scores are NaN until n - 1 steps were learnt,
    and NaN for a metric that fewer than ``min_peers`` nodes reported.

    The detector keeps no reference of its own beyond the persistence history, so it
    needs no healthy training data and follows the whole job through load changes.
    ``learns_from_anomalies`` is True in the sense that every step enters the history.

    Args:
        persistence_k: Steps out of ``persistence_n`` that must deviate.
        persistence_n: Length of the persistence window, in steps.
        min_peers: Nodes that must report a metric for it to be scored.
        min_scale: Floor of the peer scale, in the metric's unit.
        relative_scale: Floor of the peer scale as a fraction of the peer median, so that
            metrics on which all nodes agree almost exactly (power of identical GPUs) do
            not flag a difference of a fraction of a percent.
        direction: ``"both"`` scores departures either way; ``"low"`` only values below
            the peers' median (a slow node), ``"high"`` only values above it.
        seed: Accepted for the common contract; this detector has no randomness.
    """

    learns_from_anomalies = True

    def __init__(
        self,
        *,
        persistence_k: int = 3,
        persistence_n: int = 5,
        min_peers: int = 3,
        min_scale: float = 1e-3,
        relative_scale: float = 0.01,
        direction: str = "both",
        seed: int | None = 0,
    ) -> None:
        super().__init__(seed=seed)
        if direction not in ("both", "low", "high"):
            raise ValueError(f"direction must be 'both', 'low' or 'high', got {direction!r}")
        self.direction = direction
        self.persistence_k = persistence_k
        self.persistence_n = persistence_n
        self.min_peers = min_peers
        self.min_scale = min_scale
        self.relative_scale = relative_scale
        if not 1 <= persistence_k <= persistence_n:
            raise ValueError(f"persistence_k must be in [1, persistence_n={persistence_n}], got {persistence_k}")
        if min_peers < 3:
            raise ValueError(f"min_peers must be >= 3 so that a median of peers exists besides the node, got {min_peers}")

    def deviations(self, X: np.ndarray) -> np.ndarray:
        """Return each node's deviation from its peers per metric at this step, shaped like ``X``."""
        array = self._check_input(X)
        return self._deviations(array)

    def _init_state(self, n_entities: int, n_features: int) -> None:
        self._history = np.full((n_entities, max(self.persistence_n - 1, 0)), np.nan)
        self._learnt = 0

    def _deviations(self, X: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(X, axis=0)
            mad = np.nanmedian(np.abs(X - median), axis=0)
        scale = np.maximum(np.maximum(MAD_TO_SIGMA * mad, self.min_scale), self.relative_scale * np.abs(median))
        deviations = np.abs(X - median) / scale
        if self.direction == "low":
            deviations = np.where(X < median, deviations, 0.0)
        elif self.direction == "high":
            deviations = np.where(X > median, deviations, 0.0)

        reporting = np.count_nonzero(~np.isnan(X), axis=0)
        deviations[:, reporting < self.min_peers] = np.nan
        return deviations

    def _learn(self, X: np.ndarray) -> None:
        if self.persistence_n == 1:
            return
        instantaneous = max_over_features(self._deviations(X))
        self._history = np.roll(self._history, -1, axis=1)
        self._history[:, -1] = instantaneous
        self._learnt += 1

    def _score(self, X: np.ndarray) -> np.ndarray:
        instantaneous = max_over_features(self._deviations(X))
        if self._learnt < self.persistence_n - 1:
            return np.full(X.shape[0], np.nan)

        window = np.concatenate([self._history, instantaneous[:, None]], axis=1)
        # NaN steps count as not deviating; sort descending and take the k-th value.
        ranked = -np.sort(-np.nan_to_num(window, nan=-np.inf), axis=1)
        scores = ranked[:, self.persistence_k - 1]
        scores[np.isnan(instantaneous)] = np.nan
        scores[np.isneginf(scores)] = 0.0
        return scores
