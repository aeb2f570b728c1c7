"""The trained multivariate model in the worker: every GPU's row scored in one batch per call."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np

from detectors.anomaly import Anomaly
from detectors.multivariate import IsolationForestDetector, PcaReconstructionDetector, TrainedModel, load_model
from pipeline.errors import QianliyanError
from pipeline.schemas import GpuSample, GpuTelemetry

logger = logging.getLogger(__name__)

# GpuSample fields that are identifiers, not measurements.
_NOT_FEATURES: Final = frozenset({"gpu", "uuid"})
GPU_FEATURES: Final = tuple(name for name in GpuSample.model_fields if name not in _NOT_FEATURES)
_DETECTOR_NAMES: Final = {IsolationForestDetector: "isolation_forest", PcaReconstructionDetector: "pca"}


class InvalidModelError(QianliyanError, ValueError):
    """The configured detection model is missing, unreadable, or not a model of GPU fields."""


def detector_name(model: TrainedModel) -> str:
    """Return the anomaly detector name of a model, for example ``model.isolation_forest``."""
    kind = _DETECTOR_NAMES.get(type(model.detector))
    if kind is None:
        class_name = type(model.detector).__name__.removesuffix("Detector")
        kind = re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()
    return f"model.{kind}"


def load_gpu_model(path: Path) -> TrainedModel:
    """Load a model written by ``qianliyan train`` and check that its features are GPU fields.

    Raises:
        InvalidModelError: The file is missing, is not a model of this format, or a
            feature is not a numeric field of ``GpuSample`` (a DCGM field name).
    """
    try:
        model = load_model(path)
    except (FileNotFoundError, ValueError) as exc:
        raise InvalidModelError(f"cannot load the detection model (QIANLIYAN_DETECTION_MODEL_PATH): {exc}") from exc

    unknown = [name for name in model.feature_names if name not in GPU_FEATURES]
    if unknown:
        raise InvalidModelError(
            f"{path} was trained on features that are not GPU fields: {unknown}; "
            "train it on DCGM field names such as DCGM_FI_DEV_POWER_USAGE, for example from 'qianliyan emulate --csv'"
        )
    return model


class ModelStage:
    """Score every GPU row with a trained model and report GPUs above its threshold.

    All GPU rows of one :meth:`process` call go to the model in a single call, because a
    call per row spends most of its time in overhead. A field the sample lacks takes the
    training median (:meth:`TrainedModel.matrix`).

    The threshold is the model's own (a quantile of its training scores). One anomaly is
    reported when a GPU's score first reaches it on ``persistence`` consecutive samples,
    counted in event-time order. The GPU re-arms when its score falls below it.

    Args:
        model: The trained model; its features must be ``GpuSample`` field names.
        persistence: Consecutive samples at or above the threshold before reporting.
    """

    def __init__(self, model: TrainedModel, *, persistence: int = 5) -> None:
        if persistence < 1:
            raise ValueError(f"persistence must be >= 1 sample, got {persistence}")
        unknown = [name for name in model.feature_names if name not in GPU_FEATURES]
        if unknown:
            raise ValueError(f"model features {unknown} are not GPU fields; expected names of GpuSample fields")
        self.model = model
        self.persistence = persistence
        self.name = detector_name(model)
        self._streaks: dict[tuple[str, str, int], int] = {}

    @classmethod
    def from_file(cls, path: Path, *, persistence: int = 5) -> ModelStage:
        """Load the model at ``path`` (see :func:`load_gpu_model`) and build the stage."""
        model = load_gpu_model(path)
        logger.info(
            "detection model loaded path=%s detector=%s model_version=%s features=%d threshold=%.6g",
            path, detector_name(model), model.model_version, len(model.feature_names), model.threshold,
        )
        return cls(model, persistence=persistence)

    def process(self, messages: Sequence[GpuTelemetry]) -> list[Anomaly]:
        """Score every GPU of ``messages`` in one model call and return the anomalies that just started."""
        ordered = sorted(messages, key=lambda message: message.time)
        rows = [(message, sample) for message in ordered for sample in message.gpus]
        if not rows:
            return []

        names = self.model.feature_names
        matrix = self.model.matrix([{name: getattr(sample, name) for name in names} for _, sample in rows])
        scores = self.model.score_many(matrix)

        anomalies = []
        for (message, sample), score, values in zip(rows, scores, matrix):
            key = (message.cluster, message.node, sample.gpu)
            streak = self._streaks.get(key, 0) + 1 if score >= self.model.threshold else 0
            self._streaks[key] = streak
            if streak == self.persistence:
                anomalies.append(self._anomaly(message, sample, float(score), values))
        return anomalies

    def _anomaly(self, message: GpuTelemetry, sample: GpuSample, score: float, values: np.ndarray) -> Anomaly:
        evidence: dict[str, str | float] = {"model_version": self.model.model_version}
        evidence.update({name: round(float(value), 4) for name, value in zip(self.model.feature_names, values)})
        return Anomaly(
            time=message.time,
            cluster=message.cluster,
            entity=message.node,
            entity_kind="gpu",
            gpu=sample.gpu,
            rack=message.rack,
            detector=self.name,
            score=score,
            threshold=self.model.threshold,
            severity="warning",
            evidence=evidence,
            message=f"GPU {sample.gpu} on {message.node} scores {score:.4g} on the trained model (threshold {self.model.threshold:.4g})",
        )
