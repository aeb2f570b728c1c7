"""Every streaming and batch detector with small default settings, for tests and benchmarks.

Each entry names the input it expects, so that a generic test can build a labelled stream
for it. The inputs are ``features`` (independent numeric series per entity), ``peers``
(nodes of one job that should look alike), ``step_time`` (one step time per node) and
``hang`` (step number and RDMA throughput per job).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from detectors.base import BatchDetector, StreamingDetector
from detectors.job import HangDetector, StragglerDetector
from detectors.multivariate import IsolationForestDetector, PcaReconstructionDetector
from detectors.peers import PeerDeviation
from detectors.stats import Cusum, EwmaZScore, RobustZScore

InputKind = Literal["features", "peers", "step_time", "hang"]


@dataclass(frozen=True)
class StreamingSpec:
    """A streaming detector in the registry: its name, how to build it and what it reads."""

    name: str
    build: Callable[[int], StreamingDetector]
    input_kind: InputKind


@dataclass(frozen=True)
class BatchSpec:
    """A batch detector in the registry: its name and how to build it from a seed."""

    name: str
    build: Callable[[int], BatchDetector]


STREAMING_DETECTORS: tuple[StreamingSpec, ...] = (
    StreamingSpec("stats.robust_z", lambda seed: RobustZScore(window=30, min_samples=10, seed=seed), "features"),
    StreamingSpec("stats.ewma_z", lambda seed: EwmaZScore(alpha=0.1, warmup=10, seed=seed), "features"),
    StreamingSpec("stats.cusum", lambda seed: Cusum(warmup=20, seed=seed), "features"),
    StreamingSpec("peers.deviation", lambda seed: PeerDeviation(persistence_k=2, persistence_n=3, seed=seed), "peers"),
    StreamingSpec("job.straggler", lambda seed: StragglerDetector(warmup=3, seed=seed), "step_time"),
    StreamingSpec("job.hang", lambda seed: HangDetector(warmup=5, seed=seed), "hang"),
)

BATCH_DETECTORS: tuple[BatchSpec, ...] = (
    BatchSpec("multivariate.isolation_forest", lambda seed: IsolationForestDetector(n_estimators=50, random_state=seed)),
    BatchSpec("multivariate.pca", lambda seed: PcaReconstructionDetector(n_components=2, random_state=seed)),
)


def streaming_detector(name: str, seed: int = 0) -> StreamingDetector:
    """Build the registered streaming detector called ``name``.

    Raises:
        KeyError: No streaming detector has that name.
    """
    for spec in STREAMING_DETECTORS:
        if spec.name == name:
            return spec.build(seed)
    raise KeyError(f"no streaming detector named {name!r}; registered: {[spec.name for spec in STREAMING_DETECTORS]}")
