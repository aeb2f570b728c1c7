"""Tests of the JSON generator and of the committed JSON files."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards.generate import JSON_DIR, main, rendered_boards, stale, write


def test_committed_json_up_to_date() -> None:
    # Run 'python -m dashboards.generate' after changing a board definition.
    assert stale(JSON_DIR) == []


def test_write_creates_every_board(tmp_path: Path) -> None:
    written = write(tmp_path)
    assert sorted(path.name for path in written) == sorted(rendered_boards())


def test_write_skips_unchanged(tmp_path: Path) -> None:
    write(tmp_path)
    assert write(tmp_path) == []


def test_stale_finds_changed_and_extra(tmp_path: Path) -> None:
    write(tmp_path)
    (tmp_path / "qianliyan-cluster.json").write_text("{}\n")
    (tmp_path / "old-board.json").write_text("{}\n")
    (tmp_path / "qianliyan-pipeline.json").unlink()
    assert stale(tmp_path) == ["old-board.json", "qianliyan-cluster.json", "qianliyan-pipeline.json"]


def test_main_check_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "qianliyan-cluster.json").write_text("{}\n")
    assert main(["--check", "--out", str(tmp_path)]) == 1
    assert "out of date" in capsys.readouterr().err


def test_rendered_is_deterministic() -> None:
    assert rendered_boards() == rendered_boards()
