"""Multivariate batch models: fit on healthy rows, save with their feature list, score in batches.

``train`` fits a model and returns a :class:`TrainedModel` that carries everything a
worker needs to score: the feature order, the values that fill missing features, a
threshold taken from the training scores, and version information. ``save_model`` and
``load_model`` store it with joblib. Score many rows per call (one row per entity of a
time step, or a whole test set), because a call per row spends most of its time in overhead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final, Self

import joblib
import numpy as np
import sklearn
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.utils.validation import check_array, check_is_fitted

from detectors.base import BatchDetector

logger = logging.getLogger(__name__)

MODEL_FORMAT_VERSION: Final = 1


class IsolationForestDetector(BatchDetector):
    """Isolation forest (Liu, Ting and Zhou, ICDM 2008) with higher scores for more anomalous rows.

    The score is scikit-learn's ``-score_samples``, the mean-path-length anomaly score of
    the paper, in (0, 1]: values near 1 are isolated quickly, values well below 0.5 are normal.

    Args:
        n_estimators: Number of trees.
        max_samples: Rows drawn to build each tree (``"auto"`` = min(256, rows)).
        max_features: Features drawn to build each tree, as a count or a fraction.
        random_state: Seed of the tree construction; the same seed gives the same scores.
    """

    def __init__(self, *, n_estimators: int = 200, max_samples: int | float | str = "auto", max_features: float = 1.0, random_state: int | None = 0) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.random_state = random_state

    def _make_estimator(self) -> IsolationForest:
        return IsolationForest(
            n_estimators=self.n_estimators, max_samples=self.max_samples, max_features=self.max_features, random_state=self.random_state
        )


class PcaReconstructionDetector(BatchDetector):
    """Reconstruction error of a principal component model fitted on healthy rows.

    Features are centred on their training median and divided by their training standard
    deviation (floored at ``min_scale``). The score is the mean squared residual over
    features after projecting onto the first principal components, so a row that breaks
    the usual correlations between metrics scores high even when every metric is in range.

    Args:
        n_components: Components kept: an int, or a fraction of explained variance in (0, 1).
        min_scale: Floor of each feature's training standard deviation.
        random_state: Accepted for the common contract; the full SVD used here is deterministic.
    """

    def __init__(self, *, n_components: int | float = 0.95, min_scale: float = 1e-3, random_state: int | None = 0) -> None:
        self.n_components = n_components
        self.min_scale = min_scale
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: Any = None) -> Self:
        """Fit the centring, scaling and components on healthy rows; ``y`` is ignored."""
        array = check_array(X, dtype=float)
        self.center_ = np.median(array, axis=0)
        self.scale_ = np.maximum(array.std(axis=0), self.min_scale)
        self.estimator_ = PCA(n_components=self.n_components, svd_solver="full").fit((array - self.center_) / self.scale_)
        self.n_features_in_ = array.shape[1]
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Return the mean squared standardised residual of each row; higher means more anomalous."""
        check_is_fitted(self, "estimator_")
        array = check_array(X, dtype=float)
        if array.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {array.shape[1]} features, but {type(self).__name__} was fitted with {self.n_features_in_}")
        standard = (array - self.center_) / self.scale_
        reconstructed = self.estimator_.inverse_transform(self.estimator_.transform(standard))
        return np.mean((standard - reconstructed) ** 2, axis=1)


@dataclass(frozen=True)
class TrainedModel:
    """A fitted batch detector with what a worker needs to score live rows.

    Attributes:
        detector: The fitted detector.
        feature_names: Column order of the training matrix; live rows use the same order.
        fill_values: Training median of each feature, used for missing values.
        threshold: Training-score quantile ``threshold_quantile``; a live score at or
            above it is an anomaly.
        threshold_quantile: Quantile of the training scores that set ``threshold``.
        model_version: Free-form version chosen at training, for example a date.
        trained_at: Training time in UTC.
        n_samples: Training rows.
        sklearn_version: scikit-learn version used for training.
        format_version: Layout version of the saved file.
    """

    detector: BatchDetector
    feature_names: tuple[str, ...]
    fill_values: np.ndarray
    threshold: float
    threshold_quantile: float
    model_version: str
    trained_at: datetime
    n_samples: int
    sklearn_version: str = field(default=sklearn.__version__)
    format_version: int = MODEL_FORMAT_VERSION

    def matrix(self, rows: Sequence[Mapping[str, float | None]]) -> np.ndarray:
        """Build the input matrix from named values in the model's feature order.

        Missing or None values take the training median; names the model does not know
        are ignored.
        """
        matrix = np.tile(self.fill_values, (len(rows), 1))
        index = {name: position for position, name in enumerate(self.feature_names)}
        for row_number, row in enumerate(rows):
            for name, value in row.items():
                position = index.get(name)
                if position is not None and value is not None:
                    matrix[row_number, position] = value
        return matrix

    def score_many(self, X: np.ndarray) -> np.ndarray:
        """Score rows shaped (rows, features) in the model's feature order; NaN cells take the training median."""
        array = np.array(X, dtype=float)
        if array.ndim != 2 or array.shape[1] != len(self.feature_names):
            raise ValueError(f"expected an array shaped (rows, {len(self.feature_names)}) in the model's feature order, got {array.shape}")
        missing = np.isnan(array)
        if missing.any():
            array[missing] = np.broadcast_to(self.fill_values, array.shape)[missing]
        return self.detector.score_samples(array)


def train(
    X: np.ndarray,
    feature_names: Sequence[str],
    *,
    detector: BatchDetector | None = None,
    threshold_quantile: float = 0.999,
    model_version: str | None = None,
) -> TrainedModel:
    """Fit a detector on healthy rows and return it with its feature list and threshold.

    Args:
        X: Healthy training rows shaped (samples, features); NaN marks a missing value and
            is replaced by the feature's median before fitting.
        feature_names: Name of each column, in order.
        detector: Unfitted detector; default :class:`IsolationForestDetector` with seed 0.
        threshold_quantile: Quantile of the training scores used as the alarm threshold.
        model_version: Version label; default the training time as ``YYYYmmddTHHMMSSZ``.

    Raises:
        ValueError: The matrix and the names disagree, a name repeats, or a column has no value.
    """
    array = np.array(X, dtype=float)
    names = tuple(feature_names)
    if array.ndim != 2 or array.shape[1] != len(names):
        raise ValueError(f"X has shape {array.shape} but {len(names)} feature names were given; pass one name per column")
    if len(set(names)) != len(names):
        raise ValueError(f"feature names repeat: {sorted(name for name in set(names) if names.count(name) > 1)}")
    if not 0 < threshold_quantile < 1:
        raise ValueError(f"threshold_quantile must be in (0, 1), got {threshold_quantile}")
    empty = [name for name, column in zip(names, array.T) if np.isnan(column).all()]
    if empty:
        raise ValueError(f"these features have no value in the training data: {empty}; drop them or collect data for them")

    fill_values = np.nanmedian(array, axis=0)
    missing = np.isnan(array)
    array[missing] = np.broadcast_to(fill_values, array.shape)[missing]

    model = detector if detector is not None else IsolationForestDetector()
    model.fit(array)
    threshold = float(np.quantile(model.score_samples(array), threshold_quantile))
    trained_at = datetime.now(timezone.utc).replace(microsecond=0)
    version = model_version or trained_at.strftime("%Y%m%dT%H%M%SZ")
    logger.info(
        "trained model detector=%s features=%d samples=%d threshold=%.6g model_version=%s",
        type(model).__name__, len(names), array.shape[0], threshold, version,
    )
    return TrainedModel(
        detector=model,
        feature_names=names,
        fill_values=fill_values,
        threshold=threshold,
        threshold_quantile=threshold_quantile,
        model_version=version,
        trained_at=trained_at,
        n_samples=int(array.shape[0]),
    )


def save_model(model: TrainedModel, path: str | Path) -> Path:
    """Write a trained model to ``path`` with joblib and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump({"format_version": model.format_version, "model": model}, target)
    logger.info("saved model path=%s model_version=%s features=%d", target, model.model_version, len(model.feature_names))
    return target


def load_model(path: str | Path, *, feature_names: Sequence[str] | None = None) -> TrainedModel:
    """Read a model written by :func:`save_model` and check its format and features.

    joblib files are pickles: loading one runs code from it, so load only files that
    your own ``qianliyan train`` wrote.

    Args:
        path: File written by :func:`save_model`.
        feature_names: Features the caller will send, in order; when given, they must
            equal the model's feature list.

    Raises:
        FileNotFoundError: No file at ``path``.
        ValueError: The file is not a model of this format, or the features differ.
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"model file not found: {source}; create one with 'qianliyan train'")
    content = joblib.load(source)
    if not isinstance(content, dict) or not isinstance(content.get("model"), TrainedModel):
        raise ValueError(f"{source} is not a qianliyan model file; create one with 'qianliyan train'")
    if content.get("format_version") != MODEL_FORMAT_VERSION:
        raise ValueError(
            f"{source} has model format version {content.get('format_version')}, this version reads {MODEL_FORMAT_VERSION}; retrain the model"
        )

    model: TrainedModel = content["model"]
    if feature_names is not None and tuple(feature_names) != model.feature_names:
        raise ValueError(f"{source} was trained on features {list(model.feature_names)}, but the caller sends {list(feature_names)}")
    if model.sklearn_version != sklearn.__version__:
        logger.warning(
            "model was trained with another scikit-learn version path=%s trained_with=%s running=%s",
            source, model.sklearn_version, sklearn.__version__,
        )
    return model
