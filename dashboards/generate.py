"""Write the JSON of every board to ``dashboards/json/<uid>.json``, or check that it is current.

Usage: ``python -m dashboards.generate`` writes the files; ``python -m dashboards.generate
--check`` writes nothing and exits with status 1 when a file differs from its definition.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards.boards import build_all

logger = logging.getLogger(__name__)

JSON_DIR = Path(__file__).resolve().parent / "json"


def to_dict(board: Dashboard) -> dict[str, Any]:
    """Return a board as plain JSON-ready data."""
    data: dict[str, Any] = json.loads(json.dumps(board, cls=JSONEncoder))
    return data


def render(board: Dashboard) -> str:
    """Return a board's JSON text: sorted keys, two-space indent, a final newline."""
    return json.dumps(to_dict(board), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def rendered_boards() -> dict[str, str]:
    """Build every board and return its JSON text by file name ``<uid>.json``.

    Raises:
        ValueError: a board has no uid, or two boards share one.
    """
    files: dict[str, str] = {}
    for board in build_all():
        if not board.uid:
            raise ValueError(f"board {board.title!r} has no uid; set one in its definition")
        name = f"{board.uid}.json"
        if name in files:
            raise ValueError(f"two boards have the uid {board.uid!r}; uids must be unique")
        files[name] = render(board)
    return files


def write(directory: Path = JSON_DIR) -> list[Path]:
    """Write every board's JSON into ``directory``; return the paths whose content changed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in rendered_boards().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def stale(directory: Path = JSON_DIR) -> list[str]:
    """Return the names of files in ``directory`` that are missing, differ from the definitions, or belong to no board."""
    expected = rendered_boards()
    problems = [name for name, text in expected.items() if not (directory / name).exists() or (directory / name).read_text(encoding="utf-8") != text]
    problems.extend(path.name for path in sorted(directory.glob("*.json")) if path.name not in expected)
    return sorted(problems)


def main(argv: list[str] | None = None) -> int:
    """Run the generator from the command line and return the exit status."""
    parser = argparse.ArgumentParser(description="Generate the Grafana board JSON from the definitions in dashboards/boards.")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a JSON file is out of date")
    parser.add_argument("--out", type=Path, default=JSON_DIR, help="directory of the JSON files (default: dashboards/json)")
    arguments = parser.parse_args(argv)

    if arguments.check:
        problems = stale(arguments.out)
        for name in problems:
            print(f"out of date: {arguments.out / name}; run 'python -m dashboards.generate'", file=sys.stderr)
        return 1 if problems else 0
    for path in write(arguments.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
