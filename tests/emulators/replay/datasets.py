"""Paths of the real data sets and hand-written fixtures, and a check shared by the tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import orjson

from emulators.cluster import Record
from pipeline import codec, topics
from pipeline.schemas import FaultTruth

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DATA_DIR = PROJECT_ROOT / ".." / "shared" / "data"
SMD_DIR = DATA_DIR / "smd"
NAB_DIR = DATA_DIR / "nab"
NVIDIA_SMI_XML_DIR = DATA_DIR / "telegraf-nvidia-smi" / "plugins" / "inputs" / "nvidia_smi" / "testdata"
TESTDATA = Path(__file__).resolve().parent / "testdata"


def decode_records(records: Iterable[Record]) -> Counter[str]:
    """Decode every record as the worker would and return the count per topic.

    Raises:
        InvalidMessageError: a record fails its schema.
    """
    counts: Counter[str] = Counter()
    for record in records:
        raw = orjson.dumps(record.value)
        if record.topic == topics.FAULTS_TRUTH:
            FaultTruth.model_validate_json(raw)
        else:
            codec.decode(record.topic, raw, 256 * 1024)
        counts[record.topic] += 1
    return counts
