"""Detector contracts: streaming detectors over many entities, and a scikit-learn adapter.

Every detector in this package follows one score direction: a higher score means more
anomalous. A streaming detector returns NaN where it is not ready yet (warm-up) or has no
value to score, never a healthy-looking zero, so threshold code must treat NaN as "no
decision" (``score >= threshold`` is False for NaN, which is the intended reading).
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Final, Self

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.base import clone as sklearn_clone
from sklearn.utils.validation import check_array, check_is_fitted

NOT_READY: Final = math.nan


class StreamingDetector(ABC):
    """A detector that learns and scores one time step of many entities at once.

    This extends River's ``learn_one``/``score_one`` to a batch of entities:
    ``X`` is a float array shaped (entities, features) that holds ONE time step, and row
    ``i`` is the same entity (GPU, node, job, series) at every step. The detector keeps
    one state per row. ``NaN`` in ``X`` is a missing value: it is neither learnt nor scored.

    Per time step, call ``score_many(X)`` and then ``learn_many(X)`` (test, then train),
    or ``score_learn_many(X)``, which does both. ``score_many`` does not change the state.

    The number of rows and columns is fixed by the first call. For another set of
    entities, use ``clone()``, which returns a fresh detector with the same settings.

    Subclasses take keyword-only settings in ``__init__`` and store each one unchanged
    under its own name, as scikit-learn estimators do, so that ``get_params`` and
    ``clone`` work. Randomness comes only from ``self._rng``, seeded with ``seed``.

    Attributes:
        seed: Seed of the detector's random generator; detectors without randomness
            accept it and ignore it, so that every detector has the same contract.
        learns_from_anomalies: Whether ``learn_many`` also learns from values that the
            detector scores as anomalous; each subclass states and tests its choice.
    """

    learns_from_anomalies: ClassVar[bool] = True

    def __init__(self, *, seed: int | None = 0) -> None:
        self.seed = seed
        self._shape: tuple[int, int] | None = None
        self._rng = np.random.default_rng(seed)

    def learn_many(self, X: np.ndarray) -> None:
        """Update each entity's state with its row of ``X``.

        Args:
            X: Float array shaped (entities, features), one time step; NaN for missing.
        """
        self._learn(self._check_input(X))

    def score_many(self, X: np.ndarray) -> np.ndarray:
        """Score each entity's row of ``X`` without changing the state.

        Args:
            X: Float array shaped (entities, features), one time step; NaN for missing.

        Returns:
            Float array shaped (entities,): higher means more anomalous, NaN means not
            ready (warm-up) or nothing to score in that row.
        """
        return self._score(self._check_input(X))

    def score_learn_many(self, X: np.ndarray) -> np.ndarray:
        """Score ``X``, then learn it, and return the scores (test, then train)."""
        checked = self._check_input(X)
        scores = self._score(checked)
        self._learn(checked)
        return scores

    def reset(self) -> None:
        """Drop every entity's state and restart the random generator from ``seed``."""
        self._shape = None
        self._rng = np.random.default_rng(self.seed)

    def get_params(self) -> dict[str, Any]:
        """Return the constructor's settings by name, as given."""
        signature = inspect.signature(type(self).__init__)
        names = [name for name, parameter in signature.parameters.items() if name != "self" and parameter.kind is parameter.KEYWORD_ONLY]
        return {name: getattr(self, name) for name in names}

    def clone(self) -> Self:
        """Return a new detector with the same settings and no state."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={value!r}" for name, value in self.get_params().items())
        return f"{type(self).__name__}({settings})"

    @property
    def n_entities(self) -> int | None:
        """Number of rows fixed by the first call, or None before it."""
        return None if self._shape is None else self._shape[0]

    @abstractmethod
    def _init_state(self, n_entities: int, n_features: int) -> None:
        """Create the state arrays for this many rows and columns."""

    @abstractmethod
    def _learn(self, X: np.ndarray) -> None:
        """Update the state with a checked input."""

    @abstractmethod
    def _score(self, X: np.ndarray) -> np.ndarray:
        """Score a checked input without changing the state."""

    def _check_input(self, X: np.ndarray) -> np.ndarray:
        array = np.asarray(X, dtype=float)
        if array.ndim != 2:
            raise ValueError(
                f"{type(self).__name__} expects a 2-D array shaped (entities, features) for one time step, "
                f"got shape {array.shape}; reshape one entity's values with X.reshape(1, -1)"
            )
        if np.isinf(array).any():
            raise ValueError(f"{type(self).__name__} received an infinite value; pass NaN for a missing value")

        if self._shape is None:
            self._shape = (array.shape[0], array.shape[1])
            self._rng = np.random.default_rng(self.seed)
            self._init_state(*self._shape)
        elif array.shape != self._shape:
            raise ValueError(
                f"{type(self).__name__} was started with shape {self._shape} (entities, features), got {array.shape}; "
                "use clone() for a different set of entities or features"
            )
        return array


def max_over_features(per_feature: np.ndarray) -> np.ndarray:
    """Return each row's largest score, ignoring NaN; a row of only NaN gives NaN."""
    valid = ~np.isnan(per_feature)
    filled = np.where(valid, per_feature, -np.inf)
    result = filled.max(axis=1) if per_feature.shape[1] else np.full(per_feature.shape[0], -np.inf)
    result[~valid.any(axis=1)] = np.nan
    return result


class FeatureScoringDetector(StreamingDetector):
    """A streaming detector that scores each feature and reports the largest per entity.

    ``score_features_many`` tells which metric stood out, for the anomaly's evidence.
    """

    def score_features_many(self, X: np.ndarray) -> np.ndarray:
        """Score each feature of each entity; returns an array shaped like ``X``, NaN where not ready."""
        return self._score_features(self._check_input(X))

    def _score(self, X: np.ndarray) -> np.ndarray:
        return max_over_features(self._score_features(X))

    @abstractmethod
    def _score_features(self, X: np.ndarray) -> np.ndarray:
        """Score each cell of a checked input without changing the state."""


class BatchDetector(BaseEstimator):  # type: ignore[misc]
    """A scikit-learn outlier estimator turned to the project's score direction.

    scikit-learn's ``score_samples`` returns higher values for more normal samples (for
    IsolationForest, the negated mean path-length score). ``BatchDetector.score_samples``
    returns the negation of the wrapped estimator's ``score_samples``, so here a higher
    score means more anomalous, like every other detector in this package.

    The class follows scikit-learn's estimator conventions: ``__init__`` only stores its
    arguments, ``fit`` returns ``self``, fitted attributes end in an underscore, and
    randomness comes from the wrapped estimator's ``random_state``.

    Args:
        estimator: Unfitted scikit-learn estimator with ``fit`` and ``score_samples``,
            for example ``IsolationForest(random_state=0)``. ``fit`` fits a clone of it.

    Attributes:
        estimator_: The fitted clone.
        n_features_in_: Number of features seen by ``fit``.
    """

    def __init__(self, estimator: Any = None) -> None:
        self.estimator = estimator

    def fit(self, X: np.ndarray, y: Any = None) -> Self:
        """Fit the detector on rows of healthy data shaped (samples, features); ``y`` is ignored."""
        array = check_array(X, dtype=float)
        self.estimator_ = self._make_estimator().fit(array)
        self.n_features_in_ = array.shape[1]
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Score rows shaped (samples, features); higher means more anomalous.

        Raises:
            sklearn.exceptions.NotFittedError: ``fit`` was not called.
            ValueError: ``X`` has a different number of features than the training data.
        """
        check_is_fitted(self, "estimator_")
        array = check_array(X, dtype=float)
        if array.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {array.shape[1]} features, but {type(self).__name__} was fitted with {self.n_features_in_}")
        return -np.asarray(self.estimator_.score_samples(array), dtype=float)

    def _make_estimator(self) -> Any:
        if self.estimator is None:
            raise ValueError(f"{type(self).__name__} needs an estimator, for example BatchDetector(IsolationForest(random_state=0))")
        if not hasattr(self.estimator, "score_samples"):
            raise TypeError(f"estimator {type(self.estimator).__name__} has no score_samples method; use an outlier detector such as IsolationForest")
        return sklearn_clone(self.estimator)
