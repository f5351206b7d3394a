"""Word-level text: tokens, the vocabulary with <unk>, loading, and the commands on a word model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_error, rnn

from rnncli.data import DataConfig, load_dataset
from rnncli.data.words import UNK, build_word_vocab, detokenize, encode_words, tokenize

CORPUS = "The cat sat.\nThe dog sat, then the cat ran (fast).\nDon't stop!\n" * 6


def test_tokens_are_words_punctuation_and_line_breaks():
    assert tokenize("Don't stop, cat!\n(Now)") == ["Don't", "stop", ",", "cat", "!", "\n", "(", "Now", ")"]
    text = "The cat sat, then ran (fast).\nDon't stop!"
    assert detokenize(tokenize(text)) == text
    assert detokenize(["sat", "."], after="cat") == " sat."


def test_vocabulary_is_unk_then_most_frequent_first_cut_by_size_and_count():
    words = tokenize("b a b c b a d")
    assert build_word_vocab(words) == [UNK, "b", "a", "c", "d"]  # ties alphabetical
    assert build_word_vocab(words, vocab_size=3) == [UNK, "b", "a"]
    assert build_word_vocab(words, min_count=2) == [UNK, "b", "a"]
    assert encode_words(["a", "zebra", "b"], [UNK, "b", "a"]).tolist() == [2, 0, 1]


def test_word_corpus_loads_with_the_training_vocabulary_and_unk_in_validation(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(CORPUS + "Zebras unseen here .\n" * 2)
    cfg = DataConfig(source="text", path=str(path), tokens="word", seq_len=4, val_fraction=0.1)
    bundle = load_dataset(cfg, seed=0)
    task = bundle.task
    assert task.tokens == "word" and task.vocab[0] == UNK and "Zebras" not in task.vocab
    assert task.input_size == task.output_size == len(task.vocab)
    assert (bundle.val.X == 0).any()  # the validation tail's unseen words read as <unk>
    assert set(task.baselines) == {"unigram_bits_per_word", "uniform_bits_per_word"}
    small = load_dataset(cfg.model_copy(update={"vocab_size": 4}), seed=0)
    assert len(small.task.vocab) == 4


def test_word_options_are_refused_for_characters():
    with pytest.raises(ValueError, match="data.vocab_size and data.min_count apply to data.tokens: word"):
        DataConfig(source="text", path="x.txt", vocab_size=100)


@pytest.mark.slow
def test_a_word_model_trains_samples_predicts_and_evaluates(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(CORPUS)
    run_dir = tmp_path / "words"
    result = rnn("train", "--set", "data.source=text", "--set", f"data.path={corpus}",
                 "--set", "data.tokens=word", "--set", "data.seq_len=6", "--set", "model.hidden_size=8",
                 "--set", "model.embedding_size=4", "--set", "train.epochs=2", "--out", str(run_dir), "-q")
    assert result.exit_code == 0, result.stderr
    vocab = json.loads(rnn("info", str(run_dir), "--json").stdout)["task"]
    assert vocab["tokens"] == "word"
    a = rnn("sample", str(run_dir), "--prime", "The zebra", "--length", "12", "--seed", "3")
    assert a.exit_code == 0, a.stderr  # an unknown prime word reads as <unk>, no error
    assert a.stdout.startswith("The zebra")
    generated = tokenize(a.stdout[len("The zebra"):-1].replace(UNK, "UNK"))  # -1: the final newline
    assert len(generated) == 12 and set(generated) <= set(tokenize(CORPUS)) | {"UNK"}
    b = rnn("sample", str(run_dir), "--prime", "The zebra", "--length", "12", "--seed", "3")
    assert a.stdout == b.stdout
    rows = [json.loads(r) for r in rnn("predict", str(run_dir), "-", "-f", "jsonl",
                                       input="The cat sat\n").stdout.splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2]  # one prediction per word
    assert all(r["label"] in tokenize(CORPUS) + [UNK] for r in rows)
    ev = json.loads(rnn("eval", str(run_dir), "--json").stdout)
    assert np.isfinite(ev["loss"]) and ev["perplexity"] > 1
    assert_error(rnn("train", "--set", "data.source=text", "--set", f"data.path={corpus}",
                          "--set", "data.vocab_size=5", "--out", str(tmp_path / "x")),
                      2, "data.vocab_size and data.min_count apply to data.tokens: word")
