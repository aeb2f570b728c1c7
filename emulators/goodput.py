"""Time accounting of a training job: productive time and each kind of loss (badput)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

LossKind = Literal["detection", "isolation", "restart", "replayed", "checkpoint", "slow_step", "paused"]
LOSS_KINDS: Final[tuple[LossKind, ...]] = ("detection", "isolation", "restart", "replayed", "checkpoint", "slow_step", "paused")


@dataclass
class GoodputLedger:
    """Seconds of one job, each counted once: productive or one kind of loss.

    Work done after the last checkpoint is held apart, because a crash throws it away:
    :meth:`roll_back` moves it from productive and slow-step time to replayed time.
    """

    productive_seconds: float = 0.0
    losses: dict[LossKind, float] = field(default_factory=lambda: dict.fromkeys(LOSS_KINDS, 0.0))
    uncommitted_productive_seconds: float = 0.0
    uncommitted_slow_seconds: float = 0.0
    interruptions: int = 0

    def add_step(self, productive_seconds: float, slow_seconds: float) -> None:
        """Count one finished step: its healthy duration as productive, the rest as slow."""
        self.productive_seconds += productive_seconds
        self.losses["slow_step"] += slow_seconds
        self.uncommitted_productive_seconds += productive_seconds
        self.uncommitted_slow_seconds += slow_seconds

    def add_loss(self, kind: LossKind, seconds: float) -> None:
        """Count ``seconds`` of loss of one kind."""
        if seconds < 0:
            raise ValueError(f"loss of kind {kind!r} must not be negative, got {seconds} s")
        self.losses[kind] += seconds

    def commit(self) -> None:
        """Mark the work so far as saved by a checkpoint."""
        self.uncommitted_productive_seconds = 0.0
        self.uncommitted_slow_seconds = 0.0

    def roll_back(self, partial_step_seconds: float) -> float:
        """Move the work since the last checkpoint, plus an unfinished step, to replayed time.

        Returns:
            The seconds moved to replayed time.
        """
        self.productive_seconds -= self.uncommitted_productive_seconds
        self.losses["slow_step"] -= self.uncommitted_slow_seconds
        moved = self.uncommitted_productive_seconds + self.uncommitted_slow_seconds + partial_step_seconds
        self.losses["replayed"] += moved
        self.commit()
        return moved

    @property
    def elapsed_seconds(self) -> float:
        """All seconds counted so far."""
        return self.productive_seconds + sum(self.losses.values())

    @property
    def ettr(self) -> float:
        """Effective training time ratio: productive seconds over elapsed seconds, 1.0 before any time."""
        elapsed = self.elapsed_seconds
        return self.productive_seconds / elapsed if elapsed > 0 else 1.0
