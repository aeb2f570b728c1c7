"""Topics between the pipeline and the emulated job, and the job's goodput message.

The controller reads ``ActionRequest`` and writes ``ActionResult`` of
:mod:`pipeline.policy.models`.

TODO: move ``JobGoodput`` into pipeline/schemas.py and the topic names into
pipeline/topics.py, so that the worker can validate and store them.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field

from pipeline.schemas import EntityId, Envelope, Ratio

ACTIONS: Final = "actions"
ACTION_RESULTS: Final = "actions.results"
JOB_GOODPUT: Final = "job.goodput"

JobState = Literal["running", "checkpointing", "hung", "down", "isolating", "restarting", "paused"]
Seconds = Annotated[float, Field(ge=0)]


class JobGoodput(Envelope):
    """Cumulative time accounting of one training job, keyed by job on ``job.goodput``.

    Every second since the job started is in exactly one ``*_seconds`` field, so they sum
    to ``elapsed_seconds``; ``ettr`` is ``productive_seconds / elapsed_seconds``.
    """

    job: EntityId
    state: JobState
    step: int = Field(ge=0)
    checkpoint_step: int = Field(ge=0)
    nodes: int = Field(ge=0, description="Nodes in the job now.")
    interruptions: int = Field(ge=0, description="Crashes and hangs so far.")
    ettr: Ratio
    elapsed_seconds: Seconds
    productive_seconds: Seconds
    detection_seconds: Seconds
    isolation_seconds: Seconds
    restart_seconds: Seconds
    replayed_seconds: Seconds
    checkpoint_seconds: Seconds
    slow_step_seconds: Seconds
    paused_seconds: Seconds
