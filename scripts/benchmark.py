"""Defaults on data no one tuned for: `rnn` with only the data described, against a tuned
torch.nn.RNN and naive baselines, on public datasets that install with pip and load offline.

    pip install aeon statsmodels scikit-learn torch
    OPENBLAS_NUM_THREADS=1 python scripts/benchmark.py                  # every set, seeds 0 1 2
    python scripts/benchmark.py --only airline lynx --seeds 0 --no-torch

Datasets and files: scripts/benchmark_data.py. Columns:
- defaults: `rnn train --set data.source=FILE` plus what describes the file (layout, index
  column), scored on the test file with `rnn eval` (forecasts: `--context` the training series);
- torch: torch.nn.RNN (tanh) + nn.Linear, Adam, batch 16, standardised inputs (and targets),
  the best epoch on a 15% validation split (the series' end for forecasts), up to 300 epochs,
  patience 40, tuned per dataset and seed over hidden size {32, 64} x lr {1e-3, 5e-3} by that
  validation loss; forecasts read the same windows as the defaults run;
- naive: classification: majority class and 1-NN (Euclidean, standardised, NaN padding as 0);
  forecasts: persistence (1.00 by definition of the score) and seasonal naive (the period
  the defaults run detected).
Forecast scores are test MSE / persistence MSE on the same test rows (lower is better; < 1
beats "repeat the last value"); classification scores are test accuracy. Progress and one JSON
line per run go to stderr and --log; the Markdown table goes to stdout.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy is imported
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from benchmark_data import DATASETS, Prepared, prepare  # noqa: E402

from rnncli import notices  # noqa: E402
from rnncli.config import load_config  # noqa: E402
from rnncli.data import load_dataset  # noqa: E402
from rnncli.errors import RnnError  # noqa: E402
from rnncli.training.loop import train  # noqa: E402
from rnncli.use.model_io import load_model  # noqa: E402
from rnncli.use.predict import evaluate_model, load_data_for_model  # noqa: E402

GRID = [(h, lr) for h in (32, 64) for lr in (1e-3, 5e-3)]
TORCH_EPOCHS, TORCH_PATIENCE, TORCH_BATCH, TORCH_VAL = 300, 40, 16, 0.15


def run_defaults(prep: Prepared, seed: int, out: Path, extra: list[str]) -> dict:
    """`rnn train` with only the data described; its test score, wall time and warnings."""
    seen: list[str] = []
    cfg = load_config([], [f"data.source={prep.train}", *prep.describe, *extra], seed=seed)
    t0 = time.perf_counter()
    with notices.handled_by(seen.append):
        summary = train(cfg, out)
        seconds = time.perf_counter() - t0
        model = load_model(out)
        context = str(prep.train) if prep.kind == "forecast" else None
        bundle = load_data_for_model(model, str(prep.test), context=context)
        metrics = evaluate_model(model, bundle)
    res = {"seconds": seconds, "epochs": summary["epochs"], "warnings": len(seen),
           "naive_warning": any("worse than the naive" in w for w in seen)}
    if prep.kind == "forecast":
        base = bundle.task.baselines
        res.update(score=metrics["mse"] / base["last_value_mse"], mse=metrics["mse"],
                   persistence=base["last_value_mse"], window=model.task.seq_len)
        if "seasonal_naive_mse" in base:
            res["seasonal"] = base["seasonal_naive_mse"] / base["last_value_mse"]
    else:
        res["score"] = metrics["accuracy"]
    return res


def _window(prep: Prepared) -> int | None:
    """The window rnn's defaults choose for a forecast series (when its run failed)."""
    if prep.kind != "forecast":
        return None
    rows = len(_csv_values(prep.train))
    return 50 if rows >= 251 else max(1, (rows - 1) // 5)


def _windows(values: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(len(values) - w)[:, None] + np.arange(w)[None, :]
    return values[idx][:, :, None], values[w:][:, None]


def _csv_values(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", skiprows=1, usecols=1, ndmin=1)


def torch_arrays(prep: Prepared, window: int | None, seed: int):
    """(train, val, test) as (X (N, T, I), y, lengths) float32, standardised with the training
    part's statistics; forecasts: windows of `window` rows, levels, targets in scaled units."""
    if prep.kind == "forecast":
        tr, te = _csv_values(prep.train), _csv_values(prep.test)
        n_val = max(1, int(round(TORCH_VAL * (len(tr) - window))))
        cut = len(tr) - n_val
        mean, std = tr[:cut].mean(), tr[:cut].std() or 1.0
        z = (np.concatenate([tr, te]) - mean) / std
        X, y = _windows(z, window)
        n_tr = cut - window
        parts = [(X[:n_tr], y[:n_tr]), (X[n_tr:n_tr + n_val], y[n_tr:n_tr + n_val]),
                 (X[len(tr) - window:], y[len(tr) - window:])]
        return [(x.astype(np.float32), t.astype(np.float32), None) for x, t in parts], (mean, std)
    cfg = load_config([], [f"data.source={prep.train}", *prep.describe, "data.standardize=true",
                           f"data.val_fraction={TORCH_VAL}"], seed=seed)
    bundle = load_dataset(cfg.data, seed=seed, dtype=np.float32)
    test = load_dataset(cfg.data.model_copy(update={"source": str(prep.test)}), seed=seed,
                        dtype=np.float32, fitted=bundle.task, split=False).train
    parts = [bundle.train, bundle.val, test]
    return [(d.X, d.y.astype(np.int64), d.lengths) for d in parts], None


def _fit_torch(parts, classify: bool, hidden: int, lr: float, seed: int):
    """Train one torch.nn.RNN; (best validation loss, test predictions at that epoch)."""
    import torch

    torch.manual_seed(seed)
    (xtr, ytr, ltr), (xva, yva, lva), (xte, _, lte) = parts
    n_out = int(ytr.max()) + 1 if classify else ytr.shape[1]
    rnn = torch.nn.RNN(xtr.shape[2], hidden, batch_first=True)
    head = torch.nn.Linear(hidden, n_out)
    params = [*rnn.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss() if classify else torch.nn.MSELoss()

    def out(x, ln):
        x = torch.from_numpy(np.ascontiguousarray(x, np.float32))
        hs, _ = rnn(x)
        last = torch.full((len(x),), x.shape[1] - 1) if ln is None else torch.from_numpy(ln - 1)
        return head(hs[torch.arange(len(x)), last])

    def sub(ln, i):
        return None if ln is None else ln[i]

    rng = np.random.default_rng(seed)
    yt = torch.from_numpy(ytr)
    yv = torch.from_numpy(yva)
    best, best_pred, bad = np.inf, None, 0
    for _ in range(TORCH_EPOCHS):
        order = rng.permutation(len(xtr))
        for s in range(0, len(xtr), TORCH_BATCH):
            i = order[s:s + TORCH_BATCH]
            opt.zero_grad()
            loss_fn(out(xtr[i], sub(ltr, i)), yt[i]).backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
        with torch.no_grad():
            val = float(loss_fn(out(xva, lva), yv))
            if val < best:
                best, bad, best_pred = val, 0, out(xte, lte).numpy()
            else:
                bad += 1
        if bad >= TORCH_PATIENCE:
            break
    return best, best_pred


def run_torch(prep: Prepared, seed: int, window: int | None) -> dict:
    """The tuned torch.nn.RNN: the grid point with the best validation loss, scored on test."""
    import torch

    torch.set_num_threads(1)
    parts, scale = torch_arrays(prep, window, seed)
    classify = prep.kind == "classification"
    t0 = time.perf_counter()
    fits = [(_fit_torch(parts, classify, h, lr, seed), h, lr) for h, lr in GRID]
    (_, pred), h, lr = min(fits, key=lambda f: f[0][0])
    res = {"seconds": time.perf_counter() - t0, "hidden": h, "lr": lr}
    yte = parts[2][1]
    if classify:
        res["score"] = float((pred.argmax(1) == yte).mean())
        return res
    mean, std = scale
    truth, guess = yte[:, 0] * std + mean, pred[:, 0] * std + mean
    last = parts[2][0][:, -1, 0] * std + mean
    res["score"] = float(np.mean((guess - truth) ** 2) / np.mean((last - truth) ** 2))
    return res


def naive_classification(prep: Prepared) -> dict:
    """Majority class and 1-NN accuracy on the test file."""
    tr, te = np.load(prep.train), np.load(prep.test)
    ytr, yte = tr["y"], te["y"]
    values, counts = np.unique(ytr, return_counts=True)
    majority = float(np.mean(yte == values[np.argmax(counts)]))
    t = max(tr["X"].shape[2], te["X"].shape[2])  # (N, C, T): ragged sets pad T to one length
    a, b = (np.nan_to_num(np.pad(x, ((0, 0), (0, 0), (0, t - x.shape[2])))).reshape(len(x), -1)
            for x in (tr["X"], te["X"]))
    mu, sd = a.mean(0), a.std(0) + 1e-12
    a, b = (a - mu) / sd, (b - mu) / sd
    d = (b ** 2).sum(1)[:, None] - 2 * b @ a.T + (a ** 2).sum(1)[None, :]
    return {"majority": majority, "nn1": float(np.mean(ytr[d.argmin(1)] == yte))}


def _cell(values: list[float], fmt: str) -> str:
    a = np.asarray(values, float)
    return f"{a.mean():{fmt}} ± {a.std():{fmt}}" if len(a) > 1 else f"{a.mean():{fmt}}"


def table_row(prep: Prepared, runs: list[dict], torch_runs: list[dict], naive: dict,
              before: list[dict] | None = None) -> str:
    """One Markdown row; `before`: the runs of an earlier version's defaults (--before LOG)."""
    fmt = ".1%" if prep.kind == "classification" else ".2f"

    def scores(rs: list[dict]) -> str:
        ok = [r["score"] for r in rs if "score" in r]
        return _cell(ok, fmt) if ok else ("error" if any("error" in r for r in rs) else "-")

    if prep.kind == "classification":
        base = f"majority {naive['majority']:.1%}, 1-NN {naive['nn1']:.1%}"
    else:
        seasonal = [r["seasonal"] for r in runs if "seasonal" in r]
        base = "persistence 1.00" + (f", seasonal {np.mean(seasonal):.2f}" if seasonal else "")
    wall = f"{np.mean([r['seconds'] for r in runs if 'seconds' in r] or [np.nan]):.0f} s"
    twall = f"{np.mean([r['seconds'] for r in torch_runs]):.0f} s" if torch_runs else "-"
    old = f" {scores(before)} |" if before is not None else ""
    return f"| {prep.about} |{old} {scores(runs)} | {scores(torch_runs)} | {base} | {wall} | {twall} |"


def table_from_logs(logs: list[Path], before: Path | None, work: Path) -> None:
    """The Markdown table of runs logged by --log (several runs may share the work)."""
    lines = [json.loads(t) for log in logs for t in log.read_text().splitlines() if t.strip()]
    old = [json.loads(t) for t in before.read_text().splitlines() if t.strip()] if before else []
    _header(before is not None)
    for name in DATASETS:
        mine = [r for r in lines if r["dataset"] == name]
        if not mine:
            continue
        prep = prepare(name, work)
        naive = naive_classification(prep) if prep.kind == "classification" else {}
        was = [r["defaults"] for r in old if r["dataset"] == name] if before else None
        print(table_row(prep, [r["defaults"] for r in mine], [r["torch"] for r in mine if "torch" in r],
                        naive, was))


def _header(before: bool) -> None:
    old = " before |" if before else ""
    print(f"| dataset |{old} defaults | tuned torch.nn.RNN | naive | defaults wall | torch wall |")
    print("|---|" + "---|" * (5 + before), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=DATASETS, default=DATASETS)
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--no-torch", action="store_true", help="skip the torch.nn.RNN column")
    parser.add_argument("--set", action="append", default=[], help="extra override for 'defaults'")
    parser.add_argument("--log", type=Path, help="also append one JSON line per run here")
    parser.add_argument("--from-log", type=Path, nargs="*", help="only print the table of these logs")
    parser.add_argument("--before", type=Path, help="with --from-log: a log of earlier defaults")
    args = parser.parse_args()
    if args.from_log:
        with tempfile.TemporaryDirectory() as tmp:
            table_from_logs(args.from_log, args.before, Path(tmp))
        return
    _header(False)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in args.only:
            prep = prepare(name, work)
            naive = naive_classification(prep) if prep.kind == "classification" else {}
            runs, torch_runs = [], []
            for seed in args.seeds:
                try:
                    res = run_defaults(prep, seed, work / f"{name}-{seed}", args.set)
                except RnnError as exc:  # a default that fails on the data is a result too
                    res = {"error": str(exc)[:200]}
                line = {"dataset": name, "seed": seed, "defaults": res}
                runs.append(res)
                if not args.no_torch:
                    torch_runs.append(run_torch(prep, seed, res.get("window") or _window(prep)))
                    line["torch"] = torch_runs[-1]
                text = json.dumps(line)
                print(text, file=sys.stderr, flush=True)
                if args.log:
                    with args.log.open("a") as f:
                        f.write(text + "\n")
            print(table_row(prep, runs, torch_runs, naive), flush=True)


if __name__ == "__main__":
    main()
