"""Helpers of the export tests (test_export.py, test_export_cells.py): run an exported graph in
onnxruntime and compare it with `rnn predict` on the same inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import needs, rnn

TOL = 1e-5  # float32 graph against the NumPy model


def session(path: Path):
    """An onnxruntime session on one thread (the CPU provider)."""
    ort = needs("onnxruntime")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def export(weights: Path, out: Path, *extra: str) -> Path:
    """`rnn export WEIGHTS -o OUT`: exit 0, nothing on stdout, the 'wrote' line on stderr."""
    result = rnn("export", weights, "-o", out, *extra)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert f"wrote {out} (" in result.stderr
    return out


def predict_npy(weights: Path, inputs: Path, tmp_path: Path, *extra: str) -> np.ndarray:
    """`rnn predict` of an .npy input, read back from an .npy output."""
    out = tmp_path / "pred.npy"
    result = rnn("predict", weights, inputs, "-f", "npy", "-o", out, *extra)
    assert result.exit_code == 0, result.stderr
    return np.load(out)


def raw_inputs(rng, n: int, steps: int, features: int) -> np.ndarray:
    # Original units around the scaler of saved_models (means ~N(0, 3), stds up to 4).
    return (3 * rng.standard_normal((n, steps, features))).astype(np.float32)


def assert_graph_equals_predict(graph: Path, weights: Path, tmp_path: Path, kind: str,
                                seed: int) -> np.ndarray:
    """The graph's float32 outputs equal `rnn predict`'s (probabilities for a classifier) to TOL
    for two batch and time sizes (both axes are dynamic); returns the last outputs."""
    rng = np.random.default_rng(seed)
    for batch, steps in [(4, 9), (1, 2)]:
        x = raw_inputs(rng, batch, steps, 3)
        np.save(tmp_path / "x.npy", x)
        want = predict_npy(weights, tmp_path / "x.npy", tmp_path,
                           *(["--proba"] if kind == "classification" else []))
        (got,) = session(graph).run(None, {"x": x})
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)
    return got
