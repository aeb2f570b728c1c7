"""Ground truth of injected faults: ``FaultTruth`` messages and a JSONL file of them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson

from emulators.faults.base import Fault, FaultKind
from emulators.records import Record, format_time
from emulators.topology import Topology
from pipeline import topics
from pipeline.schemas import SCHEMA_VERSION

logger = logging.getLogger(__name__)


def truth_entity(fault: Fault, kind: FaultKind, topology: Topology, job_name: str) -> str:
    """Return the name of the entity a fault hits: its node, rack, switch, job or cluster."""
    if kind.scope in ("gpu", "node"):
        assert fault.node is not None
        return topology.node_names[fault.node]
    if kind.scope == "rack":
        assert fault.rack is not None
        return topology.rack_names[fault.rack]
    if kind.scope == "switch":
        assert fault.switch is not None
        return topology.switch_names[fault.switch]
    if kind.scope == "job":
        return job_name
    return topology.cluster


def truth_record(
    fault: Fault, kind: FaultKind, topology: Topology, job_name: str, end: datetime | None, job_nodes: Sequence[str] = ()
) -> Record:
    """Return the ``FaultTruth`` message of ``fault``: open when ``end`` is None, closed otherwise.

    A job fault lists ``job_nodes``, the job's nodes when it started, and a switch fault
    the nodes under the switch, so that scoring can match anomalies on those nodes.
    """
    value: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "fault_id": fault.fault_id,
        "kind": kind.name,
        "scope": kind.scope,
        "entity": truth_entity(fault, kind, topology, job_name),
        "start": format_time(fault.start),
        "onset": kind.onset,
        "cluster": topology.cluster,
        "source": "emulator",
    }
    if kind.scope == "gpu":
        value["gpu"] = fault.gpu
    if kind.scope == "job":
        value["nodes"] = list(job_nodes)
    elif kind.scope == "switch":
        assert fault.switch is not None
        value["nodes"] = [topology.node_names[node] for node in topology.nodes_of_switch(fault.switch)]
    if end is not None:
        value["end"] = format_time(end)
    return Record(topics.FAULTS_TRUTH, fault.fault_id, value)


class TruthLog:
    """Append ``FaultTruth`` values to a JSONL file, one per line; a fault's last line has its end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = path.open("ab")
        self.lines = 0

    def write(self, record: Record) -> None:
        """Append one truth record's value as a line and flush it."""
        self._file.write(orjson.dumps(record.value) + b"\n")
        self._file.flush()
        self.lines += 1

    def close(self) -> None:
        """Close the file."""
        self._file.close()
        logger.info("fault truth written path=%s lines=%d", self.path, self.lines)

    def __enter__(self) -> TruthLog:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()
