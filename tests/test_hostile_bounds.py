"""Issue 12 battery, resource bombs: refused up front with one line, before anything big exists.

Every case runs `python -m rnncli` in a subprocess under an address-space limit (RLIMIT_AS,
battery.BOMB_LIMIT) with RNN_MAX_BYTES at 1 GiB, so a regression dies fast with an "out of memory"
(exit 1, failing the test) instead of taking the machine down, and the memory estimate decides
the same way on any machine. Files are a few hundred bytes to a few KiB.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from battery import BOMB_LIMIT, TINY, materialise, weights_with, with_model_meta
from conftest import Tree, assert_error, rnn

BUDGET = {"RNN_MAX_BYTES": str(1 << 30)}


def _alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = [f"a0: &a0 [{', '.join(['1'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "name: x\nbomb:\n" + "\n".join("  " + line for line in lines) + "\n"


def _mapping_bomb(levels: int = 9, width: int = 9) -> str:
    lines = [f"m0: &m0 {{{', '.join(f'k{j}: 1' for j in range(width))}}}"]
    for i in range(1, levels):
        lines.append(f"m{i}: &m{i} {{{', '.join(f'k{j}: *m{i - 1}' for j in range(width))}}}")
    return "model:\n" + "\n".join("  " + line for line in lines) + "\n"


def _merge_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["b0: &b0 {x: 1}"]
    for i in range(1, levels):
        lines.append(f"b{i}: &b{i} [{', '.join([f'{{<<: *b{i - 1}}}'] * width)}]")
    return "train:\n" + "\n".join("  " + line for line in lines) + "\n"


def _declared(data: bytes, size: int) -> bytes:
    """An archive whose every member's directory entries declare `size` uncompressed bytes."""
    buf, pos = bytearray(data), 0
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        pos = buf.find(sig)
        while pos != -1:
            struct.pack_into("<I", buf, pos + offset, size)
            pos = buf.find(sig, pos + 4)
    return bytes(buf)


def _deflated(**arrays) -> bytes:
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)
    return out.getvalue()


def _lying_npy(shape: tuple[int, ...]) -> bytes:
    """An .npy whose header claims `shape` float64 but holds 64 bytes."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return out.getvalue() + bytes(64)


def _stored_npz(**members: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(f"{name}.npy", data)
    return out.getvalue()


_TB = _lying_npy((10**12,))
FILE = ["--set", "model.hidden_size=4", "--set", "train.epochs=1", "-q", "-o", "out"]
DEEP_JSON = '{"x": ' + "[" * 5000 + "]" * 5000 + "}\n"

# name -> (argv, files, needles)
BOMBS = {
    "yaml-alias-bomb": (["train", "-c", "c.yaml", "-o", "out"], {"c.yaml": _alias_bomb()},
                        ("c.yaml:", "expands to more than 10000 values")),
    "yaml-mapping-alias-bomb": (["train", "-c", "c.yaml", "-o", "out"], {"c.yaml": _mapping_bomb()},
                                ("c.yaml:", "expands to more than 10000 values")),
    "yaml-merge-key-bomb": (["config", "show", "-c", "c.yaml"], {"c.yaml": _merge_bomb()},
                            ("c.yaml:", "expands to more than 10000 values")),
    "yaml-deep-nesting": (["train", "-c", "c.yaml", "-o", "out"], {"c.yaml": "a: " + "[" * 3000 + "]" * 3000},
                          ("c.yaml", "nests deeper than 24 levels")),
    "yaml-self-alias": (["config", "show", "-c", "c.yaml"], {"c.yaml": "a: &a [*a, 1]\n"},
                        ("c.yaml:1:4", "refers to the value that contains it")),
    "set-alias-bomb": (["config", "show", "--set",
                        "name=[&a [1,1,1,1,1,1,1,1,1,1], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a], "
                        "&c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b], [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]]"],
                       {}, ("--set name=", "expands to more than 10000 values")),
    "config-file-huge": (["config", "show", "-c", "c.yaml"], {"c.yaml": "# pad\n" * 300_000},
                         ("c.yaml", "too large for a config file")),
    "weights-member-declares-4gb": (["info", "w.npz"],
                                    {"w.npz": lambda w: _declared(_deflated(**_params(w)), 4_000_000_000)},
                                    ("w.npz", "declares 4000000000 bytes", "impossible")),
    "weights-header-claims-terabytes": (["info", "w.npz"],
                                        {"w.npz": lambda w: _stored_npz(**_npy(w), big=_TB)},
                                        ("w.npz", "'big' is truncated or corrupted", "[1000000000000]")),
    "weights-meta-ten-million-layers": (["info", "w.npz"], {"w.npz": with_model_meta(num_layers=10_000_000)},
                                        ("w.npz", "num_layers must be an integer in 1..1024",
                                         "10000000")),
    "weights-meta-huge-hidden": (["predict", "w.npz", "-"], {"w.npz": with_model_meta(hidden_size=10**12)},
                                 ("w.npz", "hidden_size must be an integer in 1..16777216")),
    "weights-meta-nested-json": (["info", "w.npz"],
                                 {"w.npz": lambda w: weights_with(w, meta=lambda t: "[" * 100_000)},
                                 ("w.npz", "'meta'")),
    "data-npy-claims-terabytes": (["predict", "{w}", "d.npy"],
                                  {"d.npy": _lying_npy((10**6, 10**6, 1))},
                                  ("d.npy", "header says", "truncated")),
    "data-npz-header-lies": (["train", "--set", "data.source=d.npz", *FILE],
                             {"d.npz": _stored_npz(X=_lying_npy((10**6, 10**6, 1)), y=_lying_npy((10**6,)))},
                             ("d.npz", "truncated or corrupted")),
    "data-npz-member-declares-4gb": (["train", "--set", "data.source=d.npz", *FILE],
                                     {"d.npz": _declared(_deflated(X=np.zeros((4, 3, 1)), y=np.zeros(4)),
                                                         4_000_000_000)},
                                     ("d.npz", "declares 4000000000 bytes")),
    "train-seq-len-900000": (["train", "--set", "data.seq_len=900000", "-o", "out"], {},
                             ("train (", "900000 steps", "would need about", "data ", "1.0 GiB allowed")),
    "train-hundred-million-samples": (["train", "--set", "data.num_samples=100000000", "-o", "out"], {},
                                      ("train (", "would need about", "data 44.7 GiB")),
    "train-hidden-million": (["train", "--set", "model.hidden_size=1000000", "-o", "out"], {},
                             ("hidden_size 1000000", "would need about", "TiB")),
    "gradcheck-hidden-million": (["gradcheck", "--set", "model.hidden_size=1000000"], {},
                                 ("gradcheck (", "hidden_size 1000000", "would need about")),
    "diagnose-hidden-million": (["diagnose", "--set", "model.hidden_size=1000000"], {},
                                ("diagnose (", "hidden_size 1000000", "would need about")),
    "bench-hidden-million": (["bench", "--hidden", "1000000", "--no-torch"], {},
                             ("bench (", "hidden 1000000", "would need about")),
    "data-seq-len-900000": (["data", "sine", "-T", "900000", "-n", "1000", "-o", "d.jsonl"], {},
                            ("data.source 'sine'", "would need about")),
    "sample-length-1e12": (["sample", "text", "-n", "1000000000000"], {},
                           ("sample --length 1000000000000", "would need about")),
    "predict-json-nested-5000-deep": (["predict", "{w}", "deep.jsonl"], {"deep.jsonl": DEEP_JSON},
                                      ("deep.jsonl", "line 1", "nested too deeply")),
    "train-json-nested-5000-deep": (["train", "--set", "data.source=deep.jsonl", *FILE],
                                    {"deep.jsonl": DEEP_JSON}, ("deep.jsonl", "line 1", "nested too deeply")),
}


def _npy(trained: Path) -> dict[str, bytes]:
    """The trained weights' arrays as .npy bytes, by name."""
    out = {}
    for name, arr in _params(trained).items():
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        out[name] = buf.getvalue()
    return out


def _params(trained: Path) -> dict:
    with np.load(trained / "model.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(BOMBS))
def test_bomb_is_refused_up_front(name, tmp_path, trained, text_model):
    argv, files, needles = BOMBS[name]
    materialise(tmp_path, files, trained)
    before = Tree.of(tmp_path)
    args = [a.replace("{w}", str(trained)) if a != "text" else str(text_model) for a in argv]
    proc = rnn(*args, proc=True, cwd=tmp_path, input=b'{"x": [[1.0]]}\n', env=BUDGET, limit=BOMB_LIMIT,
               timeout=60)
    assert_error(proc, 2, *needles, unchanged=before)
    assert len(proc.stderr) < 1200  # no message ever echoes the expanded value


def test_no_message_serialises_an_unbounded_value(tmp_path):
    """A 100 000-character value in an override is quoted in a few dozen characters."""
    result = rnn("config", "show", "--set", "model.hidden_size=" + "a" * 100_000)
    line = assert_error(result, 2, "--set model.hidden_size=aaa", "model.hidden_size")
    assert len(line) < 300


def test_a_sane_config_with_aliases_still_loads(tmp_path):
    (tmp_path / "c.yaml").write_text("defaults: &d {hidden_size: 8}\nmodel: *d\n")
    result = rnn("config", "show", "-c", str(tmp_path / "c.yaml"))
    assert result.exit_code == 2 and "defaults" in result.stderr  # unknown key, not a bomb
    (tmp_path / "c.yaml").write_text("model: &m {hidden_size: 8}\n")
    result = rnn("config", "show", "-c", str(tmp_path / "c.yaml"), *TINY[:2])
    assert result.exit_code == 0, result.stderr
