"""Render an incident report in headless Chromium and check that the screenshot is not blank.

Needs the Debian packages chromium and chromium-driver. The test skips without them,
unless QIANLIYAN_REQUIRE_SERVICES=1 is set, which makes it fail.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from pipeline.report.render import render_report
from tests.report.conftest import make_report_data

pytestmark = pytest.mark.integration

WINDOW_WIDTH = 1280
WINDOW_HEIGHT = 2000
MIN_DISTINCT_COLOURS = 100
MIN_INK_FRACTION = 0.02
"""Fraction of pixels that differ from the white background. A blank page has 0, the hand-made report about 0.18."""


def chromium_path() -> str:
    """Return the Chromium binary, or skip (fail under QIANLIYAN_REQUIRE_SERVICES=1) when it is missing."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    reason = "chromium is not installed; run 'apt-get install -y chromium chromium-driver'"
    if os.environ.get("QIANLIYAN_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and QIANLIYAN_REQUIRE_SERVICES=1 forbids skipping")
    pytest.skip(reason)


def screenshot(chromium: str, page: Path, png: Path, profile: Path) -> None:
    """Load ``page`` in headless Chromium without network services and save a screenshot to ``png``."""
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
        f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={WINDOW_WIDTH},{WINDOW_HEIGHT}",
        page.as_uri(),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]


def decode_png(data: bytes) -> np.ndarray:
    """Return the pixels of an 8-bit RGB or RGBA PNG as an array of shape (height, width, channels)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    position, compressed = 8, b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind = data[position + 4:position + 8]
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            compressed += body
        position += 12 + length
    assert depth == 8, f"unsupported PNG bit depth {depth}"
    assert colour_type in (2, 6), f"unsupported PNG colour type {colour_type}"

    channels = 3 if colour_type == 2 else 4
    stride = width * channels
    raw = zlib.decompress(compressed)
    pixels = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.uint8)
    for row in range(height):
        start = row * (stride + 1)
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=start + 1)
        previous = pixels[row] = unfilter(raw[start], line, previous, channels)
    return pixels.reshape(height, width, channels)


def unfilter(kind: int, line: np.ndarray, previous: np.ndarray, channels: int) -> np.ndarray:
    """Undo the PNG filter ``kind`` (0 to 4) of one scanline, given the decoded previous one."""
    if kind == 0:
        return line
    if kind == 1:
        return (np.cumsum(line.reshape(-1, channels), axis=0, dtype=np.uint64) & 255).astype(np.uint8).reshape(-1)
    if kind == 2:
        return line + previous
    decoded = bytearray(len(line))
    for index, value in enumerate(line.tolist()):
        left = decoded[index - channels] if index >= channels else 0
        up = int(previous[index])
        if kind == 3:
            decoded[index] = (value + (left + up) // 2) & 255
            continue
        upper_left = int(previous[index - channels]) if index >= channels else 0
        estimate = left + up - upper_left
        distances = (abs(estimate - left), abs(estimate - up), abs(estimate - upper_left))
        predictor = (left, up, upper_left)[distances.index(min(distances))]
        decoded[index] = (value + predictor) & 255
    return np.frombuffer(bytes(decoded), dtype=np.uint8)


def test_report_screenshot_not_blank(tmp_path: Path) -> None:
    chromium = chromium_path()
    page = tmp_path / "report.html"
    page.write_text(render_report(make_report_data()), encoding="utf-8")
    png = tmp_path / "report.png"

    screenshot(chromium, page, png, tmp_path / "profile")

    pixels = decode_png(png.read_bytes())[:, :, :3].astype(np.uint32)
    assert pixels.shape[:2] == (WINDOW_HEIGHT, WINDOW_WIDTH)
    packed = (pixels[:, :, 0] << 16) | (pixels[:, :, 1] << 8) | pixels[:, :, 2]
    assert len(np.unique(packed)) > MIN_DISTINCT_COLOURS
    assert float(np.mean(packed != 0xFFFFFF)) > MIN_INK_FRACTION


def test_png_decoder_reads_every_filter() -> None:
    width, channels = 3, 3
    rows = [bytes([10, 20, 30, 40, 50, 60, 70, 80, 90]), bytes([15, 25, 35, 45, 55, 65, 75, 85, 95])]
    expected = np.array([list(row) for row in rows], dtype=np.uint8).reshape(2, width, channels)
    for kind in range(5):
        scanlines = b"".join(bytes([kind]) + filtered(kind, row, rows[index - 1] if index else bytes(9), channels) for index, row in enumerate(rows))
        header = struct.pack(">IIBBBBB", width, 2, 8, 2, 0, 0, 0)
        data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(scanlines)) + chunk(b"IEND", b"")
        assert np.array_equal(decode_png(data), expected), f"filter {kind}"


def filtered(kind: int, row: bytes, previous: bytes, channels: int) -> bytes:
    """Apply PNG filter ``kind`` to one scanline, the inverse of ``unfilter``."""
    out = bytearray()
    for index, value in enumerate(row):
        left = row[index - channels] if index >= channels else 0
        up = previous[index]
        upper_left = previous[index - channels] if index >= channels else 0
        estimate = left + up - upper_left
        distances = (abs(estimate - left), abs(estimate - up), abs(estimate - upper_left))
        predictor = [0, left, up, (left + up) // 2, (left, up, upper_left)[distances.index(min(distances))]][kind]
        out.append((value - predictor) & 255)
    return bytes(out)


def chunk(kind: bytes, body: bytes) -> bytes:
    """Return one PNG chunk with its length and CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
