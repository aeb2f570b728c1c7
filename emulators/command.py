"""``qianliyan emulate``: publish an emulated cluster's telemetry to Kafka."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from pipeline.cli_common import BootstrapOption, PrefixOption, load_settings, parse_start, setup_logging


def emulate(
    racks: Annotated[int, typer.Option(min=1, help="Number of racks.")] = 2,
    nodes_per_rack: Annotated[int, typer.Option(min=1, help="Nodes in each rack.")] = 4,
    gpus_per_node: Annotated[int, typer.Option(min=1, max=64, help="GPUs in each node.")] = 8,
    spare_nodes: Annotated[int, typer.Option(min=0, help="Hot-spare nodes, taken from the end of the node list.")] = 1,
    topology_file: Annotated[
        Optional[Path],
        typer.Option("--topology", exists=True, dir_okay=False, help="Topology YAML file; replaces --racks, --nodes-per-rack, --gpus-per-node and --spare-nodes."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of every random draw; the same seed gives the same stream.")] = 0,
    samples: Annotated[Optional[int], typer.Option(min=1, help="Samples to publish, then stop. Default: until Ctrl-C.")] = None,
    interval: Annotated[float, typer.Option(min=0.01, help="Seconds between samples, in event time.")] = 1.0,
    start: Annotated[
        Optional[str],
        typer.Option(help="Simulated clock: first event time (ISO 8601, or 'now'); samples are published as fast as Kafka takes them. Default: wall clock."),
    ] = None,
    speed: Annotated[
        Optional[float],
        typer.Option(min=0.01, help="With --start: run the simulated clock this many times faster than real time instead of as fast as possible, so that --controller sees the pipeline's actions in time."),
    ] = None,
    cluster: Annotated[str, typer.Option(help="Cluster name in every message.")] = "default",
    scenario_file: Annotated[
        Optional[Path],
        typer.Option("--scenario", exists=True, dir_okay=False, help="Scenario YAML file: faults to inject, and optionally random faults."),
    ] = None,
    random_faults: Annotated[bool, typer.Option("--random-faults", help="Inject random faults at the default published rates.")] = False,
    fault_rate_multiplier: Annotated[float, typer.Option(min=0, help="Multiply every random fault rate, to see faults in a short run.")] = 1.0,
    truth_file: Annotated[Optional[Path], typer.Option(dir_okay=False, help="Append the faults' ground truth to this JSONL file.")] = None,
    controller: Annotated[bool, typer.Option("--controller", help="Apply actions from the 'actions' topic and publish their results.")] = False,
    csv_file: Annotated[
        Optional[Path],
        typer.Option("--csv", dir_okay=False, help="Write one row per GPU per sample to this CSV file instead of publishing to Kafka: healthy training data for 'qianliyan train'. Needs --samples; no faults."),
    ] = None,
    csv_fields: Annotated[
        Optional[list[str]], typer.Option("--csv-field", help="With --csv: DCGM field to write; repeat for several. Default: the GPU gauges of emulators/export_csv.py.")
    ] = None,
    bootstrap_servers: BootstrapOption = None,
    topic_prefix: PrefixOption = None,
) -> None:
    """Publish telemetry of an emulated GPU cluster, with injected faults, to Kafka."""
    from emulators.faults.random_process import RandomFaultConfig
    from emulators.faults.scenario import load_scenario
    from emulators.run import run_emulation
    from emulators.topology import Topology, load_topology

    settings = load_settings(bootstrap_servers, topic_prefix)
    setup_logging(settings.log_level)
    try:
        if topology_file is not None:
            topology = load_topology(topology_file)
        else:
            topology = Topology(cluster=cluster, racks=racks, nodes_per_rack=nodes_per_rack, gpus_per_node=gpus_per_node, spare_nodes=spare_nodes)
        scenario = load_scenario(scenario_file) if scenario_file is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    randomness = RandomFaultConfig(rate_multiplier=fault_rate_multiplier) if random_faults else None

    if csv_file is not None:
        _export_csv(csv_file, csv_fields, topology, seed=seed, samples=samples, interval=interval, start=start,
                    faults=scenario is not None or random_faults, live=controller or speed is not None)
        return
    if speed is not None and start is None:
        raise typer.BadParameter("--speed needs --start: the wall clock always runs at real time", param_hint="--speed")
    result = run_emulation(
        settings.kafka, topology, seed=seed, samples=samples, interval_seconds=interval, start=parse_start(start),
        scenario=scenario, random_faults=randomness, truth_path=truth_file, controller=controller, speed=speed,
    )
    typer.echo(f"published {result.records} messages in {result.samples} samples ({result.wall_seconds:.1f} s)")
    typer.echo(f"faults started: {result.faults_started}" + (f", ground truth in {truth_file}" if truth_file else ""))
    if controller:
        typer.echo(f"actions applied: {result.actions_applied}")
    if result.goodput:
        typer.echo(format_goodput(result.goodput))


def _export_csv(
    path: Path, fields: list[str] | None, topology: Any, *, seed: int, samples: int | None, interval: float, start: str | None, faults: bool, live: bool
) -> None:
    """Run ``emulate --csv``: a fault-free run written to a CSV file, as fast as it computes."""
    from datetime import datetime, timezone

    from emulators.clock import simulated_ticks
    from emulators.export_csv import DEFAULT_CSV_FIELDS, export_gpu_rows
    from emulators.run import build_emulator

    if samples is None:
        raise typer.BadParameter("--csv needs --samples: the number of samples to write", param_hint="--samples")
    if faults:
        raise typer.BadParameter("--csv writes healthy training data; drop --scenario and --random-faults", param_hint="--csv")
    if live:
        raise typer.BadParameter("--csv publishes nothing, so --controller and --speed do not apply", param_hint="--csv")
    first = parse_start(start) or datetime.now(timezone.utc).replace(microsecond=0)
    try:
        result = export_gpu_rows(build_emulator(topology, seed=seed), simulated_ticks(first, interval, samples), path, fields or DEFAULT_CSV_FIELDS)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--csv-field") from exc
    typer.echo(f"wrote {result.rows} GPU rows of {result.samples} samples to {result.path}")


def format_goodput(goodput: dict[str, Any]) -> str:
    """Return a job's ETTR and badput breakdown as a few lines of text."""
    lines = [
        f"job {goodput['job']}: ETTR {goodput['ettr']:.2%} over {goodput['elapsed_seconds']:.0f} s, "
        f"{goodput['interruptions']} interruption(s), state {goodput['state']}, step {goodput['step']}",
    ]
    for name, value in goodput.items():
        if name.endswith("_seconds") and name not in ("elapsed_seconds", "productive_seconds"):
            lines.append(f"  {name.removesuffix('_seconds'):<12} {value:10.1f} s")
    return "\n".join(lines)
