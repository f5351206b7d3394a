"""The names of the files in a run directory: written by `training/`, read by `use/` and `tools/`.

    config.yaml      the fully resolved config (`rnn train --config RUN/config.yaml` reproduces the run)
    metrics.jsonl    one JSON object per epoch
    model.npz        final weights          best.npz   weights with the best validation loss
    checkpoint.npz   weights + optimizer state + counters + RNG states, for `rnn train --resume`
    run.json         argv, versions, seed, start/end time, status
    tensorboard/     TensorBoard event files (train.log_to: tensorboard)
    mlflow.json      the MLflow run this run logs to (train.log_to: mlflow), so --resume continues it
    .rnn.lock        while a run (or resume) is in progress: its pid and host
"""

CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
MODEL = "model.npz"
BEST = "best.npz"
CHECKPOINT = "checkpoint.npz"
RUN_JSON = "run.json"
TENSORBOARD = "tensorboard"
MLFLOW_RUN = "mlflow.json"
LOCK = ".rnn.lock"  # the claim of the process training in the directory: "<pid> <host>"

RUN_FILES = (CONFIG, METRICS, MODEL, BEST, CHECKPOINT, RUN_JSON, MLFLOW_RUN)
