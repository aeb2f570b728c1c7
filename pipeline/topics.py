"""Kafka topic names, without the configurable prefix.

The key of each message is the entity that orders it: a node, a rack or a job.
"""

from typing import Final

GPU: Final = "telemetry.gpu"
COOLING: Final = "telemetry.cooling"
DPU: Final = "telemetry.dpu"
POWER: Final = "telemetry.power"
HARDWARE_EVENTS: Final = "hardware.events"
JOB_PROGRESS: Final = "job.progress"
GENERIC: Final = "telemetry.generic"
JOB_GOODPUT: Final = "job.goodput"
FAULTS_TRUTH: Final = "faults.truth"
DEADLETTER: Final = "deadletter"
ANOMALIES: Final = "anomalies"
INCIDENTS: Final = "incidents"
ACTIONS: Final = "actions"
ACTION_RESULTS: Final = "actions.results"

INPUT_TOPICS: Final = (GPU, COOLING, DPU, POWER, HARDWARE_EVENTS, JOB_PROGRESS, JOB_GOODPUT, GENERIC)
