"""One module per Grafana board, each with a ``build()`` that returns the board model."""

from __future__ import annotations

from collections.abc import Callable

from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards.boards import cluster, hardware, pipeline_performance, stability

BOARD_BUILDERS: tuple[Callable[[], Dashboard], ...] = (
    cluster.build,
    stability.build,
    hardware.build,
    pipeline_performance.build,
)


def build_all() -> list[Dashboard]:
    """Build every board, in a fixed order."""
    return [build() for build in BOARD_BUILDERS]
