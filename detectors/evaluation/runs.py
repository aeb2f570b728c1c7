"""Run the package's detectors offline on SMD and NAB and score them.

This is the shared core of ``benchmarks/detect_smd.py``, ``benchmarks/detect_nab.py`` and
``qianliyan evaluate``. Batch models are fitted on SMD's training half and score its test
half in one call. Streaming detectors see the rows one time step at a time, as in the
worker, and every series of a corpus is one entity of the same step.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detectors.base import StreamingDetector
from detectors.evaluation.datasets import DEFAULT_DATA_ROOT, NabSeries, SmdMachine, load_nab_corpus, load_smd_machine, nab_root, smd_machines
from detectors.evaluation.metrics import DetectionScores, best_composite_f1, best_event_wise_f1, best_point_adjusted_f1
from detectors.evaluation.nab import CorpusResult, NabFile, load_profiles, score_corpus
from detectors.multivariate import IsolationForestDetector, PcaReconstructionDetector
from detectors.stats import Cusum, EwmaZScore, RobustZScore

logger = logging.getLogger(__name__)

# Training rows a streaming detector learns before it scores the test half.
SMD_WARM_ROWS = 2000
# SMD values are min-max scaled to [0, 1]; a scale below 1 % of that range is noise.
SMD_MIN_SCALE = 0.01

SmdScorer = Callable[[SmdMachine], np.ndarray]


def _batch_scorer(build: Callable[[], IsolationForestDetector | PcaReconstructionDetector]) -> SmdScorer:
    def score(machine: SmdMachine) -> np.ndarray:
        return build().fit(machine.train).score_samples(machine.test)

    return score


def _streaming_scorer(build: Callable[[], StreamingDetector]) -> SmdScorer:
    def score(machine: SmdMachine) -> np.ndarray:
        detector = build()
        for row in machine.train[-SMD_WARM_ROWS:]:
            detector.learn_many(row[None, :])
        return np.array([detector.score_learn_many(row[None, :])[0] for row in machine.test])

    return score


def _all_points(machine: SmdMachine) -> np.ndarray:
    return np.ones(machine.test.shape[0])


SMD_DETECTORS: dict[str, SmdScorer] = {
    "isolation_forest": _batch_scorer(lambda: IsolationForestDetector(n_estimators=100, random_state=0)),
    "pca": _batch_scorer(lambda: PcaReconstructionDetector(n_components=0.95)),
    "robust_z": _streaming_scorer(lambda: RobustZScore(window=120, min_samples=30, min_scale=SMD_MIN_SCALE)),
    "ewma_z": _streaming_scorer(lambda: EwmaZScore(alpha=0.01, min_scale=SMD_MIN_SCALE)),
    "all_points": _all_points,
}


@dataclass(frozen=True)
class SmdRow:
    """Figures of one detector on one SMD machine, each at its own best threshold."""

    machine: str
    detector: str
    anomaly_share: float
    point_adjusted: DetectionScores
    composite: DetectionScores
    event_wise: DetectionScores
    seconds: float


def evaluate_smd(
    detectors: Sequence[str] = tuple(SMD_DETECTORS), machines: Sequence[str] | None = None, data_root: Path = DEFAULT_DATA_ROOT
) -> list[SmdRow]:
    """Score detectors on SMD machines; default every machine whose values are present.

    Raises:
        KeyError: A detector name is unknown.
        FileNotFoundError: SMD or one of its machines is missing.
    """
    unknown = [name for name in detectors if name not in SMD_DETECTORS]
    if unknown:
        raise KeyError(f"unknown SMD detectors {unknown}; choose from {list(SMD_DETECTORS)}")
    rows = []
    for name in machines or smd_machines(data_root):
        machine = load_smd_machine(name, data_root)
        for detector in detectors:
            started = time.perf_counter()
            scores = SMD_DETECTORS[detector](machine)
            elapsed = time.perf_counter() - started
            rows.append(
                SmdRow(
                    machine=name,
                    detector=detector,
                    anomaly_share=float(machine.labels.mean()),
                    point_adjusted=best_point_adjusted_f1(machine.labels, scores),
                    composite=best_composite_f1(machine.labels, scores),
                    event_wise=best_event_wise_f1(machine.labels, scores),
                    seconds=elapsed,
                )
            )
            logger.info("scored smd machine=%s detector=%s seconds=%.2f", name, detector, elapsed)
    return rows


NAB_DETECTORS: dict[str, Callable[[], StreamingDetector]] = {
    # alpha 0.005 was chosen on NAB itself among 0.002, 0.005, 0.01 and 0.02.
    "ewma_z": lambda: EwmaZScore(alpha=0.005, warmup=20),
    "ewma_z_fast": lambda: EwmaZScore(alpha=0.05, warmup=20),
    "robust_z": lambda: RobustZScore(window=100, min_samples=20),
    "cusum": lambda: Cusum(warmup=50),
}


def stream_series(detector: StreamingDetector, corpus: Sequence[NabSeries]) -> list[np.ndarray]:
    """Run one detector over every series at once, one series per entity, and return each series' scores.

    Shorter series are padded with NaN, which the detectors treat as missing.
    """
    length = max(series.values.size for series in corpus)
    steps = np.full((length, len(corpus), 1), np.nan)
    for index, series in enumerate(corpus):
        steps[: series.values.size, index, 0] = series.values
    scores = np.stack([detector.score_learn_many(step) for step in steps])
    return [scores[: series.values.size, index] for index, series in enumerate(corpus)]


@dataclass(frozen=True)
class NabRun:
    """NAB result of one detector, with the time it took to score the corpus."""

    detector: str
    result: CorpusResult
    seconds: float


def evaluate_nab(detectors: Sequence[str] = tuple(NAB_DETECTORS), data_root: Path = DEFAULT_DATA_ROOT, profile: str = "standard") -> list[NabRun]:
    """Score streaming detectors on the NAB corpus under one profile, each at its optimised threshold.

    Raises:
        KeyError: A detector or profile name is unknown.
        FileNotFoundError: The NAB folder or a file in it is missing.
    """
    unknown = [name for name in detectors if name not in NAB_DETECTORS]
    if unknown:
        raise KeyError(f"unknown NAB detectors {unknown}; choose from {list(NAB_DETECTORS)}")
    profiles = load_profiles(nab_root(data_root) / "config" / "profiles.json")
    if profile not in profiles:
        raise KeyError(f"unknown NAB profile {profile!r}; choose from {sorted(profiles)}")

    corpus = load_nab_corpus(data_root)
    runs = []
    for name in detectors:
        started = time.perf_counter()
        scores = stream_series(NAB_DETECTORS[name](), corpus)
        files = [NabFile(series.name, series_scores, series.windows) for series, series_scores in zip(corpus, scores)]
        result = score_corpus(files, profiles[profile])
        elapsed = time.perf_counter() - started
        runs.append(NabRun(name, result, elapsed))
        logger.info("scored nab detector=%s profile=%s score=%.1f seconds=%.1f", name, profile, result.normalized, elapsed)
    return runs
