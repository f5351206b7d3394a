"""The .npz weights format: round trip, and every way a file can be wrong."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnncli.errors import WeightsError
from rnncli.weights import (
    FORMAT_VERSION,
    expected_shapes,
    load_weights,
    read_meta,
    save_weights,
)

MODEL = {
    "input_size": 3,
    "hidden_size": 4,
    "output_size": 2,
    "num_layers": 2,
    "nonlinearity": "tanh",
    "output": "last",
}


def make_params(model=MODEL, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return {n: rng.standard_normal(s).astype(dtype) for n, s in expected_shapes(model).items()}


def write_npz(path, arrays, allow_pickle=False):
    """Write an .npz by hand, bypassing save_weights' checks, to forge bad files."""
    with open(path, "wb") as f:
        np.savez(f, allow_pickle=allow_pickle, **arrays)


def good_arrays(meta_overrides=None, model=MODEL):
    meta = {"format": "rnn-weights", "format_version": 1, "model": model}
    meta.update(meta_overrides or {})
    return {**make_params(model), "meta": np.array(json.dumps(meta))}


def load_error(path) -> str:
    with pytest.raises(WeightsError) as e:
        load_weights(path)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_expected_shapes_two_layers():
    assert expected_shapes(MODEL) == {
        "rnn.0.W_xh": (4, 3),
        "rnn.0.W_hh": (4, 4),
        "rnn.0.b_h": (4,),
        "rnn.1.W_xh": (4, 4),
        "rnn.1.W_hh": (4, 4),
        "rnn.1.b_h": (4,),
        "head.W_hy": (2, 4),
        "head.b_y": (2,),
    }


def test_expected_shapes_bidirectional_layout():
    """The README's weights format: reverse twins per layer, 2H columns above layer 0 and in the head."""
    shapes = expected_shapes({**MODEL, "bidirectional": True})
    assert shapes["rnn.0.W_xh_reverse"] == (4, 3) and shapes["rnn.1.W_xh"] == (4, 8)
    assert shapes["rnn.1.W_xh_reverse"] == (4, 8) and shapes["rnn.1.W_hh_reverse"] == (4, 4)
    assert shapes["rnn.1.b_h_reverse"] == (4,) and shapes["head.W_hy"] == (2, 8)
    assert len(shapes) == 14
    with pytest.raises(ValueError, match="bidirectional must be true or false"):
        expected_shapes({**MODEL, "bidirectional": "yes"})


def test_expected_shapes_with_an_embedding_tied_or_not():
    emb = expected_shapes({**MODEL, "output_size": 3, "embedding_size": 4})
    assert emb["embed.W"] == (3, 4) and emb["rnn.0.W_xh"] == (4, 4) and emb["head.W_hy"] == (3, 4)
    tied = expected_shapes({**MODEL, "output_size": 3, "embedding_size": 4, "tie_weights": True})
    assert set(emb) - set(tied) == {"head.W_hy"}
    with pytest.raises(ValueError, match="tie_weights needs embedding_size"):
        expected_shapes({**MODEL, "output_size": 3, "embedding_size": 5, "tie_weights": True})
    with pytest.raises(ValueError, match="embedding_size must be null or a positive integer"):
        expected_shapes({**MODEL, "embedding_size": 0})


def test_round_trip_exact(tmp_path):
    params = make_params(dtype=np.float32)
    extra = {"optim.m.rnn.0.W_xh": np.ones((4, 3)), "optim.t": np.array(7, dtype=np.int64)}
    meta = {
        "model": MODEL,
        "epoch": np.int64(3),
        "metrics": {"loss": np.float32(0.5), "val_loss": float("nan")},
        "task": {"vocab": ["a", "b", "é"]},
    }
    path = tmp_path / "model.npz"
    save_weights(path, params, meta, extra)
    got, got_meta, got_extra = load_weights(path)
    assert sorted(got) == sorted(params)
    for name in params:
        assert got[name].dtype == np.float32
        np.testing.assert_array_equal(got[name], params[name])
    assert sorted(got_extra) == sorted(extra)
    np.testing.assert_array_equal(got_extra["optim.m.rnn.0.W_xh"], np.ones((4, 3)))
    assert got_extra["optim.t"] == 7
    assert got_meta["format"] == "rnn-weights"
    assert got_meta["format_version"] == FORMAT_VERSION
    assert got_meta["epoch"] == 3
    assert got_meta["metrics"] == {"loss": 0.5, "val_loss": None}  # strict JSON: NaN -> null
    assert got_meta["task"]["vocab"] == ["a", "b", "é"]
    assert read_meta(path) == got_meta
    # Plain numpy reads it without pickle: the format is usable by other programs.
    with np.load(path, allow_pickle=False) as z:
        assert json.loads(str(z["meta"]))["model"] == MODEL


def test_run_directory_loads_model_npz(tmp_path):
    save_weights(tmp_path / "model.npz", make_params(), {"model": MODEL})
    params, meta, _ = load_weights(tmp_path)
    assert meta["model"]["hidden_size"] == 4
    assert params["head.b_y"].shape == (2,)


def test_save_rejects_programming_errors(tmp_path):
    with pytest.raises(ValueError, match="model"):
        save_weights(tmp_path / "a.npz", make_params(), {})
    bad = make_params()
    bad["head.b_y"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"head.b_y has shape \(3,\)"):
        save_weights(tmp_path / "a.npz", bad, {"model": MODEL})
    with pytest.raises(ValueError, match="reserved"):
        save_weights(tmp_path / "a.npz", make_params(), {"model": MODEL}, {"rnn.x": np.zeros(1)})
    assert not (tmp_path / "a.npz").exists()


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    save_weights(path, make_params(seed=1), {"model": MODEL, "epoch": 1})
    before = path.read_bytes()

    def exploding_savez(f, **arrays):
        f.write(b"PK\x03\x04 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", exploding_savez)
    with pytest.raises(OSError, match="No space"):
        save_weights(path, make_params(seed=2), {"model": MODEL, "epoch": 2})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]
    monkeypatch.undo()
    assert load_weights(path)[1]["epoch"] == 1


def test_missing_file(tmp_path):
    assert load_error(tmp_path / "x.npz") == f"weights file not found: {tmp_path / 'x.npz'}"


def test_directory_without_model(tmp_path):
    assert load_error(tmp_path) == f"no model.npz in run directory: {tmp_path}"


def test_random_bytes(tmp_path):
    p = tmp_path / "r.npz"
    p.write_bytes(np.random.default_rng(0).bytes(1000))
    assert load_error(p) == f"{p}: not an .npz file (not a zip archive, or truncated)"


def test_empty_file(tmp_path):
    p = tmp_path / "e.npz"
    p.write_bytes(b"")
    assert "not an .npz file" in load_error(p)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated(tmp_path, keep):
    p = tmp_path / "t.npz"
    save_weights(p, make_params(), {"model": MODEL})
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * keep)])
    msg = load_error(p)
    assert msg.startswith(f"{p}: ")


def test_corrupted_payload_detected_by_crc(tmp_path):
    p = tmp_path / "c.npz"
    save_weights(p, make_params(), {"model": MODEL})
    data = bytearray(p.read_bytes())
    # Flip a byte inside the first array's data (after the local header + .npy header).
    with zipfile.ZipFile(p) as zf:
        info = zf.infolist()[0]
    offset = info.header_offset + 30 + len(info.filename) + 128 + 4
    data[offset] ^= 0xFF
    p.write_bytes(bytes(data))
    msg = load_error(p)
    assert msg.startswith(f"{p}: corrupted .npz (")
    assert "CRC" in msg


def test_object_array_refused_without_unpickling(tmp_path, monkeypatch):
    import pickle

    p = tmp_path / "evil.npz"
    arrays = good_arrays()
    arrays["payload"] = np.array([{"a": 1}, None], dtype=object)
    write_npz(p, arrays, allow_pickle=True)

    def no_unpickle(*a, **k):
        raise AssertionError("unpickled!")

    monkeypatch.setattr(pickle, "load", no_unpickle)
    monkeypatch.setattr(pickle, "loads", no_unpickle)
    assert load_error(p) == f"{p}: array 'payload' holds Python objects; refusing to load it"


def test_no_meta(tmp_path):
    p = tmp_path / "m.npz"
    write_npz(p, make_params())
    assert load_error(p) == f"{p}: no 'meta' array (not an rnn weights file?)"


def test_meta_not_json(tmp_path):
    p = tmp_path / "m.npz"
    write_npz(p, {**make_params(), "meta": np.array("{model: oops")})
    msg = load_error(p)
    assert msg.startswith(f"{p}: 'meta' is not valid JSON (Expecting property name")


def test_meta_not_a_string(tmp_path):
    p = tmp_path / "m.npz"
    write_npz(p, {**make_params(), "meta": np.zeros(3)})
    assert load_error(p) == f"{p}: 'meta' must be a 0-d unicode string, got float64 (3,)"


def test_meta_wrong_format_name(tmp_path):
    p = tmp_path / "m.npz"
    write_npz(p, good_arrays({"format": "keras"}))
    assert load_error(p) == f"{p}: meta.format is 'keras', expected 'rnn-weights'"


def test_newer_format_version(tmp_path):
    p = tmp_path / "m.npz"
    write_npz(p, good_arrays({"format_version": 2}))
    assert load_error(p) == (
        f"{p}: format_version 2 is newer than this rnn supports (1); upgrade rnncli to load it"
    )


def test_meta_model_missing_keys(tmp_path):
    p = tmp_path / "m.npz"
    model = {k: v for k, v in MODEL.items() if k != "output"}
    write_npz(p, good_arrays({"model": model}))
    assert load_error(p) == f"{p}: meta.model is missing output"


def test_meta_model_bad_size(tmp_path):
    p = tmp_path / "m.npz"
    write_npz(p, good_arrays({"model": {**MODEL, "hidden_size": 0}}))
    assert load_error(p) == f"{p}: meta.model.hidden_size must be an integer in 1..16777216 (got 0)"


def test_missing_parameter(tmp_path):
    p = tmp_path / "m.npz"
    arrays = good_arrays()
    del arrays["rnn.1.W_hh"], arrays["head.b_y"]
    write_npz(p, arrays)
    assert load_error(p) == f"{p}: missing parameters: rnn.1.W_hh, head.b_y"


def test_unexpected_parameter(tmp_path):
    p = tmp_path / "m.npz"
    arrays = good_arrays()
    arrays["rnn.2.W_xh"] = np.zeros((4, 4))
    write_npz(p, arrays)
    assert load_error(p) == f"{p}: unexpected parameters: rnn.2.W_xh"


def test_misshaped_parameter(tmp_path):
    p = tmp_path / "m.npz"
    arrays = good_arrays()
    arrays["rnn.0.W_xh"] = np.zeros((4, 5))
    write_npz(p, arrays)
    assert load_error(p) == f"{p}: rnn.0.W_xh has shape (4, 5), the model needs (4, 3)"


def test_integer_parameter(tmp_path):
    p = tmp_path / "m.npz"
    arrays = good_arrays()
    arrays["head.b_y"] = np.zeros(2, dtype=np.int32)
    write_npz(p, arrays)
    assert load_error(p) == f"{p}: head.b_y has dtype int32; parameters must be float32/float64"


def test_string_extra_refused(tmp_path):
    p = tmp_path / "m.npz"
    write_npz(p, {**good_arrays(), "notes": np.array(["x", "y"])})
    assert load_error(p) == f"{p}: array 'notes' has non-numeric dtype <U1"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_parameter(tmp_path, bad):
    p = tmp_path / "m.npz"
    arrays = good_arrays()
    arrays["rnn.1.b_h"][2] = bad
    write_npz(p, arrays)
    assert load_error(p) == f"{p}: rnn.1.b_h contains NaN or infinite values"


def test_lying_header_is_caught_before_allocation(tmp_path):
    # A .npy header claiming a huge shape over a few bytes of data: refused from the header.
    p = tmp_path / "m.npz"
    arrays = good_arrays()
    write_npz(p, arrays)
    with zipfile.ZipFile(p) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    raw = members["head.b_y.npy"]
    forged = raw.replace(b"(2,), }" + b" " * 9, b"(9999999999,), }", 1)
    assert len(forged) == len(raw) and forged != raw  # a well-formed header, same length
    members["head.b_y.npy"] = forged
    with zipfile.ZipFile(p, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    assert load_error(p).startswith(
        f"{p}: array 'head.b_y' is truncated or corrupted (its header says [9999999999]")


def test_non_npy_member(tmp_path):
    p = tmp_path / "m.npz"
    write_npz(p, good_arrays())
    with zipfile.ZipFile(p, "a") as zf:
        zf.writestr("readme.txt", "hi")
    assert load_error(p) == f"{p}: unexpected member 'readme.txt' (not an .npy array)"


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_files_give_weights_error_or_load(tmp_path, data):
    p = tmp_path / "m.npz"
    save_weights(p, make_params(), {"model": MODEL})
    raw = bytearray(p.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(raw)))
    p.write_bytes(bytes(raw[:cut]))
    try:
        params, meta, _ = load_weights(p)
    except WeightsError as e:
        assert str(e).startswith(f"{p}: ") and "\n" not in str(e)
    else:
        assert all(np.isfinite(a).all() for a in params.values())


KILL_WRITER = """
import sys, numpy as np
from rnncli.weights import save_weights, expected_shapes
model = {"input_size": 50, "hidden_size": 300, "output_size": 5, "num_layers": 2,
         "nonlinearity": "tanh", "output": "last"}
i = 0
while True:
    params = {n: np.full(s, float(i)) for n, s in expected_shapes(model).items()}
    save_weights(sys.argv[1], params, {"model": model, "epoch": i})
    if i == 0:
        print("ready", flush=True)
    i += 1
"""


@pytest.mark.slow
def test_sigkill_during_writes_leaves_a_loadable_file(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    p = tmp_path / "checkpoint.npz"
    repo = str(Path(__file__).resolve().parents[1])
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_WRITER, str(p)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": repo},
    )
    try:
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(0.3)  # many writes in flight: the kill lands at an arbitrary moment
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    params, meta, _ = load_weights(p)
    epoch = meta["epoch"]
    assert all((a == epoch).all() for a in params.values())  # one complete version, not a mix


def test_meta_model_cell_is_validated_and_defaults_to_the_vanilla_cell(tmp_path):
    p = tmp_path / "m.npz"
    write_npz(p, good_arrays({"model": {**MODEL, "cell": "transformer"}}))
    assert load_error(p) == f"{p}: meta.model.cell must be one of rnn, gru, lstm (got 'transformer')"
    write_npz(p, good_arrays({"model": {**MODEL, "cell": "lstm"}}))  # Elman tensors for an LSTM
    assert load_error(p).startswith(f"{p}: missing parameters: rnn.0.W_ih")
    assert "cell" not in MODEL and set(expected_shapes(MODEL)) == set(good_arrays()) - {"meta"}


def test_gated_cells_name_their_tensors_as_torch():
    shapes = expected_shapes({**MODEL, "cell": "gru", "bidirectional": True})
    H, I = MODEL["hidden_size"], MODEL["input_size"]
    assert shapes["rnn.0.W_ih"] == (3 * H, I) and shapes["rnn.1.W_ih_reverse"] == (3 * H, 2 * H)
    assert shapes["rnn.0.W_hh"] == (3 * H, H) and shapes["rnn.1.b_hh_reverse"] == (3 * H,)
    assert expected_shapes({**MODEL, "cell": "lstm"})["rnn.0.b_ih"] == (4 * H,)
