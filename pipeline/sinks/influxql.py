"""Run InfluxQL queries through the /query endpoint.

InfluxQL reads the same data on InfluxDB 1.8, on 2.x through a DBRP mapping and on 3.x,
which is why the demo, the tests and the Grafana boards use it instead of Flux.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from pipeline.errors import QianliyanError, ServiceUnavailableError
from pipeline.settings import InfluxDBSettings


class InfluxQLError(QianliyanError):
    """InfluxDB returned an error for a query."""


def database_of(settings: InfluxDBSettings) -> str:
    """Return the InfluxQL database of the configured bucket (the part before '/')."""
    return settings.bucket.split("/", 1)[0]


def query(settings: InfluxDBSettings, statement: str, *, method: str = "GET") -> list[dict[str, Any]]:
    """Run one InfluxQL statement and return its series, each with name, tags, columns and values.

    Raises:
        ServiceUnavailableError: InfluxDB could not be reached.
        InfluxQLError: the statement failed.
    """
    params = urllib.parse.urlencode({"db": database_of(settings), "q": statement, "epoch": "ns"})
    url = f"{settings.url.rstrip('/')}/query"
    headers = {"Accept": "application/json"}
    token = settings.token.get_secret_value()
    if token:
        headers["Authorization"] = f"Token {token}"
    if method == "GET":
        request = urllib.request.Request(f"{url}?{params}", headers=headers)
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(url, data=params.encode(), headers=headers, method="POST")

    try:
        with urllib.request.urlopen(request, timeout=settings.timeout_ms / 1000) as response:
            document = json.load(response)
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")[:300]
        raise InfluxQLError(f"InfluxQL query failed with HTTP {exc.code}: {body}; statement: {statement}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise ServiceUnavailableError(f"InfluxDB at {settings.url} did not respond: {exc}") from exc

    series: list[dict[str, Any]] = []
    for result in document.get("results", []):
        if "error" in result:
            raise InfluxQLError(f"InfluxQL error: {result['error']}; statement: {statement}")
        series.extend(result.get("series", []))
    return series


def ensure_database(settings: InfluxDBSettings) -> bool:
    """Create the configured database when InfluxDB does not have it; return whether it was created.

    ``CREATE DATABASE`` is an InfluxDB 1.x statement; on 2.x, create the bucket and its DBRP
    mapping instead.

    Raises:
        ServiceUnavailableError: InfluxDB could not be reached.
        InfluxQLError: the database could not be listed or created.
    """
    name = database_of(settings)
    existing = {row[0] for series in query(settings, "SHOW DATABASES") for row in series.get("values", [])}
    if name in existing:
        return False
    query(settings, f'CREATE DATABASE "{name}"', method="POST")
    return True


def count(settings: InfluxDBSettings, measurement: str, field: str, where: str = "") -> int:
    """Return how many values of ``field`` the measurement contains (0 when it does not exist)."""
    clause = f" WHERE {where}" if where else ""
    series = query(settings, f'SELECT count("{field}") FROM "{measurement}"{clause}')
    if not series:
        return 0
    return int(series[0]["values"][0][1])
