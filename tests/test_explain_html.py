"""`rnn explain --html`: a self-contained page, and what a real headless browser draws from it.

The browser test needs Chromium (Debian: `apt-get install chromium`) and is skipped without it.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import one_blas_thread, rnn

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
RED = (214, 39, 40)  # the backward arrows (#d62728)


def _page(tmp_path: Path, *args: str) -> Path:
    out = tmp_path / "bptt.html"
    with one_blas_thread():
        r = rnn("explain", "-q", "--html", str(out), *args)
    assert r.exit_code == 0, r.output
    assert r.stdout == ""
    return out


def test_page_is_self_contained_and_carries_the_pass(tmp_path):
    text = _page(tmp_path, "--set", "model.num_layers=2", "--set", "data.output=sequence").read_text()
    assert text.startswith("<!DOCTYPE html>")
    for fetch in ("http://", "https://", "<link", " src=", "@import", "url(http"):
        assert fetch not in text, fetch
    nodes = re.findall(r'<g class="node" data-layer="(\d)" data-t="(\d)"', text)
    assert sorted(nodes) == [(str(l), str(t)) for l in range(2) for t in range(3)]
    assert len(re.findall(r'data-output="1"', text)) == 3  # one output per step
    assert len(re.findall(r'<path class="bwd"', text)) == 2 * 2 + 2 * 3  # through W_hh, from above
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', text).group(1))
    assert len(data["forward"]) == 6 and len(data["backward"]) == 6
    assert text.count('class="ok"') == 8  # every tensor's numerical check passed


def test_bidirectional_page_draws_a_row_per_direction(tmp_path):
    text = _page(tmp_path, "--set", "model.bidirectional=true").read_text()
    nodes = re.findall(r'data-layer="0" data-t="(\d)" data-direction="(\w+)"', text)
    assert sorted(nodes) == [(str(t), d) for t in range(3) for d in ("forward", "reverse")]
    assert "running from t = T-1 down to 0" in text


def _browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}"]
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=120, check=False)


def _read_png(path: Path) -> np.ndarray:
    """(height, width, channels) uint8 of an 8-bit non-interlaced RGB/RGBA PNG (what Chromium writes)."""
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], None
    while pos < len(raw):
        (length,) = struct.unpack(">I", raw[pos:pos + 4])
        kind, body = raw[pos + 4:pos + 8], raw[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0
    ch = 3 if colour == 2 else 4
    data = zlib.decompress(b"".join(chunks))
    img = np.zeros((height, width * ch), dtype=np.int32)
    stride = width * ch + 1
    for y in range(height):
        kind = data[y * stride]
        line = np.frombuffer(data, np.uint8, width * ch, y * stride + 1).astype(np.int32)
        prev = img[y - 1] if y else np.zeros(width * ch, np.int32)
        if kind in (0, 2):
            img[y] = (line + (prev if kind == 2 else 0)) % 256
            continue
        row = np.zeros(width * ch, np.int32)
        for i in range(width * ch):  # Sub, Average, Paeth depend on the pixel to the left
            left = row[i - ch] if i >= ch else 0
            up, corner = prev[i], (prev[i - ch] if i >= ch else 0)
            if kind == 1:
                pred = left
            elif kind == 3:
                pred = (left + up) // 2
            else:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            row[i] = (line[i] + pred) % 256
        img[y] = row
    return img.reshape(height, width, ch)[..., :3].astype(np.uint8)


@pytest.mark.slow
def test_headless_chromium_draws_the_network_and_runs_the_script(tmp_path):
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium installed (apt-get install chromium)")
    page = _page(tmp_path)
    shot = tmp_path / "bptt.png"
    r = _chromium(browser, tmp_path / "profile", "--window-size=1000,800", f"--screenshot={shot}",
                  page.as_uri())
    assert shot.is_file(), r.stderr[-2000:]
    img = _read_png(shot)
    assert img.shape[:2] == (800, 1000)
    ink = (img < 200).any(axis=2)
    assert ink.mean() > 0.02  # not blank: text, boxes and arrows cover a few percent of the page
    red = (np.abs(img.astype(int) - RED).sum(axis=2) < 40)
    assert red.sum() > 300  # the backward arrows are drawn
    rows, cols = np.nonzero(red)
    assert cols.max() - cols.min() > 300  # ... across the unrolled steps, not in one spot
    dom = _chromium(browser, tmp_path / "profile", "--dump-dom", page.as_uri()).stdout
    assert dom.count('class="node" data-layer="0"') == 3
    # The script ran: it filled the detail panel for the last step from the embedded data.
    assert re.search(r'<div id="details"><h3>layer 0, step t = 2</h3><table>.*dh from t\+1', dom)
