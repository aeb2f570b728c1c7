"""Facility conditions that drift slowly: the coolant supply temperature over a day."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Final

COOLANT_SUPPLY_CELSIUS: Final = 32.0
# Half the daily swing of the facility water temperature (estimate). With the GPU
# model's clock drop per degree it moves throughput by about 1 % peak to peak.
DIURNAL_AMPLITUDE_CELSIUS: Final = 3.0
# Hour of the day (UTC) at which the facility water is warmest.
WARMEST_HOUR_UTC: Final = 15.0


def supply_celsius(moment: datetime) -> float:
    """Return the facility coolant supply temperature at ``moment``: a daily sine around 32 C."""
    hours = moment.hour + moment.minute / 60 + moment.second / 3600
    return COOLANT_SUPPLY_CELSIUS + DIURNAL_AMPLITUDE_CELSIUS * math.cos(2 * math.pi * (hours - WARMEST_HOUR_UTC) / 24)
