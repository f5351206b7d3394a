"""Validation bits/char against wall time for a text config: `rnn train` and torch side by side.

    OPENBLAS_NUM_THREADS=1 python scripts/text_curve.py -c configs/shakespeare.yaml \
        --set data.path=tinyshakespeare.txt --out /tmp/curve

Runs, at the same time and with one thread each (so both see the same machine load), `rnn train` on
the config and the same model in torch: the same data windows and stream order (read through rnncli's
own loader), the same initial weights, Adam settings, gradient clipping and learning-rate schedule (the
lr of every batch from rnncli.training.schedules, which tests/test_schedules.py checks against torch's
schedulers). torch.nn.RNN runs the layers; with model.recurrent_dropout it has no such option, so the
torch side then steps a Python loop over time with the same weights and one mask per sequence and layer,
as a torch user would write it. Prints a Markdown table: epoch, cumulative CPU and wall seconds (training +
validation) and val bits/char of each; the raw numbers are in OUT/rnn.jsonl and OUT/torch.jsonl (the
run directory is OUT/rnn). CPU seconds are each process's own: on a machine shared with other jobs they
are what an idle core would take, where wall seconds grow with the load.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _config(paths: list[str], sets: list[str]):
    from rnncli.config import load_config

    return load_config([Path(p) for p in paths], sets)


def _torch_model(cfg, spec, params):
    import torch

    from rnncli.use.torch_layout import torch_args, torch_class, torch_state_dicts

    rnn = getattr(torch.nn, torch_class(spec))(**torch_args(spec), dropout=cfg.model.dropout)
    head = torch.nn.Linear(spec.hidden_size, spec.output_size)
    rnn_state, head_state = torch_state_dicts(params, spec)
    rnn.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in rnn_state.items()})
    head.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in head_state.items()})
    return rnn, head


def _variational(rnn, x, h0, rate: float, between: float, training: bool):
    """The stack stepped in Python with one recurrent-dropout mask per layer (torch has none built in)."""
    import torch

    u, finals = x, []
    act = torch.tanh if rnn.nonlinearity == "tanh" else torch.relu
    for l in range(rnn.num_layers):
        W_ih, W_hh = getattr(rnn, f"weight_ih_l{l}"), getattr(rnn, f"weight_hh_l{l}")
        b = getattr(rnn, f"bias_ih_l{l}") + getattr(rnn, f"bias_hh_l{l}")
        if l > 0 and training and between > 0:
            u = torch.nn.functional.dropout(u, between)
        proj = u @ W_ih.T + b
        h = h0[l]
        mask = (torch.rand_like(h) >= rate).to(h.dtype) / (1 - rate) if training else None
        outs = []
        for t in range(x.shape[1]):
            h = act(proj[:, t] + (h if mask is None else h * mask) @ W_hh.T)
            outs.append(h)
        u = torch.stack(outs, 1)
        finals.append(h)
    return u, torch.stack(finals)


def torch_worker(args) -> None:
    """Train the config's model in torch, writing one JSON line per epoch to args.torch_out."""
    import torch

    from rnncli.core.cells import map_state
    from rnncli.core.init import init_params
    from rnncli.data import iterate_batches, load_dataset, num_batches
    from rnncli.training.build import build_spec, init_options
    from rnncli.training.schedules import schedule_from_config, scheduled_lr

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = _config(args.config, args.set)
    tc, m = cfg.train, cfg.model
    data = load_dataset(cfg.data, seed=cfg.seed, dtype=np.float32, base_dir=Path.cwd())
    cfg, spec = build_spec(cfg, data.task)
    if m.recurrent_dropout > 0 and spec.cell != "rnn":
        sys.exit(f"text_curve: torch.nn.{spec.cell_module.TORCH_CLASS} has no recurrent dropout to compare")
    params = init_params(spec, np.random.default_rng([cfg.seed, 0]), **init_options(m), dtype=np.float32)
    rnn, head = _torch_model(cfg, spec, params)
    weights = [*rnn.parameters(), *head.parameters()]
    opt = torch.optim.Adam(weights, lr=tc.lr, betas=(tc.beta1, tc.beta2), eps=tc.eps)
    steps = num_batches(data.train, tc.batch_size)
    sched = schedule_from_config(tc, steps)

    def run(ids, h, training):
        x = torch.from_numpy(ids)
        if not x.is_floating_point():  # token ids, one-hot as rnncli's core encodes them
            x = torch.nn.functional.one_hot(x, spec.input_size).to(torch.float32)
        if h is None:  # h0, or (h0, c0) for the LSTM, as torch takes them; B streams (<= batch_size)
            parts = tuple(torch.zeros(spec.state_shape(x.shape[0])) for _ in spec.state_names)
            h = parts[0] if len(parts) == 1 else parts
        if m.recurrent_dropout > 0:
            return _variational(rnn, x, h, m.recurrent_dropout, m.dropout, training)
        return rnn(x, h)

    start, cpu0, step, out = time.perf_counter(), time.process_time(), 0, open(args.torch_out, "w")  # noqa: SIM115
    for epoch in range(tc.epochs):
        rnn.train()
        h = None
        for batch in iterate_batches(data.train, data.task, tc.batch_size, dtype=np.float32):
            for g in opt.param_groups:
                g["lr"] = scheduled_lr(sched, step, epoch)
            hs, h = run(batch.x, map_state(torch.Tensor.detach, h), True)
            loss = torch.nn.functional.cross_entropy(head(hs).reshape(-1, spec.output_size),
                                                     torch.from_numpy(batch.y).reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(weights, tc.clip_norm)
            opt.step()
            step += 1
        rnn.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            h = None
            for batch in iterate_batches(data.val, data.task, tc.batch_size, dtype=np.float32):
                hs, h = run(batch.x, h, False)
                logits = head(hs).reshape(-1, spec.output_size)
                total += float(torch.nn.functional.cross_entropy(
                    logits, torch.from_numpy(batch.y).reshape(-1), reduction="sum"))
                count += batch.y.size
        rec = {"epoch": epoch + 1, "seconds": time.perf_counter() - start,
               "cpu_seconds": time.process_time() - cpu0, "val_bpc": total / count / math.log(2)}
        out.write(json.dumps(rec) + "\n")
        out.flush()


def rnn_worker(args) -> None:
    """`rnn train` in this process, writing each epoch's wall and CPU time to args.rnn_out."""
    from rnncli.training.callbacks import TrainCallbacks
    from rnncli.training.loop import train

    out = open(args.rnn_out, "w")  # noqa: SIM115
    start = {}

    class Times(TrainCallbacks):
        def on_train_start(self, info: dict) -> None:  # data loaded: the clocks start, as in torch_worker
            start.update(wall=time.perf_counter(), cpu=time.process_time())

        def on_epoch_end(self, record: dict) -> None:
            out.write(json.dumps({"epoch": record["epoch"], "seconds": time.perf_counter() - start["wall"],
                                  "cpu_seconds": time.process_time() - start["cpu"],
                                  "val_bpc": record["val_bpc"]}) + "\n")
            out.flush()

    train(_config(args.config, args.set), args.out / "rnn", callbacks=Times())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-c", "--config", action="append", required=True)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--torch-out", help=argparse.SUPPRESS)
    ap.add_argument("--rnn-out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_out:
        torch_worker(args)
        return
    if args.rnn_out:
        rnn_worker(args)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(args.threads), "OMP_NUM_THREADS": str(args.threads)}
    sets = [a for s in args.set for a in ("--set", s)]
    cfgs = [a for c in args.config for a in ("-c", c)]
    common = [sys.executable, __file__, *cfgs, *sets, "--out", str(args.out), "--threads", str(args.threads)]
    ours = subprocess.Popen([*common, "--rnn-out", str(args.out / "rnn.jsonl")], env=env)
    theirs = subprocess.Popen([*common, "--torch-out", str(args.out / "torch.jsonl")], env=env)
    if ours.wait() or theirs.wait():
        sys.exit("a run failed")
    print_table(args.out)


def print_table(out: Path) -> None:
    """epoch | CPU s, wall s, val bits/char of rnn | the same of torch (as far as each got)."""
    runs = [[json.loads(x) for x in (out / f"{n}.jsonl").read_text().splitlines()] for n in ("rnn", "torch")]
    print("| epoch | rnn CPU s | rnn wall s | rnn val bits/char | torch CPU s | torch wall s | "
          "torch val bits/char |")
    print("|---|---|---|---|---|---|---|")
    for e in range(max(len(r) for r in runs)):
        cells = []
        for r in runs:
            cells += ([f"{r[e]['cpu_seconds']:.0f}", f"{r[e]['seconds']:.0f}", f"{r[e]['val_bpc']:.3f}"]
                      if e < len(r) else ["", "", ""])
        print(f"| {e + 1} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
