"""`rnn bench --device cuda`: our fused CuPy path against torch's cuDNN RNN, in the same run.

Sizes (issue 21): two text-model training steps (embedding, Elman layers, softmax head,
cross-entropy, clipping, Adam) and three single-layer forward + backward passes. Both sides run
float32 with the same precision setting, stated with the results: with `tf32` off both use full
FP32 products (torch: cudnn.allow_tf32 and cuda.matmul.allow_tf32 off); with it on both may use
TF32 tensor cores (CuPy: CUPY_TF32=1 and TF32 math on its cuBLAS handle). torch's own default
is TF32 for cuDNN: comparing against it unstated flatters cuDNN 3-4x at large sizes.
Times are medians of `repeats` steps, each ended by a device synchronisation.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import numpy as np

from rnncli.core.init import init_params
from rnncli.core.model import ModelSpec, loss_and_grads
from rnncli.core.optim import clip_gradients, make_optimizer
from rnncli.core.rnn import rnn_backward, rnn_forward
from rnncli.device import Device

ISSUE_SIZES = [
    {"kind": "text", "batch": 128, "seq_len": 128, "hidden": 512, "layers": 2, "embedding": 64, "vocab": 65},
    {"kind": "text", "batch": 32, "seq_len": 64, "hidden": 256, "layers": 1, "embedding": 64, "vocab": 65},
    {"kind": "layer", "batch": 64, "seq_len": 100, "input": 64, "hidden": 256, "layers": 1},
    {"kind": "layer", "batch": 128, "seq_len": 200, "input": 128, "hidden": 512, "layers": 1},
    {"kind": "layer", "batch": 1024, "seq_len": 100, "input": 128, "hidden": 2048, "layers": 1},
]
CLIP = 5.0
TORCH_CLASSES = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}


def set_tf32(tf32: bool) -> None:
    """Ask CuPy for TF32 products or not; call before CuPy is imported (it reads CUPY_TF32 then)."""
    os.environ["CUPY_TF32"] = "1" if tf32 else "0"


def label(s: dict) -> str:
    cell = s.get("cell", "rnn")
    if s["kind"] == "text":
        return (f"{cell} text step B={s['batch']} T={s['seq_len']} H={s['hidden']} L={s['layers']} "
                f"E={s['embedding']} V={s['vocab']}")
    return f"{cell} layer B={s['batch']} T={s['seq_len']} I={s['input']} H={s['hidden']} L={s['layers']}"


def _median_ms(fn: Callable[[], object], sync: Callable[[], None], warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def _ours(device: Device, s: dict) -> Callable[[], object]:
    rng = np.random.default_rng(0)
    on = device.to_device
    cell = s.get("cell", "rnn")
    if s["kind"] == "layer":
        spec = ModelSpec(s["input"], s["hidden"], 1, s["layers"], cell=cell)
        params = on({k: v.astype(np.float32) for k, v in init_params(spec, rng).items()
                     if k.startswith("rnn.")})
        x = on(rng.standard_normal((s["batch"], s["seq_len"], s["input"])).astype(np.float32))
        dhs = on(rng.standard_normal((s["batch"], s["seq_len"], s["hidden"])).astype(np.float32))

        def layer_step():
            _, _, cache = rnn_forward(params, x, num_layers=s["layers"], cell=cell)
            return rnn_backward(dhs, cache)

        return layer_step
    spec = ModelSpec(s["vocab"], s["hidden"], s["vocab"], s["layers"], output="sequence",
                     embedding_size=s["embedding"], cell=cell)
    params = on(init_params(spec, rng, dtype=np.float32))
    x, y = (on(rng.integers(0, s["vocab"], (s["batch"], s["seq_len"]))) for _ in range(2))
    opt = make_optimizer("adam", 1e-3)

    def text_step():
        _, grads, _ = loss_and_grads(params, spec, x, y, loss="cross_entropy")
        clip_gradients(grads, CLIP)
        opt.step(params, grads)

    return text_step


def _theirs(torch, s: dict) -> Callable[[], object]:
    dev = torch.device("cuda")
    g = torch.Generator(device="cpu").manual_seed(0)
    module = getattr(torch.nn, TORCH_CLASSES[s.get("cell", "rnn")])
    if s["kind"] == "layer":
        rnn = module(s["input"], s["hidden"], s["layers"]).to(dev)
        x = torch.randn(s["seq_len"], s["batch"], s["input"], generator=g).to(dev)
        dhs = torch.randn(s["seq_len"], s["batch"], s["hidden"], generator=g).to(dev)

        def layer_step():
            rnn.zero_grad(set_to_none=True)
            out, _ = rnn(x)
            out.backward(dhs)

        return layer_step
    embed = torch.nn.Embedding(s["vocab"], s["embedding"]).to(dev)
    rnn = module(s["embedding"], s["hidden"], s["layers"], batch_first=True).to(dev)
    head = torch.nn.Linear(s["hidden"], s["vocab"]).to(dev)
    weights = [*embed.parameters(), *rnn.parameters(), *head.parameters()]
    opt = torch.optim.Adam(weights, lr=1e-3)
    x = torch.randint(0, s["vocab"], (s["batch"], s["seq_len"]), generator=g).to(dev)
    y = torch.randint(0, s["vocab"], (s["batch"], s["seq_len"]), generator=g).to(dev)

    def text_step():
        opt.zero_grad(set_to_none=True)
        logits = head(rnn(embed(x))[0])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, s["vocab"]), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(weights, CLIP)
        opt.step()

    return text_step


def _torch_cuda(tf32: bool):
    """torch with CUDA and its precision set, or None (not installed, or built without CUDA)."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    return torch


def run_cuda_bench(device: Device, sizes: list[dict], *, tf32: bool, warmup: int = 3,
                   repeats: int = 10) -> dict:
    """Median ms per step for us and torch cuDNN at each size, their ratio, and the precisions."""
    if tf32:  # our cuBLAS calls: TF32 tensor-core math on CuPy's handle (CUPY_TF32 covers matmul)
        from cupy_backends.cuda.libs import cublas

        cublas.setMathMode(device.xp.cuda.device.get_cublas_handle(), cublas.CUBLAS_TF32_TENSOR_OP_MATH)
    torch = _torch_cuda(tf32)
    rows = []
    for s in sizes:
        ours = _median_ms(_ours(device, s), device.synchronize, warmup, repeats)
        theirs = None
        if torch is not None:
            theirs = _median_ms(_theirs(torch, s), torch.cuda.synchronize, warmup, repeats)
        rows.append({"size": label(s), **s, "ours_ms": ours, "torch_ms": theirs,
                     "ratio": ours / theirs if theirs else None})
    precision = "TF32" if tf32 else "FP32"
    return {"device": device.label, "rows": rows, "repeats": repeats, "warmup": warmup,
            "precision": {"ours": f"float32, {precision} products", "torch": (
                f"float32, cuDNN {precision} (allow_tf32={tf32})" if torch is not None else None)},
            "torch": None if torch is None else {"version": torch.__version__,
                                                 "cudnn": torch.backends.cudnn.version()},
            "fused": os.environ.get("RNN_FUSED", "1") != "0"}
