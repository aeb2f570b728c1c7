"""Topics between the pipeline and the emulated job, re-exported for the emulator's modules.

The controller reads ``ActionRequest`` and writes ``ActionResult`` of
:mod:`pipeline.policy.models`; the job publishes ``JobGoodput`` of :mod:`pipeline.schemas`.
"""

from pipeline.schemas import JobGoodput, JobState
from pipeline.topics import ACTION_RESULTS, ACTIONS, JOB_GOODPUT

__all__ = ["ACTIONS", "ACTION_RESULTS", "JOB_GOODPUT", "JobGoodput", "JobState"]
