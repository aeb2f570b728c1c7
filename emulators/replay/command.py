"""``qianliyan replay``: publish recorded data and its labels to Kafka."""

from __future__ import annotations

from typing import Annotated, Optional, cast

import typer

from emulators.replay.sources import SourceKind
from pipeline.cli_common import BootstrapOption, PrefixOption, load_settings, parse_start, setup_logging


def replay(
    source: Annotated[SourceKind, typer.Argument(help="Format of the recorded data.", case_sensitive=False)],
    location: Annotated[
        str,
        typer.Argument(
            help="SMD or NAB data set folder; for the other formats a file; for dcgm-exporter also an http(s) scrape URL.",
            show_default=False,
        ),
    ],
    machine: Annotated[Optional[str], typer.Option(help="SMD machine, such as machine-1-6.")] = None,
    split: Annotated[str, typer.Option(help="SMD rows: test (labelled), train, or all (train, then test).")] = "test",
    series: Annotated[Optional[str], typer.Option(help="NAB series, such as realKnownCause/machine_temperature_system_failure.")] = None,
    node: Annotated[
        Optional[str],
        typer.Option(help="Node name where the input names no host (nvidia-smi XML default: the file name)."),
    ] = None,
    rack: Annotated[str, typer.Option(help="Rack of the GPU sources' nodes.")] = "unknown",
    cluster: Annotated[str, typer.Option(help="Cluster name in every message.")] = "default",
    pci_map: Annotated[
        Optional[str],
        typer.Option(help="GPU index by PCI address for kernel logs, such as 0000:3b:00=0,0000:5e:00=1."),
    ] = None,
    start: Annotated[
        Optional[str],
        typer.Option(
            help="Event time of the first message (ISO 8601 or 'now'); recorded times shift with it. "
            "SMD default: 2026-01-01T00:00:00Z. Plain dmesg: the boot time."
        ),
    ] = None,
    speed: Annotated[float, typer.Option(min=0, help="0: as fast as Kafka takes it; N: N times real time.")] = 0.0,
    limit: Annotated[
        Optional[int],
        typer.Option(min=1, help="Stop after N messages (rows, or scrapes of a URL). Default: all; a URL is scraped until Ctrl-C."),
    ] = None,
    interval: Annotated[
        float,
        typer.Option(min=0.001, help="dcgm-exporter: seconds between scrapes of a URL, and between saved scrapes without timestamps."),
    ] = 30.0,
    precision: Annotated[str, typer.Option(help="Telegraf timestamp unit: ns, us, ms or s.")] = "ns",
    no_labels: Annotated[bool, typer.Option("--no-labels", help="Publish no fault labels (SMD, NAB).")] = False,
    bootstrap_servers: BootstrapOption = None,
    topic_prefix: PrefixOption = None,
) -> None:
    """Publish recorded data (SMD, NAB, nvidia-smi, dcgm-exporter, kernel-log Xids) and its labels to Kafka."""
    from emulators.replay.pci import parse_pci_map
    from emulators.replay.progress import replay_with_progress
    from emulators.replay.smd import SPLITS
    from emulators.replay.sources import ReplayOptions, open_source
    from emulators.replay.telegraf import NANOSECONDS_PER_UNIT, Precision

    if split not in SPLITS:
        raise typer.BadParameter(f"invalid split {split!r}; expected one of {', '.join(SPLITS)}", param_hint="--split")
    if precision not in NANOSECONDS_PER_UNIT:
        raise typer.BadParameter(f"invalid precision {precision!r}; expected one of {', '.join(NANOSECONDS_PER_UNIT)}", param_hint="--precision")
    settings = load_settings(bootstrap_servers, topic_prefix)
    setup_logging(settings.log_level)
    options = ReplayOptions(
        machine=machine,
        split=split,
        series=series,
        node=node,
        rack=rack,
        cluster=cluster,
        start=parse_start(start),
        interval_seconds=interval,
        precision=cast(Precision, precision),
        gpu_by_pci=parse_pci_map(pci_map) if pci_map else None,
        labels=not no_labels,
        limit=limit,
    )
    replay_source = open_source(source, location, options)
    result = replay_with_progress(settings.kafka, replay_source, speed=speed, limit=limit)

    status = "interrupted after" if result.interrupted else "published"
    typer.echo(f"{replay_source.description}: {status} {result.messages} messages in {result.wall_seconds:.1f} s")
    for topic, count in sorted(result.counts.items()):
        typer.echo(f"  {settings.kafka.topic(topic)}\t{count}")
