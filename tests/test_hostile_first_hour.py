"""Issue 22 battery, the first hour: what a newcomer meets on an 80-column terminal. A command waiting
on a terminal says for what; status lines fit COLUMNS (also when piped) and wrap between words; a file
named with -o that cannot be made is an error; commands say which weights they read and what they
wrote; an export carries no absolute path, names its classes and takes the layout predict takes;
labels 1, 1.0 and "1" are one class; an export never replaces the weights it reads.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import numpy as np
import pytest
from conftest import RNN, assert_error, needs, proc_env, rnn

SEQ = '{"x": [[0.5], [0.6]]}\n'


@pytest.mark.parametrize("command", ["predict", "states"])
def test_a_terminal_stdin_is_told_what_to_type(command, trained, tmp_path):
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([*RNN, command, str(trained)], stdin=slave, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=proc_env(), cwd=tmp_path)
        os.write(master, b'{"x": [[0.5], [0.6]]}\n\x04')  # a line, then Ctrl-D
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0, err
    assert b"from standard input; end with Ctrl-D" in err and b'{"x": [[0.1], [0.2]]}' in err
    assert out.strip()  # the data is on stdout, the note on stderr only


def test_a_pipe_is_read_without_a_note(trained):
    r = rnn("predict", trained, "-", input=SEQ)
    assert r.exit_code == 0 and "standard input" not in r.stderr


@pytest.mark.parametrize("command", ["predict", "states"])
def test_writing_to_a_file_is_confirmed_and_the_weights_named(command, trained, tmp_path):
    out = tmp_path / "o.csv"
    r = rnn(command, trained, "-", "-o", out, input=SEQ)
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "" and f"wrote {out}" in r.stderr
    assert f"weights: {trained / 'best.npz'} (best validation loss, epoch" in r.stderr


def test_export_names_the_weights_it_read(trained, tmp_path):
    needs("onnx")
    r = rnn("export", trained, "-o", tmp_path / "m.onnx")
    assert r.exit_code == 0, r.stderr
    assert f"weights: {trained / 'best.npz'}" in r.stderr


@pytest.mark.slow
def test_status_lines_fit_columns_also_when_piped(tmp_path):
    """COLUMNS=80 with stderr piped: epoch lines fit (extra metrics left out), longer lines wrap
    between words, never inside a number."""
    env = proc_env(COLUMNS="80")
    done = subprocess.run([*RNN, "train", "--set", "data.source=sine", "--set", "data.num_samples=64",
                           "--set", "train.epochs=2", "-o", str(tmp_path / "run")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert len(epochs) == 2 and all("val_loss" in line for line in epochs)
    done = subprocess.run([*RNN, "diagnose", str(tmp_path / "run")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert max(len(line) for line in done.stderr.splitlines()) <= 80
    words = done.stderr.split()
    assert any(w.startswith("healthy") or w == "gradients:" for w in words)


def test_the_epoch_line_keeps_loss_and_val_loss_whatever_the_width():
    from rnncli.cli.render import epoch_line

    record = {"epoch": 3, "loss": 0.123456, "val_loss": 0.2345, "val_mse": 0.3, "val_rmse": 0.5,
              "val_mae": 0.4, "seconds": 1.0}
    wide = epoch_line(record, 10, 50, 12.0)
    assert "val_mae" in wide and wide.endswith("elapsed")
    narrow = epoch_line(record, 10, 50, 12.0, width=60)
    assert len(narrow) <= 60 and "loss 0.1235 val_loss 0.2345" in narrow and "val_mae" not in narrow


@pytest.mark.parametrize("command", [["diagnose", "--map", "-o", "{d}/map.png"],
                                     ["plot", "{w}", "-o", "{d}/c.png"]])
def test_a_named_figure_without_matplotlib_is_an_error(command, trained, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    args = [a.format(d=tmp_path, w=trained) for a in command]
    assert_error(rnn(*args), 2, "needs matplotlib", "pip install 'rnncli[plot]'",
                 absent=[tmp_path / "map.png", tmp_path / "c.png"])


def test_export_never_replaces_the_weights_it_reads(trained, tmp_path):
    w = tmp_path / "w.npz"
    w.write_bytes((trained / "model.npz").read_bytes())
    before = w.read_bytes()
    assert_error(rnn("export", w, "--format", "safetensors", "-o", w), 2, f"-o {w}",
                 "is the weights file this command reads")
    assert w.read_bytes() == before
    (tmp_path / "link.npz").symlink_to(w)
    assert_error(rnn("export", tmp_path / "link.npz", "--format", "torch", "-o", w), 2, "is the weights file")


@pytest.mark.parametrize("fmt, extra", [("onnx", "onnx"), ("torch", "torch"), ("safetensors", "safetensors")])
def test_exports_carry_no_absolute_path(fmt, extra, tmp_path):
    needs(extra)
    (tmp_path / "s.csv").write_text("t,v\n" + "".join(f"{i},{(i * 7) % 11}\n" for i in range(60)))
    r = rnn("train", "--set", f"data.source={tmp_path / 's.csv'}", "--set", "data.seq_len=5", "--set",
            "data.forecast=level", "--set", "model.hidden_size=4", "--set", "train.epochs=1", "-q",
            "-o", tmp_path / "run")
    assert r.exit_code == 0, r.stderr
    out = tmp_path / f"m.{ {'onnx': 'onnx', 'torch': 'pt', 'safetensors': 'safetensors'}[fmt] }"
    r = rnn("export", tmp_path / "run", "--format", fmt, "-o", out)
    assert r.exit_code == 0, r.stderr
    assert str(tmp_path).encode() not in out.read_bytes()


def _onnx_props(path) -> dict:
    import onnx

    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def test_onnx_names_its_classes(tmp_path):
    needs("onnx")
    lines = [json.dumps({"x": [[i / 10], [1 - i / 10]], "y": ["cat", "dog"][i % 2]}) for i in range(40)]
    (tmp_path / "c.jsonl").write_text("\n".join(lines) + "\n")
    r = rnn("train", "--set", f"data.source={tmp_path / 'c.jsonl'}", "--set", "model.hidden_size=4",
            "--set", "train.epochs=1", "-q", "-o", tmp_path / "run")
    assert r.exit_code == 0, r.stderr
    assert rnn("export", tmp_path / "run", "-o", tmp_path / "c.onnx").exit_code == 0
    assert json.loads(_onnx_props(tmp_path / "c.onnx")["classes"]) == ["cat", "dog"]


def test_an_nct_model_exports_a_graph_taking_nct(tmp_path):
    needs("onnx")
    ort = needs("onnxruntime")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 2, 6)).astype(np.float32), rng.normal(size=(40, 1)).astype(np.float32)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    r = rnn("train", "--set", f"data.source={tmp_path / 'd.npz'}", "--set", "data.layout=NCT", "--set",
            "model.hidden_size=4", "--set", "train.epochs=1", "-q", "-o", tmp_path / "run")
    assert r.exit_code == 0, r.stderr
    r = rnn("export", tmp_path / "run", "-o", tmp_path / "m.onnx")
    assert r.exit_code == 0 and "matches the model" in r.stderr, r.stderr
    np.save(tmp_path / "x.npy", X[:3])  # (N, C, T), as predict reads it
    predicted = rnn("predict", tmp_path / "run", tmp_path / "x.npy")
    want = np.array([float(v) for v in predicted.stdout.split()[1:]])
    got = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"x": X[:3]})[0].ravel()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert _onnx_props(tmp_path / "m.onnx")["layout"] == "NCT"


def test_labels_1_and_1_0_and_text_1_are_one_class(tmp_path):
    labels = ["1", 1, 1.0, 0, "0", 0.0, "1.0", "+0"]
    lines = [json.dumps({"x": [[i / 10], [0.5]], "y": labels[i % len(labels)]}) for i in range(48)]
    (tmp_path / "l.jsonl").write_text("\n".join(lines) + "\n")
    r = rnn("train", "--set", f"data.source={tmp_path / 'l.jsonl'}", "--set", "model.hidden_size=4",
            "--set", "train.epochs=1", "-q", "-o", tmp_path / "run")
    assert r.exit_code == 0, r.stderr
    from rnncli.weights import read_meta

    assert [str(c) for c in read_meta(tmp_path / "run")["task"]["classes"]] == ["0", "1"]


def _commands():
    """Every command and group by its words: "train", "config", "config show", ... and "" (rnn)."""
    import typer

    from rnncli.cli import app

    root = typer.main.get_command(app)
    found = {"": root}
    for name, cmd in root.commands.items():
        found[name] = cmd
        for sub, subcmd in getattr(cmd, "commands", {}).items():
            found[f"{name} {sub}"] = subcmd
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(_commands()))
def test_help_at_80_columns(name, monkeypatch):
    import inspect

    monkeypatch.setenv("COLUMNS", "80")
    r = rnn(*name.split(), "--help")
    assert r.exit_code == 0, r.output
    text = r.stdout
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage and "[[" not in usage, usage
    assert "<bool>" not in text  # a flag takes no value: --json true is refused
    assert max(len(line) for line in text.splitlines()) <= 80
    callback = _commands()[name].callback
    doc = (inspect.getdoc(callback) or "") if callback else ""
    examples = doc.partition("Examples:")[2].splitlines()
    for line in examples:  # each fits on one line of the help, so it can be pasted
        assert len(line) + 1 <= 78, line


def test_prose_is_reflowed_examples_are_not():
    from rnncli.cli.help_format import reflow

    text = "First line.\n\nA paragraph\nbroken in the source.\n\nExamples:\n  rnn a\n  rnn b \\\n    --c"
    assert reflow(text) == ("First line.\n\nA paragraph broken in the source.\n\n"
                            "Examples:\n  rnn a\n  rnn b \\\n    --c")
