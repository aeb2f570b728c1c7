"""Run the chosen parts of the pipeline evaluation, each with a worker of its own, and collect their results."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from detectors.evaluation.datasets import DEFAULT_DATA_ROOT, nab_root
from detectors.evaluation.report import as_json
from emulators.faults.scenario import load_scenario
from pipeline.errors import QianliyanError
from pipeline.evaluation import parts as p
from pipeline.evaluation.inputs import load_emulator_inputs, scenario_samples
from pipeline.evaluation.tables import emulator_table, fault_free_table, nab_table, smd_table, targets_table
from pipeline.evaluation.targets import TargetCheck, emulator_targets, fault_free_targets
from pipeline.evaluation.worker_run import WorkerHandle, check_services, running_worker
from pipeline.settings import Settings

PARTS: Final = ("emulator", "fault-free", "smd", "nab")


class EvaluationInputError(QianliyanError, ValueError):
    """An input of the evaluation (scenario, topology, SMD machine, NAB series, ``--keep`` folder) is missing or invalid."""


@dataclass(frozen=True)
class PipelineEvaluation:
    """Options of one ``qianliyan evaluate --pipeline`` run. The defaults are those of the recorded figures."""

    parts: tuple[str, ...] = PARTS
    scenario: Path = p.DEFAULT_SCENARIO
    topology: Path = p.DEFAULT_TOPOLOGY
    # None: the end of the scenario's last fault plus grace_seconds (inputs.scenario_samples).
    samples: int | None = None
    fault_free_samples: int = p.DEFAULT_FAULT_FREE_SAMPLES
    smd_machines: tuple[str, ...] = p.DEFAULT_SMD_MACHINES
    smd_rows: int = p.DEFAULT_SMD_ROWS
    nab_series: tuple[str, ...] = p.DEFAULT_NAB_SERIES
    data_root: Path = DEFAULT_DATA_ROOT
    timeout_seconds: float = 900.0
    quiet_seconds: float = 10.0
    grace_seconds: float = 60.0
    seed: int = 0
    keep: Path | None = None
    # Simulated seconds per wall second of the emulated parts; 0 as fast as possible.
    speed: float = p.DEFAULT_SPEED


@dataclass(frozen=True)
class PartRun:
    """One part's result, its wall time (worker start to stop) and its targets."""

    part: str
    seconds: float
    result: p.PartResult
    targets: list[TargetCheck] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Return the result's fields with ``seconds`` and ``targets`` added."""
        return {**result_json(self.result), "seconds": round(self.seconds, 1), "targets": as_json(self.targets)}

    def text(self) -> str:
        """Return the part's heading, table and target lines."""
        heading = f"{self.part}: {self.seconds:.0f} s in all, worker caught up {self.result.wait_seconds:.0f} s after the last publish"
        tables: dict[str, Callable[[Any], str]] = {"emulator": emulator_table, "fault-free": fault_free_table, "smd": smd_table, "nab": nab_table}
        blocks = [heading, tables[self.part](self.result)]
        if self.targets:
            blocks.append("targets:\n" + targets_table(self.targets))
        return "\n\n".join(blocks)


def result_json(result: p.PartResult) -> dict[str, Any]:
    """Return a part's result as JSON-ready fields, with the NAB scores' ``normalized`` property written out."""
    data: dict[str, Any] = as_json(result)
    if isinstance(result, p.NabResult):
        data["corpus"]["normalized"] = as_json(result.corpus.normalized)
        for file, values in zip(result.corpus.files, data["corpus"]["files"]):
            values["normalized"] = as_json(file.normalized)
    return data


def check_inputs(evaluation: PipelineEvaluation) -> None:
    """Check, before any worker starts, the files that the chosen parts read and the ``--keep`` folder.

    The scenario and topology are loaded and every scenario fault is resolved on the topology.

    Raises:
        EvaluationInputError: a part is unknown, a scenario or topology is missing or invalid,
            an SMD machine or NAB series is missing, or ``keep`` cannot be a folder. The
            message is one line.
    """
    from emulators.replay import smd
    from emulators.replay.nab import series_name

    unknown = [part for part in evaluation.parts if part not in PARTS]
    if unknown:
        raise EvaluationInputError(f"unknown part {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    problems = []
    if {"emulator", "fault-free"} & set(evaluation.parts):
        scenario = evaluation.scenario if "emulator" in evaluation.parts else None
        try:
            load_emulator_inputs(scenario, evaluation.topology, p.START)
        except ValueError as exc:
            problems.append(str(exc))
    if evaluation.keep is not None:
        problems += keep_folder_problems(evaluation.keep)
    if "smd" in evaluation.parts:
        present = smd.machines_with_values(evaluation.data_root / "smd")
        missing = [machine for machine in evaluation.smd_machines if machine not in present]
        if missing:
            problems.append(f"SMD machine {', '.join(missing)} not found in {evaluation.data_root / 'smd'} (present: {', '.join(present) or 'none'})")
    if "nab" in evaluation.parts:
        root = nab_root(evaluation.data_root)
        missing = [name for name in evaluation.nab_series if not (root / "data" / f"{series_name(name)}.csv").is_file()]
        if missing:
            problems.append(f"NAB series {', '.join(missing)} not found in {root / 'data'}")
    if problems:
        raise EvaluationInputError("; ".join(problems))


def keep_folder_problems(keep: Path) -> list[str]:
    """Return why ``keep`` cannot be used or created as a folder: it, or the nearest existing folder above it, is not a folder."""
    if keep.exists():
        return [] if keep.is_dir() else [f"--keep {keep} exists and is not a folder; name a folder, new or existing"]
    existing = next((parent for parent in keep.parents if parent.exists()), None)
    if existing is not None and not existing.is_dir():
        return [f"--keep {keep} cannot be created because {existing} is not a folder"]
    return []


def emulator_samples(evaluation: PipelineEvaluation) -> int:
    """Return the samples of the emulator part: ``evaluation.samples``, or the scenario's length with its grace."""
    if evaluation.samples is not None:
        return evaluation.samples
    scenario = load_scenario(evaluation.scenario)
    return scenario_samples(scenario, p.START, evaluation.grace_seconds)


def run_part(part: str, worker: WorkerHandle, evaluation: PipelineEvaluation, work_dir: Path) -> p.PartResult:
    """Publish one part's input to a running worker and score what it published."""
    e = evaluation
    if part == "emulator":
        return p.evaluate_emulator(
            worker, e.scenario, e.topology, emulator_samples(e), work_dir, e.timeout_seconds, e.quiet_seconds, e.seed, e.grace_seconds, e.speed
        )
    if part == "fault-free":
        return p.evaluate_fault_free(worker, e.topology, e.fault_free_samples, work_dir, e.timeout_seconds, e.quiet_seconds, e.seed, e.speed)
    if part == "smd":
        return p.evaluate_smd(worker, e.smd_machines, e.smd_rows, e.timeout_seconds, e.quiet_seconds, e.data_root)
    if part == "nab":
        return p.evaluate_nab(worker, e.nab_series, e.timeout_seconds, e.quiet_seconds, e.data_root)
    raise EvaluationInputError(f"unknown part {part}; choose from {', '.join(PARTS)}")


def targets_of(result: p.PartResult) -> list[TargetCheck]:
    """Return the targets that a part's result is checked against (none for SMD and NAB)."""
    if isinstance(result, p.EmulatorResult):
        return emulator_targets(result.kinds)
    if isinstance(result, p.FaultFreeResult):
        return fault_free_targets(result.anomalies)
    return []


def unmet_targets(runs: Sequence[PartRun]) -> list[str]:
    """Return ``part: target`` for each target that a run did NOT meet. A target that is "not measured" is not counted."""
    return [f"{run.part}: {check.name}" for run in runs for check in run.targets if check.status == "NOT met"]


def run_pipeline_evaluation(
    settings: Settings, evaluation: PipelineEvaluation, on_part: Callable[[PartRun], None] | None = None
) -> list[PartRun]:
    """Check the inputs and services, then run each chosen part with a worker of its own.

    ``on_part`` is called as each part ends, so that its table can be printed at once.
    Worker logs, ground truth and anomalies go to ``evaluation.keep``, or to a temporary
    folder removed at the end.

    Raises:
        EvaluationInputError: an input file is missing or invalid, or the ``keep`` folder cannot be created.
        ServiceUnavailableError: Kafka or InfluxDB does not respond.
        WorkerExitedError, CatchUpTimeoutError: a worker failed or fell behind.
    """
    check_inputs(evaluation)
    check_services(settings.kafka, settings.influxdb)
    runs = []
    with tempfile.TemporaryDirectory(prefix="qianliyan-eval-") as temporary:
        work_dir = evaluation.keep or Path(temporary)
        try:
            work_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EvaluationInputError(f"cannot create the folder {work_dir}: {exc.strerror}") from exc
        for part in evaluation.parts:
            print(f"{part}: starting a worker (files in {work_dir})", file=sys.stderr, flush=True)
            started = time.perf_counter()
            with running_worker(settings, part, work_dir) as worker:
                result = run_part(part, worker, evaluation, work_dir)
            run = PartRun(part, time.perf_counter() - started, result, targets_of(result))
            runs.append(run)
            if on_part is not None:
                on_part(run)
    return runs
