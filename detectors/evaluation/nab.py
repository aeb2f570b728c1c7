"""The Numenta Anomaly Benchmark (NAB) score, written from its published description.

Source of the rules: NAB's scorer (nab/sweeper.py in github.com/numenta/NAB), which
implements Lavin and Ahmad, "Evaluating Real-time Anomaly Detection Algorithms - the
Numenta Anomaly Benchmark", ICMLA 2015. No code was taken from it. Per data file:

1. The first 15 % of the rows (at most 750) are a probationary period and are not scored.
2. A detection is a row whose anomaly score is >= the threshold.
3. Inside a labelled window, only the earliest detection counts, with the weight
   tp_weight x S(p) / S(-1), where p = -(right - i + 1) / width is the row's position in
   the window (-1 at its first row, near 0 at its last) and S is the scaled sigmoid
   S(x) = 2 / (1 + exp(5x)) - 1, or -1 for x >= 3.
4. A window without a detection costs fn_weight.
5. Every detection outside the windows costs fp_weight x S(p) with p = |i - right| /
   (width - 1) measured from the end of the previous window, or the full fp_weight when
   no window came before it.

The threshold is optimised once for the whole corpus, to maximise the summed raw score.
The corpus total is then normalised: the detector that flags nothing scores 0, and the
one that flags the first row of every window scores 100.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROBATION_FRACTION = 0.15
PROBATION_MAX_ROWS = 750
OUTSIDE = -1


@dataclass(frozen=True)
class CostProfile:
    """Weights of one NAB profile (``config/profiles.json``)."""

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


@dataclass(frozen=True)
class NabFile:
    """One scored series: anomaly scores per row and labelled windows as inclusive row pairs."""

    name: str
    scores: np.ndarray
    windows: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class FileResult:
    """One file's raw NAB score at a threshold, with its detection counts and normalisation bounds."""

    name: str
    raw: float
    null: float
    perfect: float
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def normalized(self) -> float | None:
        """Return 100 x (raw - null) / (perfect - null), or None for a file without windows."""
        span = self.perfect - self.null
        return None if span == 0 else 100.0 * (self.raw - self.null) / span


@dataclass(frozen=True)
class CorpusResult:
    """NAB score of a corpus under one profile."""

    profile: str
    threshold: float
    raw: float
    null: float
    perfect: float
    files: tuple[FileResult, ...]

    @property
    def normalized(self) -> float:
        """Return the normalised NAB score: 0 for the null detector, 100 for a perfect one."""
        return 100.0 * (self.raw - self.null) / (self.perfect - self.null)


def load_profiles(path: str | Path) -> dict[str, CostProfile]:
    """Read NAB's ``profiles.json`` into cost profiles by name."""
    content = json.loads(Path(path).read_text())
    profiles = {}
    for name, profile in content.items():
        costs = profile["CostMatrix"]
        profiles[name] = CostProfile(name, float(costs["tpWeight"]), float(costs["fpWeight"]), float(costs["fnWeight"]))
    return profiles


def scaled_sigmoid(position: float) -> float:
    """Return NAB's weight of a detection at a relative position: about 0.987 at -1, 0 at 0, -1 from 3 on."""
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def probationary_rows(row_count: int) -> int:
    """Return the number of leading rows that NAB does not score."""
    return int(min(math.floor(PROBATION_FRACTION * row_count), PROBATION_FRACTION * 5000))


def row_weights(row_count: int, windows: Sequence[tuple[int, int]], profile: CostProfile) -> tuple[np.ndarray, np.ndarray]:
    """Return the weight each row would earn as a detection, and its window number (``OUTSIDE`` if none).

    Raises:
        ValueError: A window is outside the rows, reversed, or overlaps the previous one.
    """
    weights = np.empty(row_count)
    window_of = np.full(row_count, OUTSIDE, dtype=np.int64)
    max_tp = scaled_sigmoid(-1.0)
    previous_right: int | None = None
    previous_width = 0
    cursor = 0
    for number, (left, right) in enumerate(windows):
        if not 0 <= left <= right < row_count or (previous_right is not None and left <= previous_right):
            raise ValueError(f"window {number} = rows [{left}, {right}] is invalid for {row_count} rows after a window ending at {previous_right}")
        weights[cursor:left] = _false_positive_weights(np.arange(cursor, left), previous_right, previous_width, profile)
        width = right - left + 1
        positions = -(right - np.arange(left, right + 1) + 1) / width
        weights[left : right + 1] = [scaled_sigmoid(value) * profile.tp_weight / max_tp for value in positions]
        window_of[left : right + 1] = number
        previous_right, previous_width, cursor = right, width, right + 1
    weights[cursor:] = _false_positive_weights(np.arange(cursor, row_count), previous_right, previous_width, profile)
    return weights, window_of


def _false_positive_weights(rows: np.ndarray, previous_right: int | None, previous_width: int, profile: CostProfile) -> np.ndarray:
    if previous_right is None:
        return np.full(rows.size, -profile.fp_weight)
    positions = np.abs(rows - previous_right) / max(previous_width - 1, 1)
    return np.array([scaled_sigmoid(value) for value in positions]) * profile.fp_weight


def score_file(file: NabFile, profile: CostProfile, threshold: float) -> FileResult:
    """Return the raw NAB score of one file for detections ``scores >= threshold``."""
    weights, window_of, scorable = _scorable(file, profile)
    detected = scorable & (np.nan_to_num(file.scores, nan=-np.inf) >= threshold)
    windows = _scorable_windows(window_of, scorable)

    outside = detected & (window_of == OUTSIDE)
    raw = float(weights[outside].sum())
    true_positives = 0
    for number in windows:
        hits = detected & (window_of == number)
        if hits.any():
            raw += float(weights[hits].max())
            true_positives += 1
        else:
            raw -= profile.fn_weight

    perfect = sum(float(weights[scorable & (window_of == number)].max()) for number in windows)
    return FileResult(
        name=file.name,
        raw=raw,
        null=-profile.fn_weight * len(windows),
        perfect=perfect,
        true_positives=true_positives,
        false_positives=int(np.count_nonzero(outside)),
        false_negatives=len(windows) - true_positives,
    )


def _scorable(file: NabFile, profile: CostProfile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    weights, window_of = row_weights(file.scores.size, file.windows, profile)
    scorable = np.arange(file.scores.size) >= probationary_rows(file.scores.size)
    return weights, window_of, scorable


def _scorable_windows(window_of: np.ndarray, scorable: np.ndarray) -> list[int]:
    return sorted(set(window_of[scorable & (window_of != OUTSIDE)].tolist()))


def optimize_threshold(files: Sequence[NabFile], profile: CostProfile) -> tuple[float, float]:
    """Return the threshold that maximises the corpus's summed raw score, and that score.

    Every distinct score is tried exactly, as NAB's sweep does. Rows are taken in order of
    falling score. A row outside the windows adds its false-positive weight, and a row
    inside a window raises that window's score to the row's weight if it is higher. Ties
    in score are evaluated together. Among equal totals the highest threshold wins.
    """
    scores, gains = [], []
    base = 0.0
    for file in files:
        weights, window_of, scorable = _scorable(file, profile)
        values = np.nan_to_num(file.scores, nan=-np.inf)
        base -= profile.fn_weight * len(_scorable_windows(window_of, scorable))
        gains.append(_row_gains(values, weights, window_of, scorable, profile))
        scores.append(values[scorable])

    all_scores = np.concatenate(scores)
    all_gains = np.concatenate([gain for gain in gains])
    order = np.argsort(-all_scores, kind="stable")
    sorted_scores = all_scores[order]
    totals = base + np.cumsum(all_gains[order])

    # Evaluate only after the last row of each group of equal scores.
    group_end = np.flatnonzero(np.diff(np.concatenate([sorted_scores, [-np.inf - 1]])) != 0)
    finite = np.isfinite(sorted_scores[group_end])
    group_end = group_end[finite]
    if group_end.size == 0 or totals[group_end].max() <= base:
        return float(np.nanmax(np.where(np.isfinite(all_scores), all_scores, -np.inf), initial=0.0)) + 1.0, base
    best = group_end[int(np.argmax(totals[group_end]))]
    return float(sorted_scores[best]), float(totals[best])


def _row_gains(values: np.ndarray, weights: np.ndarray, window_of: np.ndarray, scorable: np.ndarray, profile: CostProfile) -> np.ndarray:
    """Return, for the scorable rows in file order, how much each adds when the threshold reaches it.

    Ties inside a window are ordered as in the corpus-wide stable sort, so the gains of a
    window add up to its running maximum weight, less the missed-window cost.
    """
    rows = np.flatnonzero(scorable)
    gains = np.where(window_of[rows] == OUTSIDE, weights[rows], 0.0)
    for number in _scorable_windows(window_of, scorable):
        members = np.flatnonzero(window_of[rows] == number)
        ranked = members[np.argsort(-values[rows][members], kind="stable")]
        running = np.maximum.accumulate(weights[rows][ranked])
        previous = np.concatenate([[-profile.fn_weight], running[:-1]])
        gains[ranked] = running - previous
    return gains


def score_corpus(files: Sequence[NabFile], profile: CostProfile, threshold: float | None = None) -> CorpusResult:
    """Score a corpus under one profile, at ``threshold`` or at the optimised one."""
    chosen = optimize_threshold(files, profile)[0] if threshold is None else threshold
    results = tuple(score_file(file, profile, chosen) for file in files)
    return CorpusResult(
        profile=profile.name,
        threshold=chosen,
        raw=sum(result.raw for result in results),
        null=sum(result.null for result in results),
        perfect=sum(result.perfect for result in results),
        files=results,
    )
