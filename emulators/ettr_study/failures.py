"""Failure draws of one study run, made once and shared by both recovery policies.

Every random number the simulation uses is drawn here, from one seeded numpy
``Generator``, so the automatic and the manual policy see the same failures at the same
times, and changing a policy parameter never changes the draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from emulators.ettr_study.model import SECONDS_PER_DAY, STRAGGLER_CATEGORY, FailureCategory, StudyParameters


@dataclass(frozen=True)
class FailureDraws:
    """Failures of one run in time order; every array has one entry per failure.

    Attributes:
        category_names: name of each category, indexed by ``category``; the last one is
            the persistent straggler.
        time_seconds: onset since the job's start.
        category: index into ``category_names``.
        detection_quantile: uniform in [0, 1); picks the detection delay from a policy's list.
        repair_seconds: time from onset until the failed node is repaired.
        duration_seconds: natural length of a fail-slow episode or a transient stall;
            ``inf`` for a persistent straggler.
    """

    category_names: tuple[str, ...]
    time_seconds: np.ndarray
    category: np.ndarray
    detection_quantile: np.ndarray
    repair_seconds: np.ndarray
    duration_seconds: np.ndarray

    def __len__(self) -> int:
        return int(self.time_seconds.size)


def _arrival_times(
    rng: np.random.Generator, rate_per_second: float, horizon_seconds: float, process: str, shape: float
) -> np.ndarray:
    """Draw the onsets of one renewal process with the given mean rate up to the horizon."""
    if rate_per_second <= 0:
        return np.empty(0)
    mean_gap = 1.0 / rate_per_second
    expected = horizon_seconds * rate_per_second
    batch = int(expected + 6 * math.sqrt(expected) + 16)
    times = np.empty(0)
    last = 0.0
    while last < horizon_seconds:
        if process == "weibull":
            # Scale so the mean gap stays 1 / rate: E[gap] = scale * Gamma(1 + 1 / shape).
            gaps = rng.weibull(shape, batch) * mean_gap / math.gamma(1.0 + 1.0 / shape)
        else:
            gaps = rng.exponential(mean_gap, batch)
        chunk = last + np.cumsum(gaps)
        times = np.concatenate([times, chunk])
        last = float(chunk[-1])
    return times[times < horizon_seconds]


def _durations(rng: np.random.Generator, category: FailureCategory, count: int) -> np.ndarray:
    if category.fault_class == "fail_slow":
        return rng.exponential(category.mean_duration_seconds, count) if category.mean_duration_seconds > 0 else np.zeros(count)
    if category.fault_class == "transient":
        return rng.uniform(0.0, category.mean_duration_seconds, count)
    return np.zeros(count)


def draw_failures(params: StudyParameters, repair_seconds: np.ndarray, seed: int | None = None) -> FailureDraws:
    """Draw every failure of one run of the job.

    Each category is its own renewal process over the whole job (Poisson by default,
    Weibull in bursty mode) with rate ``nodes * rate_per_1000_node_days / 1000`` per day.
    Persistent stragglers are present from the start: each node is one with probability
    ``straggler_node_fraction``.

    Args:
        params: the study parameters.
        repair_seconds: measured repair times to resample, in seconds.
        seed: seed of the generator; ``params.seed`` when ``None``.

    Returns:
        The failures sorted by onset time.
    """
    rng = np.random.default_rng(params.seed if seed is None else seed)
    failures = params.failures
    horizon = params.duration_seconds
    names = tuple(category.name for category in failures.categories) + (STRAGGLER_CATEGORY,)

    times: list[np.ndarray] = []
    categories: list[np.ndarray] = []
    durations: list[np.ndarray] = []
    for index, category in enumerate(failures.categories):
        rate = params.nodes * category.rate_per_1000_node_days / 1000.0 / SECONDS_PER_DAY
        onsets = _arrival_times(rng, rate, horizon, failures.arrival_process, failures.weibull_shape)
        times.append(onsets)
        categories.append(np.full(onsets.size, index))
        durations.append(_durations(rng, category, onsets.size))

    stragglers = int(rng.binomial(params.nodes, failures.straggler_node_fraction))
    times.append(np.zeros(stragglers))
    categories.append(np.full(stragglers, len(names) - 1))
    durations.append(np.full(stragglers, math.inf))

    time_seconds = np.concatenate(times)
    order = np.argsort(time_seconds, kind="stable")
    count = time_seconds.size
    return FailureDraws(
        category_names=names,
        time_seconds=time_seconds[order],
        category=np.concatenate(categories)[order],
        detection_quantile=rng.uniform(0.0, 1.0, count),
        repair_seconds=rng.choice(repair_seconds, count) if count else np.empty(0),
        duration_seconds=np.concatenate(durations)[order],
    )
