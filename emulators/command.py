"""``qianliyan emulate``: publish an emulated cluster's telemetry to Kafka."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from pipeline.cli_common import BootstrapOption, PrefixOption, load_settings, parse_start, setup_logging


def emulate(
    racks: Annotated[int, typer.Option(min=1, help="Number of racks.")] = 2,
    nodes_per_rack: Annotated[int, typer.Option(min=1, help="Nodes in each rack.")] = 4,
    gpus_per_node: Annotated[int, typer.Option(min=1, max=64, help="GPUs in each node.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of every random draw; the same seed gives the same stream.")] = 0,
    samples: Annotated[Optional[int], typer.Option(min=1, help="Samples to publish, then stop. Default: until Ctrl-C.")] = None,
    interval: Annotated[float, typer.Option(min=0.01, help="Seconds between samples, in event time.")] = 1.0,
    start: Annotated[
        Optional[str],
        typer.Option(help="Simulated clock: first event time (ISO 8601, or 'now'); samples are published as fast as Kafka takes them. Default: wall clock."),
    ] = None,
    cluster: Annotated[str, typer.Option(help="Cluster name in every message.")] = "default",
    bootstrap_servers: BootstrapOption = None,
    topic_prefix: PrefixOption = None,
) -> None:
    """Publish telemetry of an emulated GPU cluster to Kafka."""
    from emulators.run import run_emulation
    from emulators.topology import Topology

    settings = load_settings(bootstrap_servers, topic_prefix)
    setup_logging(settings.log_level)
    topology = Topology(cluster=cluster, racks=racks, nodes_per_rack=nodes_per_rack, gpus_per_node=gpus_per_node)
    result = run_emulation(settings.kafka, topology, seed=seed, samples=samples, interval_seconds=interval, start=parse_start(start))
    typer.echo(f"published {result.records} messages in {result.samples} samples ({result.wall_seconds:.1f} s)")
