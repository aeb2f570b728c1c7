"""Run a replay with a rich progress bar on standard error."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from emulators.cluster import Record
from emulators.replay.run import ReplayResult, ReplaySource, publish_replay
from pipeline import topics
from pipeline.settings import KafkaSettings


def replay_with_progress(settings: KafkaSettings, source: ReplaySource, *, speed: float, limit: int | None) -> ReplayResult:
    """Publish ``source`` with :func:`publish_replay`, showing messages done out of expected."""
    total = source.expected_messages if source.expected_messages is not None else limit
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    with progress:
        task = progress.add_task(source.description, total=total)

        def advance(record: Record) -> None:
            if record.topic != topics.FAULTS_TRUTH:
                progress.advance(task)

        return publish_replay(settings, source, speed=speed, limit=limit, on_record=advance)
