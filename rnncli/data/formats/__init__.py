"""Data-file formats: one module per format, each with everything rnn knows about it.

A format module (npz, npy, csv, jsonl, txt, parquet) defines `FORMAT`, a `base.DataFormat`: its
name and suffixes, the `data.*` options it reads, how training and eval read it (`read`), how
`rnn predict` streams it (`predict`) and how `rnn data -o` writes it (`write`). `registry` lists
them; every place that depends on the format (config validation, load_dataset, predict inputs,
the writers, the CLI's --format choices) asks the registry instead of testing names. `stdin` is
what source '-' means for all of them.

A new format: one module here, one line in `registry.FORMATS`, its tests; nothing else branches.
This package init imports nothing, so `readers` can use `formats.stdin` without a cycle.
"""
