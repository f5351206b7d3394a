"""Train on public real datasets with the defaults, with tuned settings, and with torch.nn.RNN.

    python scripts/real_data_table.py                       # every dataset, seeds 0 1 2
    python scripts/real_data_table.py --only gunpoint --seeds 0

The datasets install with the package registry and load offline: UCR/UEA sets shipped inside
aeon (GunPoint, ItalyPowerDemand, BasicMotions, JapaneseVowels), scikit-learn's digits (8x8
images read as 8 steps of 8 features) and statsmodels' yearly sunspots. Each is written to the
files a user would make (.npz with the dataset's own labels and layout, .csv with its year
column) and trained as a user would:
- defaults: only the data described (`data.source`, its layout or index column);
- tuned: settings chosen by hand per dataset (TUNED below);
- torch: torch.nn.RNN + nn.Linear with the defaults run's resolved settings (hidden size,
  init of W_hh, Adam and its lr, batch size, epochs, patience, clip 1.0) on the very same
  standardised arrays, keeping the weights of the best validation loss;
- gru, lstm (--cells): the defaults with `model.cell` set, everything else as the defaults run.
Scores are on the dataset's own test split: accuracy, or RMSE in sunspot numbers. One BLAS
thread. Prints a Markdown table (mean ± std over seeds) on stdout, progress on stderr.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy is imported
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmark_data import nan_pad  # noqa: E402  (scripts/, beside this file)

from rnncli.config import load_config  # noqa: E402
from rnncli.data import load_dataset  # noqa: E402
from rnncli.training.loop import train  # noqa: E402
from rnncli.use.model_io import load_model  # noqa: E402
from rnncli.use.predict import evaluate_model, load_data_for_model  # noqa: E402

# name -> data description (what any user must say about the file), tuned overrides
DATASETS: dict[str, tuple[list[str], list[str]]] = {
    "gunpoint": (["data.layout=NCT"], ["train.epochs=400", "train.batch_size=16"]),
    "italy_power": (["data.layout=NCT"], ["train.epochs=200", "train.batch_size=8"]),
    "basic_motions": (["data.layout=NCT"], ["train.epochs=300", "train.batch_size=8"]),
    "japanese_vowels": (["data.layout=NCT"], ["train.epochs=100", "train.batch_size=16"]),
    "digits": ([], ["train.epochs=60", "model.hidden_size=128"]),
    "sunspots": (["data.index_column=YEAR", "data.seq_len=20"],
                 ["train.epochs=300", "train.batch_size=16", "model.hidden_size=32"]),
}
DESCRIBE = {
    "gunpoint": "GunPoint (aeon): 2 classes, 50 train / 150 test, 150 steps",
    "italy_power": "ItalyPowerDemand (aeon): 2 classes, 67 / 1029, 24 steps",
    "basic_motions": "BasicMotions (aeon): 4 classes, 6 channels, 40 / 40, 100 steps",
    "japanese_vowels": "JapaneseVowels (aeon): 9 classes, 12 channels, 270 / 370, 7-29 steps",
    "digits": "digits (scikit-learn): 10 classes, 1000 / 797, 8 steps x 8 features",
    "sunspots": "yearly sunspots (statsmodels): 250 / 59 years, windows of 20",
}


def prepare(name: str, work: Path) -> tuple[Path, Path]:
    """Write the dataset's train and test files into `work`; returns their paths."""
    if name == "sunspots":
        import statsmodels.api as sm

        df = sm.datasets.sunspots.load_pandas().data
        df["YEAR"] = df["YEAR"].astype(int)
        tr, te = work / "sunspots_train.csv", work / "sunspots_test.csv"
        df.iloc[:250].to_csv(tr, index=False)
        df.iloc[250:].to_csv(te, index=False)
        return tr, te
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        X, y = d.data.reshape(-1, 8, 8), d.target
        splits = {"train": (X[:1000], y[:1000]), "test": (X[1000:], y[1000:])}
    else:
        from aeon import datasets

        loader = {"gunpoint": datasets.load_gunpoint, "italy_power": datasets.load_italy_power_demand,
                  "basic_motions": datasets.load_basic_motions,
                  "japanese_vowels": datasets.load_japanese_vowels}[name]
        splits = {}
        for part in ("train", "test"):
            X, y = loader(split=part)
            splits[part] = (nan_pad(list(X)) if isinstance(X, list) else X, y)
    paths = []
    for part in ("train", "test"):
        path = work / f"{name}_{part}.npz"
        np.savez(path, X=splits[part][0], y=splits[part][1])
        paths.append(path)
    return paths[0], paths[1]


def _score(metrics: dict) -> float:
    return metrics["accuracy"] if "accuracy" in metrics else metrics["rmse"]


def run_rnn(train_path: Path, test_path: Path, overrides: list[str], seed: int, out: Path):
    """Train with `rnn`'s loop; (test score, seconds, resolved config)."""
    cfg = load_config([], [f"data.source={train_path}", *overrides], seed=seed)
    t0 = time.perf_counter()
    train(cfg, out)
    seconds = time.perf_counter() - t0
    model = load_model(out)  # the run directory: its best weights
    metrics = evaluate_model(model, load_data_for_model(model, str(test_path)))
    return _score(metrics), seconds, model.cfg, metrics


def run_torch(cfg, test_path: Path, seed: int) -> tuple[float, float]:
    """torch.nn.RNN with the resolved settings `cfg` on the same prepared arrays; (score, s)."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    dtype = np.dtype(cfg.train.dtype)
    bundle = load_dataset(cfg.data, seed=cfg.seed, dtype=dtype, base_dir=ROOT)
    task = bundle.task
    test = load_dataset(cfg.data.model_copy(update={"source": str(test_path), "val_source": None}),
                        seed=cfg.seed, dtype=dtype, base_dir=ROOT, fitted=task, split=False).train
    m, tc = cfg.model, cfg.train
    rnn = torch.nn.RNN(task.input_size, m.hidden_size, m.num_layers, nonlinearity=m.nonlinearity,
                       batch_first=True)
    if m.recurrent_init == "orthogonal":
        for k in range(m.num_layers):
            torch.nn.init.orthogonal_(getattr(rnn, f"weight_hh_l{k}"))
    for k in range(m.num_layers):
        torch.nn.init.zeros_(getattr(rnn, f"bias_hh_l{k}"))
    head = torch.nn.Linear(m.hidden_size, task.output_size)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=tc.lr)
    classify = task.loss == "cross_entropy"
    loss_fn = torch.nn.CrossEntropyLoss() if classify else torch.nn.MSELoss()

    def tensors(d):
        x = torch.from_numpy(np.ascontiguousarray(d.X))
        y = torch.from_numpy(d.y.astype(np.int64) if classify else d.y)
        ln = torch.from_numpy(d.lengths) if d.lengths is not None else torch.full(
            (len(d),), d.X.shape[1], dtype=torch.int64)
        return x, y, ln

    def outputs(x, ln):
        hs, _ = rnn(x)
        return head(hs[torch.arange(len(x)), ln - 1])

    def evaluate(d):
        x, y, ln = tensors(d)
        with torch.no_grad():
            out = outputs(x, ln)
            if classify:
                return float(loss_fn(out, y)), float((out.argmax(1) == y).float().mean())
            pred = out.numpy() * np.asarray(task.scaler["target_std"]) + np.asarray(
                task.scaler["target_mean"]) if task.scaler else out.numpy()
            true = d.y * np.asarray(task.scaler["target_std"]) + np.asarray(
                task.scaler["target_mean"]) if task.scaler else d.y
            return float(loss_fn(out, y)), float(np.sqrt(np.mean((pred - true) ** 2)))

    x, y, ln = tensors(bundle.train)
    rng = np.random.default_rng(seed)
    best, best_state, bad = np.inf, None, 0
    t0 = time.perf_counter()
    for _epoch in range(tc.epochs):
        order = torch.from_numpy(rng.permutation(len(x)))
        for s in range(0, len(x), tc.batch_size):
            idx = order[s : s + tc.batch_size]
            opt.zero_grad()
            loss = loss_fn(outputs(x[idx], ln[idx]), y[idx])
            loss.backward()
            if tc.clip_norm:
                torch.nn.utils.clip_grad_norm_(params, tc.clip_norm)
            opt.step()
        val_loss = evaluate(bundle.val)[0] if bundle.val is not None else float(loss)
        if val_loss < best:
            best, bad = val_loss, 0
            best_state = [p.detach().clone() for p in params]
        else:
            bad += 1
            if tc.patience and bad >= tc.patience:
                break
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        for p, b in zip(params, best_state, strict=True):
            p.copy_(b)
    return evaluate(test)[1], seconds


def _cell(values: list[float], fmt: str) -> str:
    a = np.asarray(values)
    return f"{a.mean():{fmt}} ± {a.std():{fmt}}" if len(a) > 1 else f"{a.mean():{fmt}}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--no-torch", action="store_true", help="skip the torch.nn.RNN column")
    parser.add_argument("--no-tuned", action="store_true", help="skip the tuned column")
    parser.add_argument("--set", action="append", default=[], help="extra override for 'defaults'")
    parser.add_argument("--cells", nargs="*", choices=["gru", "lstm"], default=["gru", "lstm"],
                        help="a column per gated cell: the defaults with model.cell set")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    cells = "".join(f" {c.upper()}, defaults |" for c in args.cells)
    print("| dataset | metric (test) | defaults | tuned | torch.nn.RNN, defaults' settings |"
          f"{cells} defaults: epochs run, time |")
    print("|---|---|---|---|---|---|" + "---|" * len(args.cells))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in args.only:
            describe, tuned = DATASETS[name]
            tr, te = prepare(name, work)
            res: dict[str, list[float]] = {"defaults": [], "tuned": [], "torch": [],
                                           **{c: [] for c in args.cells}}
            epochs, secs = [], []
            for seed in args.seeds:
                out = work / f"{name}-{seed}"
                score, s, cfg, _ = run_rnn(tr, te, [*describe, *args.set], seed, out)
                res["defaults"].append(score)
                secs.append(s)
                epochs.append(sum(1 for _ in open(out / "metrics.jsonl")))
                if not args.no_tuned:
                    res["tuned"].append(
                        run_rnn(tr, te, [*describe, *tuned], seed, work / f"{name}-t{seed}")[0])
                if not args.no_torch:
                    res["torch"].append(run_torch(cfg, te, seed)[0])
                for c in args.cells:
                    res[c].append(run_rnn(tr, te, [*describe, *args.set, f"model.cell={c}"], seed,
                                          work / f"{name}-{c}{seed}")[0])
                print(f"{name} seed {seed}: " + ", ".join(f"{k} {v[-1]:.4g}" for k, v in res.items()
                                                          if v), file=sys.stderr, flush=True)
            fmt = ".1%" if name != "sunspots" else ".1f"
            metric = "accuracy" if name != "sunspots" else "RMSE"
            torch_cell = _cell(res["torch"], fmt) if res["torch"] else "-"
            tuned_cell = _cell(res["tuned"], fmt) if res["tuned"] else "-"
            gated = "".join(f" {_cell(res[c], fmt)} |" for c in args.cells)
            print(f"| {DESCRIBE[name]} | {metric} | {_cell(res['defaults'], fmt)} | "
                  f"{tuned_cell} | {torch_cell} |{gated} {np.mean(epochs):.0f}, "
                  f"{np.mean(secs):.0f} s |", flush=True)


if __name__ == "__main__":
    main()
