"""The hot-spare pool of a job: nodes swapped in on failure and returned after repair."""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field


@dataclass
class SparePool:
    """Hot spares of one job, with the failed nodes under repair.

    The job owns ``nodes + hot_spare_nodes`` nodes. A repaired node goes back to the pool,
    except one that a cold spare already replaced: that node returns to the shared cluster.

    Attributes:
        available: spares ready to swap in.
        cold_spare_provision_seconds: time to bring a node from outside when the pool is
            empty; ``None`` waits for the first repair.
    """

    available: int
    cold_spare_provision_seconds: float | None = None
    _repairs_done_at: list[float] = field(default_factory=list)
    _owed_to_cluster: int = 0

    def _collect_repaired(self, time_seconds: float) -> None:
        while self._repairs_done_at and self._repairs_done_at[0] <= time_seconds:
            heapq.heappop(self._repairs_done_at)
            if self._owed_to_cluster:
                self._owed_to_cluster -= 1
            else:
                self.available += 1

    def replace(self, request_seconds: float, repaired_at_seconds: float) -> float:
        """Send a failed node to repair and take a replacement for it.

        Args:
            request_seconds: when the job asks for the replacement.
            repaired_at_seconds: when the failed node will be repaired.

        Returns:
            Seconds the job waits for a node: 0 with a hot spare, else the time until the
            first repair or until a cold spare arrives, whichever is sooner.
        """
        heapq.heappush(self._repairs_done_at, repaired_at_seconds)
        self._collect_repaired(request_seconds)
        if self.available > 0:
            self.available -= 1
            return 0.0

        first_repair = self._repairs_done_at[0]
        cold = self.cold_spare_provision_seconds
        cold_ready = request_seconds + cold if cold is not None else math.inf
        if first_repair <= cold_ready:
            # The repaired node goes straight into the job.
            heapq.heappop(self._repairs_done_at)
            return max(0.0, first_repair - request_seconds)
        self._owed_to_cluster += 1
        return cold_ready - request_seconds
