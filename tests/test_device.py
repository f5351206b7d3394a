"""The host/device plumbing on a machine without a GPU: the core on device arrays, training on a
device (transfers counted), weights and --resume across devices, and the --device errors.

The device here is tests/fakedevice.py's test double (NumPy memory that behaves like CuPy's at the
boundary); tests/test_cuda.py runs the same comparisons on a real GPU when one is present.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import needs
from fakedevice import COUNTS, FAKE_MODULE, FakeArray, FakeDevice
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.config import load_config
from rnncli.core.init import init_params
from rnncli.core.model import ModelSpec, loss_and_grads
from rnncli.core.optim import OPTIMIZER_OPTIONS, clip_gradients, make_optimizer
from rnncli.core.xp import array_module, register_array_type
from rnncli.device import CPU, cuda_problem, resolve_device
from rnncli.errors import UsageError
from rnncli.training import loop
from rnncli.training.callbacks import TrainCallbacks
from rnncli.training.steplog import LOG_EVERY
from rnncli.weights import load_weights

DEV = FakeDevice()


def test_array_module_is_numpy_for_host_arrays_and_the_device_module_for_device_arrays():
    host = np.zeros(3)
    assert array_module(host) is np
    assert array_module(None, 1.0, np.float32(2), host) is np
    assert array_module(host, DEV.to_device(host)) is FAKE_MODULE

    class Registered:  # what rnncli.device does for cupy.ndarray
        pass

    register_array_type(Registered, FAKE_MODULE)
    assert array_module(Registered()) is FAKE_MODULE


def test_the_fake_device_refuses_host_arrays_like_cupy():
    with pytest.raises(TypeError, match="CuPy refuses"):
        DEV.to_device(np.ones(3)) + np.ones(3)


def _case(bidirectional, embedding, output, rng, cell="rnn"):
    spec = ModelSpec(input_size=7, hidden_size=6, output_size=7 if output == "sequence" else 3,
                     num_layers=2, output=output, bidirectional=bidirectional, embedding_size=embedding,
                     cell=cell)
    params = init_params(spec, rng, dtype=np.float64)
    x = rng.integers(0, 7, (3, 5)) if embedding else rng.standard_normal((3, 5, 7))
    y = rng.integers(0, spec.output_size, (3, 5) if output == "sequence" else (3,))
    return spec, params, x, y, np.array([5, 3, 1])


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("embedding", [None, 4])
@pytest.mark.parametrize("output", ["sequence", "last"])
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_core_on_device_arrays_equals_numpy_without_a_read_back(bidirectional, embedding, output, cell, rng):
    spec, params, x, y, lengths = _case(bidirectional, embedding, output, rng, cell)
    drop = {"dropout": 0.3, "recurrent_dropout": 0.2}
    loss0, g0, aux0 = loss_and_grads(params, spec, x, y, loss="cross_entropy", lengths=lengths,
                                     rng=np.random.default_rng([5]), **drop)
    COUNTS.reset()
    loss1, g1, aux1 = loss_and_grads(DEV.to_device(params), spec, DEV.to_device(x), DEV.to_device(y),
                                     loss="cross_entropy", lengths=DEV.to_device(lengths),
                                     rng=DEV.random([5]), **drop)
    assert COUNTS.syncs == 0 and COUNTS.to_host == 0
    assert isinstance(loss1, FakeArray) and all(isinstance(g, FakeArray) for g in g1.values())
    assert float(DEV.to_host(loss1)) == loss0
    for name in g0:
        np.testing.assert_array_equal(DEV.to_host(g1[name]), g0[name], err_msg=name)
    np.testing.assert_array_equal(DEV.to_host(aux1["dh_norms"]), aux0["dh_norms"])


def test_mse_with_ragged_sequences_on_device(rng):
    spec = ModelSpec(input_size=2, hidden_size=4, output_size=2, output="sequence")
    params = init_params(spec, rng, dtype=np.float64)
    x, y, lengths = rng.standard_normal((3, 6, 2)), rng.standard_normal((3, 6, 2)), np.array([6, 2, 4])
    loss0, g0, _ = loss_and_grads(params, spec, x, y, loss="mse", lengths=lengths)
    COUNTS.reset()
    loss1, g1, _ = loss_and_grads(DEV.to_device(params), spec, DEV.to_device(x), DEV.to_device(y),
                                  loss="mse", lengths=DEV.to_device(lengths))
    assert COUNTS.syncs == 0
    assert float(DEV.to_host(loss1)) == loss0
    for name in g0:
        np.testing.assert_array_equal(DEV.to_host(g1[name]), g0[name], err_msg=name)


@pytest.mark.parametrize("name", sorted(OPTIMIZER_OPTIONS))
@pytest.mark.parametrize("clip", [(None, None), (0.5, None), (0.5, 0.01)])
def test_optimizer_and_clipping_on_device_equal_numpy_and_stay_there(name, clip, rng):
    params = {"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    params = {k: v.astype(np.float32) for k, v in params.items()}
    grads = [{k: rng.standard_normal(v.shape).astype(np.float32) for k, v in params.items()}
             for _ in range(3)]
    host, dev = {k: v.copy() for k, v in params.items()}, DEV.to_device(params)
    opt_h, opt_d = make_optimizer(name, 0.01, weight_decay=0.1), make_optimizer(name, 0.01, weight_decay=0.1)
    COUNTS.reset()
    for g in grads:
        norm_h = clip_gradients({k: v.copy() for k, v in g.items()}, *clip)
        gh = {k: v.copy() for k, v in g.items()}
        clip_gradients(gh, *clip)
        opt_h.step(host, gh)
        gd = DEV.to_device(g)
        norm_d = clip_gradients(gd, *clip)
        opt_d.step(dev, gd)
        assert isinstance(norm_d, FakeArray)  # the device sums in float64:
        assert float(DEV.to_host(norm_d)) == pytest.approx(norm_h, rel=1e-6)
    assert COUNTS.syncs == 0
    for k in params:
        np.testing.assert_allclose(DEV.to_host(dev[k]), host[k], rtol=1e-6, atol=1e-7)


# -- training on a device ----------------------------------------------------------------------------

TINY = ["data.num_samples=80", "data.seq_len=8", "model.hidden_size=8", "train.batch_size=16",
        "train.epochs=2", "train.patience=null"]


def _train(tmp_path, name, sets=(), device=None, resume=False, monkeypatch=None):
    cfg = load_config([], [*TINY, *sets])
    if device is not None:
        monkeypatch.setattr(loop, "resolve_device", lambda setting, where: device)
    else:
        monkeypatch.setattr(loop, "resolve_device", lambda setting, where: CPU)
    if resume:
        cfg = load_config([tmp_path / name / "config.yaml"], list(sets))
    loop.train(cfg, tmp_path / name, resume=resume)
    return load_weights(tmp_path / name / "model.npz")


class _Snapshots(TrainCallbacks):
    """COUNTS at the start, at each on_step_end and at each epoch end (after validation and saves)."""

    def __init__(self):
        self.marks = []

    def on_train_start(self, info):
        self.steps = info["steps_per_epoch"]
        self.marks.append(("start", dict(vars(COUNTS))))

    def on_step_end(self, epoch, step, steps, loss):
        self.marks.append((f"step {epoch}.{step}", dict(vars(COUNTS))))

    def on_epoch_end(self, record):
        self.marks.append((f"epoch {record['epoch']}", dict(vars(COUNTS))))


@pytest.mark.parametrize("samples", [80, 320, 1000])
def test_training_on_a_device_reads_back_once_per_log_interval(tmp_path, monkeypatch, samples):
    """Each step moves its batch in and reads nothing back; the steps' values come back in one
    transfer every LOG_EVERY steps and at the epoch's end (then validation and saves read more)."""
    cfg = load_config([], [*TINY, f"data.num_samples={samples}", "train.epochs=2"])
    monkeypatch.setattr(loop, "resolve_device", lambda setting, where: DEV)
    snaps = _Snapshots()
    COUNTS.reset()
    loop.train(cfg, tmp_path / "run", callbacks=snaps)
    steps = snaps.steps
    reads = -(-steps // LOG_EVERY)  # read-backs per epoch
    labels = [label for label, _ in snaps.marks]
    assert labels.count(f"step 1.{steps}") == 1 and len(labels) == 1 + 2 * (reads + 1), labels
    # from the start (or the previous epoch's end) to this epoch's last step report
    for epoch, begin in ((1, 0), (2, reads + 1)):
        before, after = snaps.marks[begin][1], snaps.marks[begin + reads][1]
        assert after["to_host"] - before["to_host"] == reads, (epoch, snaps.marks)
        assert after["to_device"] - before["to_device"] == 2 * steps  # x and y of every step
    assert COUNTS.syncs == 0  # no float()/bool() on a device array anywhere in the run


def test_device_run_equals_the_cpu_run_and_its_weights_are_host_files(tmp_path, monkeypatch):
    cpu, _ = _train(tmp_path, "cpu", device=None, monkeypatch=monkeypatch)[:2]
    dev, meta = _train(tmp_path, "dev", device=DEV, monkeypatch=monkeypatch)[:2]
    for k in cpu:
        assert type(dev[k]) is np.ndarray
        np.testing.assert_allclose(dev[k], cpu[k], rtol=1e-5, atol=1e-6, err_msg=k)
    import json

    run = json.loads((tmp_path / "dev" / "run.json").read_text())
    assert run["device"] == "cuda" and run["device_name"] == "fake GPU"
    assert json.loads((tmp_path / "cpu" / "run.json").read_text())["device"] == "cpu"


@pytest.mark.parametrize("first,second", [(None, DEV), (DEV, None)])
def test_resume_on_the_other_device_equals_an_uninterrupted_run(tmp_path, monkeypatch, first, second):
    whole = _train(tmp_path, "whole", device=None, monkeypatch=monkeypatch)[0]
    _train(tmp_path, "split", ["train.epochs=1"], device=first, monkeypatch=monkeypatch)
    split = _train(tmp_path, "split", ["train.epochs=2"], device=second, resume=True,
                   monkeypatch=monkeypatch)[0]
    for k in whole:
        np.testing.assert_allclose(split[k], whole[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_a_device_trained_model_predicts_on_the_cpu(tmp_path, monkeypatch):
    _train(tmp_path, "dev", device=DEV, monkeypatch=monkeypatch)
    result = CliRunner().invoke(app, ["eval", str(tmp_path / "dev"), "--json"])
    assert result.exit_code == 0, result.stderr
    assert '"loss"' in result.stdout


@pytest.mark.parametrize("cell", ["rnn", "lstm"])  # the LSTM carries (h, c) from batch to batch
def test_text_model_with_dropout_trains_on_a_device_without_read_backs(tmp_path, monkeypatch, cell):
    text = tmp_path / "t.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 40)
    sets = ["data.source=text", f"data.path={text}", "data.seq_len=16", "model.embedding_size=8",
            "model.dropout=0.2", "model.num_layers=2", "model.recurrent_dropout=0.1", "train.epochs=1",
            f"model.cell={cell}", "train.checkpoint_every=3"]
    COUNTS.reset()
    cfg = load_config([], ["model.hidden_size=8", "train.batch_size=4", *sets])
    monkeypatch.setattr(loop, "resolve_device", lambda setting, where: DEV)
    summary = loop.train(cfg, tmp_path / "text")
    assert COUNTS.syncs == 0
    assert np.isfinite(summary["best_loss"])


# -- choosing a device -------------------------------------------------------------------------------

def test_cpu_and_auto_without_a_gpu_resolve_to_the_host():
    assert resolve_device("cpu") is CPU and resolve_device(None) is CPU
    if cuda_problem() is not None:
        assert resolve_device("auto") is CPU


def test_an_unknown_device_is_a_usage_error():
    with pytest.raises(UsageError, match="'tpu' is not a device"):
        resolve_device("tpu")


@pytest.mark.skipif(cuda_problem() is None, reason="a CUDA GPU is present here")
def test_device_cuda_without_a_gpu_is_one_line_naming_the_extra(tmp_path):
    result = CliRunner().invoke(app, ["train", "--device", "cuda", "-o", str(tmp_path / "r")])
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnn: error: --device: cuda: ")
    assert "pip install 'rnncli[cuda12]'" in lines[0] and "rnncli[cuda13]" in lines[0]
    assert not (tmp_path / "r").exists()


# -- saved models on a device ------------------------------------------------------------------------

def test_saved_models_compute_the_same_on_a_device(tmp_path, monkeypatch):
    """eval, predict, sample and states with the parameters on the device equal the host's."""
    from rnncli.data import Batch
    from rnncli.use.model_io import load_model
    from rnncli.use.predict import evaluate_model, load_data_for_model, predict_outputs
    from rnncli.use.sample import sample_text
    from rnncli.use.states import hidden_states

    text = tmp_path / "t.txt"
    text.write_text("abcabd abcabe " * 30)
    cfg = load_config([], ["data.source=text", f"data.path={text}", "data.seq_len=12",
                           "model.hidden_size=8", "model.num_layers=2", "train.epochs=1",
                           "train.batch_size=4"])
    monkeypatch.setattr(loop, "resolve_device", lambda setting, where: CPU)
    loop.train(cfg, tmp_path / "run")
    host = load_model(tmp_path / "run")
    dev = host.on_device(DEV)
    assert isinstance(dev.params["head.b_y"], FakeArray) and host.params["head.b_y"].__class__ is np.ndarray
    bundle = load_data_for_model(host, None)
    COUNTS.reset()
    metrics = evaluate_model(host, bundle, batch_size=4)
    assert evaluate_model(dev, bundle, batch_size=4) == pytest.approx(metrics)
    batch = Batch(np.array([[0, 1, 2, 0], [1, 2, 0, 1]]), None, np.array([4, 2]))
    np.testing.assert_allclose(predict_outputs(dev, batch), predict_outputs(host, batch), rtol=1e-6)
    np.testing.assert_allclose(hidden_states(dev, batch), hidden_states(host, batch), rtol=1e-6)
    assert sample_text(dev, "ab", 20, np.random.default_rng(3)) == \
        sample_text(host, "ab", 20, np.random.default_rng(3))
    assert COUNTS.syncs == 0


@pytest.mark.slow
def test_gradcheck_on_a_device_compares_with_numpy_and_fails_when_they_differ(monkeypatch):
    from rnncli.tools.probe import gradcheck_config

    # 4 units: every kind of parameter is there (the check is per parameter), few to perturb
    cfg = load_config([], ["model.num_layers=2", "model.bidirectional=true", "model.dropout=0.2",
                           "model.recurrent_dropout=0.1", "data.num_samples=16", "model.hidden_size=4"])
    report, _, agreement = gradcheck_config(cfg, device=DEV)
    assert report.passed and agreement and all(a.passed for a in agreement)
    assert {a.name for a in agreement} >= {"loss", "dx", "dh0", "rnn.1.W_hh_reverse"}

    class Off(FakeDevice):  # a device whose arithmetic is slightly wrong
        def to_host(self, a):
            out = super().to_host(a)
            return out * (1 + 1e-9) if isinstance(out, np.ndarray) else out

    _, _, agreement = gradcheck_config(cfg, device=Off())
    assert not any(a.passed for a in agreement if a.name != "loss")
    monkeypatch.setattr("rnncli.device.resolve_device", lambda setting, where="--device": Off())
    result = CliRunner().invoke(app, ["gradcheck", "--device", "cuda", "--set", "model.hidden_size=4"])
    assert result.exit_code == 1
    assert "rnn: error: cuda (fake GPU) differs from NumPy for" in result.stderr


# -- the fused loops' bookkeeping (rnncli/accel), on the plain primitives ---------------------------

@pytest.mark.parametrize("options", [
    {}, {"nonlinearity": "relu"}, {"bidirectional": True}, {"output": "last"}, {"ragged": True},
    {"recurrent_dropout": 0.3, "dropout": 0.2, "ragged": True, "bidirectional": True},
    {"output": "last", "ragged": True, "recurrent_dropout": 0.3, "nonlinearity": "relu"},
    {"cell": "lstm"}, {"cell": "lstm", "output": "last", "ragged": True},
    {"cell": "lstm", "recurrent_dropout": 0.3, "dropout": 0.2, "ragged": True, "bidirectional": True},
])
def test_fused_loops_equal_the_reference_loops(options, monkeypatch, rng):
    """The two-launches-per-step drivers, run on NumpyPrimitives over device arrays, equal the
    reference loops to 1e-12 in float64 (tests/test_cuda.py does the same with the CUDA kernels)."""
    import rnncli.core.xp as xpmod
    from rnncli.accel import install_fused_kernels
    from rnncli.accel.elman_fused import NumpyPrimitives
    from rnncli.tools.device_check import device_agreement

    opts = dict(options)
    ragged = opts.pop("ragged", False)
    drop = {k: opts.pop(k) for k in ("dropout", "recurrent_dropout") if k in opts}
    spec = ModelSpec(input_size=3, hidden_size=5, output_size=2, num_layers=2,
                     output=opts.pop("output", "sequence"), **opts)
    params = init_params(spec, rng, init="uniform", dtype=np.float64)
    x = rng.standard_normal((4, 6, 3))
    y = rng.standard_normal((4, 6, 2) if spec.output == "sequence" else (4, 2))
    lengths = np.array([6, 2, 5, 1]) if ragged else None
    monkeypatch.setattr(xpmod, "_FUSED", {})
    calls = []
    prims = NumpyPrimitives(FAKE_MODULE)
    monkeypatch.setattr(prims, "gemm", lambda a, b, out: calls.append(1) or FAKE_MODULE.matmul(a, b, out=out))
    install_fused_kernels(FAKE_MODULE, prims)
    agreement = device_agreement(params, spec, x, y, loss="mse", device=DEV, lengths=lengths, **drop)
    assert calls, "the fused backward never ran"
    worst = max(agreement, key=lambda a: a.rel_error)
    assert all(a.passed for a in agreement), (worst.name, worst.rel_error)


# -- rnn bench --device cuda -------------------------------------------------------------------------

def test_bench_on_a_device_times_our_steps(monkeypatch):
    """The timing code on the fake device (torch here has no CUDA: no cuDNN column)."""
    import rnncli.tools.bench_cuda as bc

    monkeypatch.setattr(bc, "_torch_cuda", lambda tf32: None)
    sizes = [{"kind": "layer", "batch": 4, "seq_len": 5, "input": 3, "hidden": 6, "layers": 2},
             {"kind": "text", "batch": 4, "seq_len": 5, "hidden": 6, "layers": 1, "embedding": 3, "vocab": 7,
              "cell": "lstm"}]
    result = bc.run_cuda_bench(DEV, sizes, tf32=False, warmup=1, repeats=2)
    assert [r["size"] for r in result["rows"]] == [
        "rnn layer B=4 T=5 I=3 H=6 L=2", "lstm text step B=4 T=5 H=6 L=1 E=3 V=7"]
    assert all(r["ours_ms"] > 0 and r["torch_ms"] is None for r in result["rows"])
    assert result["precision"]["ours"] == "float32, FP32 products"
    assert [s["hidden"] for s in bc.ISSUE_SIZES] == [512, 256, 256, 512, 2048]


@pytest.mark.skipif(cuda_problem() is None, reason="a CUDA GPU is present here")
@pytest.mark.parametrize("command", [["bench"], ["eval", "nowhere"], ["gradcheck"], ["sample", "x"],
                                     ["diagnose"], ["sweep", "-p", "train.lr=loguniform:1e-3:1e-1"]])
def test_every_command_refuses_cuda_without_a_gpu_in_one_line(command):
    if command[0] == "sweep":
        needs("optuna")  # without it, `rnn sweep` names its own missing extra first
    result = CliRunner().invoke(app, [*command, "--device", "cuda"])
    lines = result.stderr.strip().splitlines()
    if command[0] in ("bench", "gradcheck", "diagnose", "sweep"):
        assert result.exit_code == 2 and len(lines) == 1, result.stderr
        assert lines[0].startswith("rnn: error: --device: cuda:") and "rnncli[cuda12]" in lines[0]
    else:  # a missing weights file is named first
        assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("rnn: error: ")


def test_diagnose_on_a_device_reports_what_the_host_does():
    from rnncli.tools.diagnose import diagnose_config

    cfg = load_config([], ["model.num_layers=2", "data.num_samples=32", "data.seq_len=10"])
    host, dev = diagnose_config(cfg, batch_size=8), diagnose_config(cfg, batch_size=8, device=DEV)
    assert dev["verdict"] == host["verdict"]
    assert dev["loss"] == pytest.approx(host["loss"], rel=1e-6)
    np.testing.assert_allclose(dev["dh_norms"], host["dh_norms"], rtol=1e-5)
    np.testing.assert_allclose(dev["probe_dh_norms"], host["probe_dh_norms"], rtol=1e-5)


def test_the_run_header_names_a_gpu_and_leaves_the_cpu_line_as_it_was():
    from rnncli.cli.render import start_line

    info = {"run_dir": "runs/x", "epochs": 2, "steps_per_epoch": 3}
    assert start_line({**info, "device": "cpu"}) == "training runs/x: 3 steps/epoch, 2 epochs"
    assert start_line({**info, "device": "cuda", "device_name": "NVIDIA H200"}).endswith(
        "2 epochs, on cuda (NVIDIA H200)")
