"""Seeded synthetic streams with labelled anomalies, one per detector input kind."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detectors.registry import InputKind


@dataclass(frozen=True)
class LabelledStream:
    """Time steps shaped (steps, entities, features), labels shaped (steps, entities).

    ``check_step`` and ``check_entity`` name one cell where the anomaly must be obvious:
    that entity must outscore every other entity at that step.
    """

    steps: np.ndarray
    labels: np.ndarray
    check_step: int
    check_entity: int


def features_stream(seed: int = 0) -> LabelledStream:
    """Return independent noisy series with a short level shift and a one-step spike."""
    rng = np.random.default_rng(seed)
    steps_count, entities, features = 300, 6, 3
    means = rng.uniform(5, 50, (entities, features))
    steps = means + rng.normal(0, 1, (steps_count, entities, features))
    labels = np.zeros((steps_count, entities), dtype=bool)

    steps[150:160, 2, 1] += 8
    labels[150:160, 2] = True
    steps[200, 4, :] += 10
    labels[200, 4] = True
    return LabelledStream(steps, labels, check_step=200, check_entity=4)


def peers_stream(seed: int = 0) -> LabelledStream:
    """Return nodes of one job following a shared load, one of them 15 % low on one metric for a while."""
    rng = np.random.default_rng(seed)
    steps_count, nodes, metrics = 200, 8, 4
    load = 1 + 0.2 * np.sin(np.arange(steps_count) / 10)
    base = np.array([700.0, 0.95, 0.5, 3e9])
    steps = load[:, None, None] * base * (1 + rng.normal(0, 0.005, (steps_count, nodes, metrics)))
    labels = np.zeros((steps_count, nodes), dtype=bool)

    steps[100:140, 3, 2] *= 0.85
    labels[100:140, 3] = True
    return LabelledStream(steps, labels, check_step=104, check_entity=3)


def step_time_stream(seed: int = 0) -> LabelledStream:
    """Return step times of eight nodes, one of them 10 % slower for 60 steps."""
    rng = np.random.default_rng(seed)
    steps_count, nodes = 200, 8
    steps = 2.0 * (1 + rng.normal(0, 0.004, (steps_count, nodes, 1)))
    labels = np.zeros((steps_count, nodes), dtype=bool)

    steps[60:120, 5, 0] *= 1.10
    labels[60:120, 5] = True
    return LabelledStream(steps, labels, check_step=66, check_entity=5)


def hang_stream(seed: int = 0) -> LabelledStream:
    """Return step numbers and RDMA throughput of four jobs, one of them hung for 60 ticks."""
    rng = np.random.default_rng(seed)
    steps_count, jobs = 200, 4
    step_numbers = np.tile(np.arange(steps_count, dtype=float)[:, None], (1, jobs)) // 2
    rates = 1e9 * (1 + rng.normal(0, 0.05, (steps_count, jobs)))
    labels = np.zeros((steps_count, jobs), dtype=bool)

    step_numbers[80:140, 1] = step_numbers[79, 1]
    rates[80:140, 1] = 1e6
    labels[80:140, 1] = True
    steps = np.stack([step_numbers, rates], axis=2)
    return LabelledStream(steps, labels, check_step=90, check_entity=1)


STREAMS = {"features": features_stream, "peers": peers_stream, "step_time": step_time_stream, "hang": hang_stream}


def labelled_stream(kind: InputKind, seed: int = 0) -> LabelledStream:
    """Return the synthetic stream for a detector input kind."""
    return STREAMS[kind](seed)
