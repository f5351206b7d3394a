"""The same checks as tests/test_device.py on a real GPU through CuPy: the fused kernels against the
NumPy reference in float64, training, and weights across devices. Skipped without CuPy and a GPU."""

from __future__ import annotations

import numpy as np
import pytest

from rnncli.device import cuda_problem

PROBLEM = cuda_problem()
pytestmark = pytest.mark.skipif(PROBLEM is not None,
                                reason=f"needs a CUDA GPU and CuPy (pip install 'rnncli[cuda12]'): {PROBLEM}")

OPTIONS = [
    {}, {"nonlinearity": "relu"}, {"bidirectional": True}, {"output": "last"}, {"ragged": True},
    {"num_layers": 3, "dropout": 0.2, "recurrent_dropout": 0.3, "ragged": True},
    {"bidirectional": True, "recurrent_dropout": 0.3, "ragged": True, "nonlinearity": "relu"},
    {"embedding_size": 4}, {"embedding_size": 4, "tie_weights": True},
]


@pytest.mark.parametrize("options", OPTIONS)
def test_fused_kernels_equal_numpy_in_float64(options, rng):
    from rnncli.core.init import init_params
    from rnncli.core.model import ModelSpec
    from rnncli.device import resolve_device
    from rnncli.tools.device_check import device_agreement

    opts = dict(options)
    ragged = opts.pop("ragged", False)
    drop = {k: opts.pop(k) for k in ("dropout", "recurrent_dropout") if k in opts}
    tokens = "embedding_size" in opts
    V = 7
    spec = ModelSpec(input_size=V if tokens else 3, hidden_size=16, output_size=V if tokens else 2,
                     num_layers=opts.pop("num_layers", 2), output=opts.pop("output", "sequence"), **opts)
    params = init_params(spec, rng, init="uniform", dtype=np.float64)
    B, T = 5, 9
    x = rng.integers(0, V, (B, T)) if tokens else rng.standard_normal((B, T, 3))
    if tokens:
        y = rng.integers(0, V, (B, T) if spec.output == "sequence" else (B,))
    else:
        y = rng.standard_normal((B, T, 2) if spec.output == "sequence" else (B, 2))
    lengths = np.array([9, 2, 5, 1, 7]) if ragged else None
    device = resolve_device("cuda")
    agreement = device_agreement(params, spec, x, y, loss="cross_entropy" if tokens else "mse",
                                 device=device, lengths=lengths, **drop)
    worst = max(agreement, key=lambda a: a.rel_error)
    assert all(a.passed for a in agreement), (worst.name, worst.rel_error)


def test_gradcheck_command_on_cuda():
    from typer.testing import CliRunner

    from rnncli.cli import app

    result = CliRunner().invoke(app, ["gradcheck", "--device", "cuda", "--set", "model.num_layers=2",
                                      "--set", "model.recurrent_dropout=0.2"])
    assert result.exit_code == 0, result.stderr
    assert "equals NumPy" in result.stderr


def test_train_on_cuda_then_predict_on_cpu_and_resume_on_cpu(tmp_path):
    from rnncli.config import load_config
    from rnncli.training.loop import train
    from rnncli.weights import load_weights

    sets = ["data.num_samples=200", "data.seq_len=12", "model.hidden_size=16", "train.batch_size=16",
            "train.patience=null", "train.dtype=float64"]
    whole = load_config([], [*sets, "train.epochs=2", "train.device=cpu"])
    train(whole, tmp_path / "cpu")
    first = load_config([], [*sets, "train.epochs=1", "train.device=cuda"])
    train(first, tmp_path / "split")
    second = load_config([tmp_path / "split" / "config.yaml"], ["train.epochs=2", "train.device=cpu"])
    train(second, tmp_path / "split", resume=True)
    a, _ = load_weights(tmp_path / "cpu" / "model.npz")[:2]
    b, _ = load_weights(tmp_path / "split" / "model.npz")[:2]
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-9, atol=1e-11, err_msg=k)
