"""Streaming statistics per series: robust z-score, EWMA z-score and a CUSUM change-point test.

Each detector keeps one state per cell of ``X`` (entity, feature), so one instance covers
every GPU of a node, or every series of a replayed data set, in a few array operations.
"""

from __future__ import annotations

import warnings

import numpy as np

from detectors.base import FeatureScoringDetector

# Ratios of the standard deviation to the median and to the mean absolute deviation
# for normal data.
MAD_TO_SIGMA = 1.4826
MEAN_AD_TO_SIGMA = 1.253314


class RobustZScore(FeatureScoringDetector):
    """Distance of each value from the median of its recent window, in robust standard deviations.

    score = |x - median(window)| / max(1.4826 * MAD(window), min_scale), per cell; the
    entity's score is the largest over its features. Where MAD is 0 (more than half of
    the window has the same value), 1.253314 * the mean absolute deviation replaces it.

    The detector learns from every value, anomalous or not. The median and the median
    absolute deviation ignore up to half of the window, so a short burst of anomalies does
    not move the reference. A lasting level shift becomes the new normal after about
    ``window / 2`` steps.

    Args:
        window: Number of recent values per cell that form the reference.
        min_samples: Values a cell needs before it is scored; NaN before that.
        min_scale: Floor of the scale, in the feature's unit, so that a series that was
            constant does not turn a tiny change into an infinite score.
        relative_scale: Floor of the scale as a fraction of the window median, so that
            series of very different magnitudes give comparable scores (0 turns it off).
        seed: Accepted for the common contract; this detector has no randomness.

    Cost: O(entities x features x window) per step for the median.
    """

    learns_from_anomalies = True

    def __init__(
        self, *, window: int = 60, min_samples: int = 20, min_scale: float = 1e-3, relative_scale: float = 0.0, seed: int | None = 0
    ) -> None:
        super().__init__(seed=seed)
        self.window = window
        self.min_samples = min_samples
        self.min_scale = min_scale
        self.relative_scale = relative_scale
        if not 2 <= min_samples <= window:
            raise ValueError(f"min_samples must be in [2, window={window}], got {min_samples}")
        if min_scale <= 0:
            raise ValueError(f"min_scale must be > 0, got {min_scale}")

    def _init_state(self, n_entities: int, n_features: int) -> None:
        self._buffer = np.full((n_entities, n_features, self.window), np.nan)
        self._position = 0

    def _learn(self, X: np.ndarray) -> None:
        self._buffer[:, :, self._position % self.window] = X
        self._position += 1

    def _score_features(self, X: np.ndarray) -> np.ndarray:
        counts = np.count_nonzero(~np.isnan(self._buffer), axis=2)
        if self._position >= self.window and counts.min(initial=self.window) == self.window:
            median = np.median(self._buffer, axis=2)
            mad = np.median(np.abs(self._buffer - median[:, :, None]), axis=2)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                median = np.nanmedian(self._buffer, axis=2)
                mad = np.nanmedian(np.abs(self._buffer - median[:, :, None]), axis=2)

        # A window where more than half the values are equal has MAD 0. The scale then falls
        # back to the mean absolute deviation, which is also 0 only for a constant window.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean_ad = np.nanmean(np.abs(self._buffer - median[:, :, None]), axis=2)
        scale = np.where(mad > 0, MAD_TO_SIGMA * mad, MEAN_AD_TO_SIGMA * mean_ad)
        scale = np.maximum(np.nan_to_num(scale, nan=0.0), self.min_scale)
        scale = np.maximum(scale, self.relative_scale * np.abs(np.nan_to_num(median)))
        scores = np.abs(X - median) / scale
        scores[counts < self.min_samples] = np.nan
        return scores


class EwmaZScore(FeatureScoringDetector):
    """Distance of each value from its exponentially weighted mean, in weighted standard deviations.

    Mean and variance follow the exponentially weighted recursions with weight ``alpha``
    (effective memory about ``1 / alpha`` steps). score = |x - mean| / max(std, min_scale).

    The detector learns from every value, anomalous or not, so a lasting shift is absorbed
    after a few multiples of ``1 / alpha`` steps: it flags changes, not levels. Use
    :class:`Cusum` for slow drifts, which an EWMA follows instead of flagging.

    Args:
        alpha: Weight of the newest value, in (0, 1].
        warmup: Values a cell needs before it is scored; NaN before that.
        min_scale: Floor of the standard deviation, in the feature's unit.
        seed: Accepted for the common contract; this detector has no randomness.
    """

    learns_from_anomalies = True

    def __init__(self, *, alpha: float = 0.05, warmup: int = 20, min_scale: float = 1e-3, seed: int | None = 0) -> None:
        super().__init__(seed=seed)
        self.alpha = alpha
        self.warmup = warmup
        self.min_scale = min_scale
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        if warmup < 2:
            raise ValueError(f"warmup must be >= 2, got {warmup}")

    def _init_state(self, n_entities: int, n_features: int) -> None:
        shape = (n_entities, n_features)
        self._mean = np.zeros(shape)
        self._variance = np.zeros(shape)
        self._count = np.zeros(shape, dtype=np.int64)

    def _learn(self, X: np.ndarray) -> None:
        valid = ~np.isnan(X)
        first = valid & (self._count == 0)
        later = valid & (self._count > 0)

        self._mean[first] = X[first]
        difference = np.where(later, X - self._mean, 0.0)
        increment = self.alpha * difference
        self._mean += increment
        self._variance = np.where(later, (1 - self.alpha) * (self._variance + difference * increment), self._variance)
        self._count += valid

    def _score_features(self, X: np.ndarray) -> np.ndarray:
        scale = np.maximum(np.sqrt(self._variance), self.min_scale)
        scores = np.abs(X - self._mean) / scale
        scores[self._count < self.warmup] = np.nan
        return scores


class Cusum(FeatureScoringDetector):
    """Two-sided tabular CUSUM (Page 1954) on standardised values, for slow drifts and level shifts.

    During warm-up each cell estimates its reference mean and standard deviation from
    ``warmup`` values. Then, with z = (x - mean) / std, the upper and lower sums follow
    S+ = max(0, S+ + z - drift) and S- = max(0, S- - z - drift), and the score is
    max(S+, S-) in standard deviations. ``drift`` = 0.5 with a decision threshold of 4 to 5
    is a common choice for detecting a shift of one standard deviation.

    When a sum passes ``threshold`` the cell restarts both sums from zero, so a shift that
    lasts raises the score again every threshold / (shift - drift) steps instead of
    growing without bound.

    The reference learns only from in-control values, those that leave both sums below
    half the threshold, with weight ``baseline_alpha`` (0 keeps the warm-up reference for
    good). So a drift does not teach the detector that the drifted level is normal
    (``learns_from_anomalies`` is False).

    Args:
        drift: Allowance ``k`` subtracted per step, in standard deviations.
        threshold: Decision threshold ``h`` that restarts the sums, in standard deviations.
        warmup: Values used to learn each reference; NaN scores before that.
        baseline_alpha: Weight of an in-control value in the reference mean and variance.
        min_scale: Floor of the reference standard deviation, in the feature's unit.
        seed: Accepted for the common contract; this detector has no randomness.
    """

    learns_from_anomalies = False

    def __init__(
        self,
        *,
        drift: float = 0.5,
        threshold: float = 5.0,
        warmup: int = 30,
        baseline_alpha: float = 0.001,
        min_scale: float = 1e-3,
        seed: int | None = 0,
    ) -> None:
        super().__init__(seed=seed)
        self.drift = drift
        self.threshold = threshold
        self.warmup = warmup
        self.baseline_alpha = baseline_alpha
        self.min_scale = min_scale
        if drift < 0 or threshold <= 0:
            raise ValueError(f"drift must be >= 0 and threshold > 0, got drift={drift}, threshold={threshold}")
        if warmup < 2:
            raise ValueError(f"warmup must be >= 2, got {warmup}")
        if not 0 <= baseline_alpha < 1:
            raise ValueError(f"baseline_alpha must be in [0, 1), got {baseline_alpha}")

    def _init_state(self, n_entities: int, n_features: int) -> None:
        shape = (n_entities, n_features)
        self._count = np.zeros(shape, dtype=np.int64)
        self._mean = np.zeros(shape)
        self._m2 = np.zeros(shape)
        self._variance = np.zeros(shape)
        self._upper = np.zeros(shape)
        self._lower = np.zeros(shape)

    def _sums(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = (X - self._mean) / np.maximum(np.sqrt(self._variance), self.min_scale)
        upper = np.maximum(0.0, self._upper + z - self.drift)
        lower = np.maximum(0.0, self._lower - z - self.drift)
        return upper, lower

    def _learn(self, X: np.ndarray) -> None:
        valid = ~np.isnan(X)
        warming = valid & (self._count < self.warmup)
        ready = valid & (self._count >= self.warmup)
        upper, lower = self._sums(X)
        values = np.where(valid, X, 0.0)

        # Welford's update of the reference mean and variance during warm-up.
        count = self._count + warming
        delta = np.where(warming, values - self._mean, 0.0)
        self._mean += np.where(warming, delta / np.maximum(count, 1), 0.0)
        self._m2 += np.where(warming, delta * (values - self._mean), 0.0)
        self._variance = np.where(warming, self._m2 / np.maximum(count - 1, 1), self._variance)
        self._count = count

        # Sums after warm-up, restarted from zero when they pass the threshold.
        alarm = ready & (np.maximum(upper, lower) > self.threshold)
        self._upper = np.where(ready & ~alarm, upper, np.where(alarm, 0.0, self._upper))
        self._lower = np.where(ready & ~alarm, lower, np.where(alarm, 0.0, self._lower))

        # In-control values move the reference slowly. Selecting on the sums rather than on
        # z keeps the variance estimate from shrinking to the values near the mean.
        in_control = ready & ~alarm & (np.maximum(upper, lower) < self.threshold / 2)
        difference = np.where(in_control, values - self._mean, 0.0)
        increment = self.baseline_alpha * difference
        self._mean += increment
        self._variance = np.where(in_control, (1 - self.baseline_alpha) * (self._variance + difference * increment), self._variance)

    def _score_features(self, X: np.ndarray) -> np.ndarray:
        upper, lower = self._sums(X)
        scores = np.maximum(upper, lower)
        scores[self._count < self.warmup] = np.nan
        return scores
