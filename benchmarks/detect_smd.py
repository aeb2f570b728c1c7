"""Score the package's detectors on the Server Machine Dataset (SMD), per machine.

Batch models (isolation forest, PCA) are fitted on each machine's training half and score
its test half. Streaming detectors learn the last 2,000 training rows and then score and
learn the test half row by row. Every figure is taken at the threshold that maximises it,
searched with the labels, as most SMD papers do: read them as upper bounds. The
``all_points`` row flags every point and shows how much each metric gives for nothing.

    .venv/bin/python benchmarks/detect_smd.py            # every machine with values
    .venv/bin/python benchmarks/detect_smd.py --json     # machine-readable
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from detectors.evaluation.datasets import DEFAULT_DATA_ROOT
from detectors.evaluation.report import as_json, render_table
from detectors.evaluation.runs import SMD_DETECTORS, SmdRow, evaluate_smd

# Published SMD figures for comparison. Each is an average over the 28 machines at a
# threshold searched with the labels, with point adjustment, unless its note states otherwise.
PUBLISHED = (
    ("OmniAnomaly (Su et al., KDD 2019)", "PA-F1 0.962", "unverified: quoted from memory of the paper's table"),
    ("Anomaly Transformer (Xu et al., ICLR 2022)", "PA-F1 0.923", "unverified: quoted from memory of the paper's table"),
    (
        "OmniAnomaly re-run (Alves et al., arXiv 2603.18985, 2026)",
        "F1 0.933 (grid-searched threshold), 0.746 (POT threshold)",
        "from a summary page of the paper, which does not say whether point adjustment applies; per-machine figures are in the paper",
    ),
)


def summarize(rows: list[SmdRow]) -> list[list[object]]:
    """Return the mean of each metric per detector over the machines scored."""
    by_detector: dict[str, list[SmdRow]] = defaultdict(list)
    for row in rows:
        by_detector[row.detector].append(row)
    return [
        [
            detector,
            float(np.mean([row.point_adjusted.f1 for row in items])),
            float(np.mean([row.composite.f1 for row in items])),
            float(np.mean([row.event_wise.f1 for row in items])),
            float(sum(row.seconds for row in items)),
        ]
        for detector, items in by_detector.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT, help="folder that contains smd/ (default ../shared/data)")
    parser.add_argument("--machines", nargs="*", help="machines to score, for example machine-1-6 (default all with values)")
    parser.add_argument("--detectors", nargs="*", default=list(SMD_DETECTORS), choices=list(SMD_DETECTORS), help="detectors to run (default all)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    arguments = parser.parse_args()

    started = time.perf_counter()
    rows = evaluate_smd(arguments.detectors, arguments.machines, arguments.data_root)
    elapsed = time.perf_counter() - started

    if arguments.json:
        print(json.dumps({"rows": as_json(rows), "published": PUBLISHED, "seconds": elapsed}, indent=2))
        return

    print(f"SMD, {len({row.machine for row in rows})} machines, best threshold per figure; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {elapsed:.0f} s")
    print()
    print(
        render_table(
            ["machine", "detector", "anomalies", "PA-F1", "Fc1", "event-F1", "seconds"],
            [[row.machine, row.detector, row.anomaly_share, row.point_adjusted.f1, row.composite.f1, row.event_wise.f1, row.seconds] for row in rows],
        )
    )
    print()
    print(render_table(["detector", "mean PA-F1", "mean Fc1", "mean event-F1", "seconds"], summarize(rows)))
    print()
    print("PA-F1: point-adjusted F1. Fc1: composite F1 (point-wise precision, event-wise recall), no point adjustment.")
    print("event-F1: event-wise F1 without point adjustment (range-based: event recall, mean share of each predicted run inside events).")
    print()
    print("Published figures (averages over all 28 machines; none of these papers lists these 8 machines apart):")
    for name, figure, note in PUBLISHED:
        print(f"  {name}: {figure} [{note}]")


if __name__ == "__main__":
    main()
