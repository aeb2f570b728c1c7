"""dcgm-exporter's Prometheus text as GPU telemetry, from a file or a live scrape URL.

dcgm-exporter writes one series per DCGM field and GPU, named by the field
(``DCGM_FI_DEV_GPU_TEMP``) and labelled with ``gpu``, ``UUID`` and ``Hostname``. The
series of one scrape become one GpuTelemetry message per host. A file may hold several
scrapes in a row: a series that appears a second time starts the next scrape.

DCGM reports a reading it could not take as a blank sentinel, such as
9223372036854775794 (DCGM_INT64_NOT_SUPPORTED); those values, and NaN, become missing.
Series of MIG instances (a non-empty ``GPU_I_ID`` label) and fields the GPU schema does
not carry are skipped and counted.
"""

from __future__ import annotations

import logging
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from emulators.cluster import Record
from emulators.replay.errors import ReplayInputError, ReplayParseError
from emulators.replay.gpu_fields import GPU_FIELDS, gpu_message, gpu_sample
from emulators.replay.messages import build_record
from emulators.replay.prometheus_text import Sample, iter_samples
from emulators.replay.timing import TimeShift
from pipeline import topics
from pipeline.codec import describe_validation_error
from pipeline.schemas import GpuSample, GpuTelemetry

logger = logging.getLogger(__name__)

# DCGM's blank values (dcgm_structs.h): a base per type plus up to 15 reasons
# (+1 not found, +2 not supported, +3 no permission, ...).
DCGM_INT32_BLANK: Final = 0x7FFFFFF0
DCGM_INT64_BLANK: Final = 0x7FFFFFFFFFFFFFF0
DCGM_FP64_BLANK: Final = 140737488355328.0
BLANK_REASONS: Final = 16

DEFAULT_INTERVAL_SECONDS: Final = 30.0
SCRAPE_TIMEOUT_SECONDS: Final = 10.0


def is_blank(value: int | float) -> bool:
    """Return whether ``value`` is one of DCGM's blank sentinels or NaN.

    Each range is checked whatever the literal's type, because the text format does not
    say whether a field is an integer or a double.
    NOTE: a genuine reading among the 16 values from 2147483632 (DCGM_INT32_BLANK) or
    from 2**47 (DCGM_FP64_BLANK) up is taken as blank too.
    """
    if isinstance(value, float) and math.isnan(value):
        return True
    return (
        DCGM_INT32_BLANK <= value < DCGM_INT32_BLANK + BLANK_REASONS
        or DCGM_FP64_BLANK <= value < DCGM_FP64_BLANK + BLANK_REASONS
        or value >= DCGM_INT64_BLANK
    )


class DcgmExporterParser:
    """Turn the sample lines of one or more scrapes into GpuTelemetry records."""

    def __init__(self, source: str, *, node: str | None, rack: str, cluster: str, shift: TimeShift) -> None:
        self.source = source
        self.node = node
        self.rack = rack
        self.cluster = cluster
        self.shift = shift
        self.skipped: Counter[str] = Counter()

    def records(self, lines: Iterable[str], scrape_time: Callable[[int], datetime]) -> Iterator[Record]:
        """Yield the records of every scrape in ``lines``.

        ``scrape_time(index)`` gives the event time of the scrape with that 0-based index
        when its samples carry no timestamp.

        Raises:
            ReplayParseError: a line is malformed, lacks its gpu or host label, or has
                an infinite value or one outside the GPU schema.
        """
        scrape = _Scrape()
        index = 0
        for line, sample in iter_samples(lines, self.source):
            if scrape.repeats(sample):
                yield from self._scrape_records(scrape, scrape_time(index))
                scrape = _Scrape()
                index += 1
            self._add(scrape, sample, line)
        if scrape.series:
            yield from self._scrape_records(scrape, scrape_time(index))

    def log_skipped(self) -> None:
        """Log the skipped series once, with their counts by metric name."""
        if self.skipped:
            logger.info("dcgm-exporter series skipped source=%s counts=%s", self.source, dict(self.skipped))

    def _add(self, scrape: _Scrape, sample: Sample, line: int) -> None:
        scrape.remember(sample)
        if sample.labels.get("GPU_I_ID"):
            self.skipped[f"{sample.name} (MIG instance)"] += 1
            return
        if sample.name not in GPU_FIELDS:
            self.skipped[sample.name] += 1
            return
        if math.isinf(sample.value):
            raise ReplayParseError(self.source, line, f"{sample.name} is {sample.value}; expected a reading or a DCGM blank value")
        gpu_label = sample.labels.get("gpu", "")
        if not gpu_label.isdigit():
            raise ReplayParseError(self.source, line, f"{sample.name} has gpu label {gpu_label!r}; expected the GPU index, such as gpu=\"0\"")
        host = sample.labels.get("Hostname") or self.node
        if not host:
            raise ReplayParseError(self.source, line, f"{sample.name} has no Hostname label; pass --node to name the node")
        scrape.add(host, int(gpu_label), sample, None if is_blank(sample.value) else sample.value, line)

    def _scrape_records(self, scrape: _Scrape, default_time: datetime) -> Iterator[Record]:
        moment = self.shift.apply(scrape.time() or default_time)
        for host in sorted(scrape.gpus):
            samples = []
            for index, values in sorted(scrape.gpus[host].items()):
                sample = gpu_sample(index, scrape.uuids.get((host, index)), values)
                self._validate(sample, scrape, host)
                samples.append(sample)
            message = gpu_message(moment, self.cluster, self.rack, host, samples)
            yield build_record(topics.GPU, host, GpuTelemetry, message, self.source, scrape.lines[(host, samples[0]["gpu"], "")])


    def _validate(self, sample: dict[str, Any], scrape: _Scrape, host: str) -> None:
        """Validate one GPU's sample, naming the line of the first failing series."""
        try:
            GpuSample.model_validate(sample)
        except ValidationError as exc:
            field = str(exc.errors()[0]["loc"][0])
            line = scrape.lines.get((host, sample["gpu"], field), scrape.lines[(host, sample["gpu"], "")])
            raise ReplayParseError(self.source, line, describe_validation_error(exc, "GpuSample")) from exc


class _Scrape:
    """Readings of one scrape by host and GPU, with the line of each GPU's first series."""

    def __init__(self) -> None:
        self.series: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        self.gpus: dict[str, dict[int, dict[str, float | int | None]]] = {}
        self.uuids: dict[tuple[str, int], str] = {}
        # Line of each series by (host, gpu, field); field "" is the GPU's first series.
        self.lines: dict[tuple[str, int, str], int] = {}
        self.timestamp_ms: int | None = None

    @staticmethod
    def _key(sample: Sample) -> tuple[str, tuple[tuple[str, str], ...]]:
        return sample.name, tuple(sorted(sample.labels.items()))

    def repeats(self, sample: Sample) -> bool:
        return self._key(sample) in self.series

    def remember(self, sample: Sample) -> None:
        self.series.add(self._key(sample))
        if self.timestamp_ms is None:
            self.timestamp_ms = sample.timestamp_ms

    def add(self, host: str, gpu: int, sample: Sample, value: float | int | None, line: int) -> None:
        values = self.gpus.setdefault(host, {}).setdefault(gpu, {})
        values.setdefault(sample.name, value)
        self.lines.setdefault((host, gpu, ""), line)
        self.lines.setdefault((host, gpu, sample.name), line)
        if sample.labels.get("UUID"):
            self.uuids.setdefault((host, gpu), sample.labels["UUID"])

    def time(self) -> datetime | None:
        if self.timestamp_ms is None:
            return None
        return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=self.timestamp_ms)


def dcgm_exporter_file_records(
    path: Path,
    *,
    node: str | None = None,
    rack: str = "unknown",
    cluster: str = "default",
    start: datetime | None = None,
    interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
) -> Iterator[Record]:
    """Yield the records of the scrapes saved in a file.

    Scrapes without timestamps are placed ``interval_seconds`` apart from ``start``, or
    from now when ``start`` is None.
    """
    base = start or datetime.now(timezone.utc).replace(microsecond=0)
    parser = DcgmExporterParser(str(path), node=node, rack=rack, cluster=cluster, shift=TimeShift(start))
    with path.open(encoding="utf-8", errors="replace") as lines:
        yield from parser.records(lines, _spaced_times(base, interval_seconds))
    parser.log_skipped()


def dcgm_exporter_scrape_records(
    url: str,
    *,
    scrapes: int | None = None,
    node: str | None = None,
    rack: str = "unknown",
    cluster: str = "default",
    start: datetime | None = None,
    interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Record]:
    """Return the records of scraping a dcgm-exporter URL every ``interval_seconds``.

    The URL is checked at the call, and scraped as the iterator is consumed:
    ``scrapes`` times, or until the consumer stops when it is None. Each scrape
    is stamped with the wall clock when it was taken, shifted to ``start`` if given.

    Raises:
        ReplayInputError: the URL is not http(s), or a scrape fails or times out.
        ReplayParseError: the response is malformed; the message names the URL and line.
    """
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ReplayInputError(f"invalid scrape URL {url!r}; expected http:// or https://, such as http://127.0.0.1:9400/metrics")
    parser = DcgmExporterParser(url, node=node, rack=rack, cluster=cluster, shift=TimeShift(start))
    return _scrapes(url, parser, scrapes, interval_seconds, sleep)


def _scrapes(url: str, parser: DcgmExporterParser, scrapes: int | None, interval_seconds: float, sleep: Callable[[float], None]) -> Iterator[Record]:
    count = 0
    while scrapes is None or count < scrapes:
        if count:
            sleep(interval_seconds)
        taken = datetime.now(timezone.utc)
        lines = _fetch(url).splitlines()
        yield from parser.records(lines, _spaced_times(taken, interval_seconds))
        count += 1
    parser.log_skipped()


def _spaced_times(base: datetime, interval_seconds: float) -> Callable[[int], datetime]:
    """Return the function that maps a scrape index to ``base`` plus that many intervals."""
    return lambda index: base + timedelta(seconds=index * interval_seconds)


def _fetch(url: str) -> str:
    request = urllib.request.Request(url, headers={"Accept": "text/plain"})
    try:
        with urllib.request.urlopen(request, timeout=SCRAPE_TIMEOUT_SECONDS) as response:
            body: Any = response.read()
    except urllib.error.HTTPError as exc:
        raise ReplayInputError(f"scrape of {url} failed with HTTP {exc.code} {exc.reason}; check the URL path, usually /metrics") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ReplayInputError(f"scrape of {url} failed: {reason}; check that dcgm-exporter runs and listens there") from exc
    return bytes(body).decode("utf-8", errors="replace")
