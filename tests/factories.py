"""Builders of valid messages for tests, with one place to change a default."""

from __future__ import annotations

import copy
from typing import Any

GPU_MESSAGE: dict[str, Any] = {
    "schema_version": 1,
    "time": "2026-01-01T00:00:00Z",
    "cluster": "test",
    "rack": "r000",
    "node": "r000-n00",
    "gpus": [
        {"gpu": 0, "uuid": "GPU-0", "DCGM_FI_DEV_GPU_TEMP": 61.5, "DCGM_FI_DEV_POWER_USAGE": 650.0, "DCGM_FI_DEV_GPU_UTIL": 97},
        {"gpu": 1, "uuid": "GPU-1", "DCGM_FI_DEV_GPU_TEMP": 60.0, "DCGM_FI_DEV_POWER_USAGE": 640.0, "DCGM_FI_DEV_GPU_UTIL": 96},
    ],
}


def gpu_message(**overrides: Any) -> dict[str, Any]:
    """Return a valid GPU message as a JSON-ready dict, with top-level fields replaced."""
    message = copy.deepcopy(GPU_MESSAGE)
    message.update(overrides)
    return message
