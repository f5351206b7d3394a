"""What a resumed run may change: settings that leave the checkpoint valid, recorded where they apply.

`rnn train --resume RUN --set train.epochs=30` extends a run; the new value is written to
RUN/config.yaml (so `rnn train -c RUN/config.yaml` still describes the run) and each resume's
changes to run.json. A change that would not continue the same run (the data, the model, the
seed, the batch size, ...) is refused with one line saying how to start a new run instead.
"""

from __future__ import annotations

from pathlib import Path

from rnncli.config import Config, config_to_dict, load_config
from rnncli.config.dump import flatten
from rnncli.errors import ConfigError
from rnncli.run_layout import CONFIG

__all__ = ["RESUMABLE", "resume_changes"]

# Keys a resume may change: how long to go on, how big a step, when to stop or save. Everything
# else defines what the checkpoint holds or the order of the data.
RESUMABLE = frozenset({
    "train.epochs", "train.patience", "train.lr", "train.clip_norm", "train.clip_value",
    "train.checkpoint_every", "train.max_memory_gb", "train.on_nonfinite",
    "train.threads",  # allowed, with a warning: another count changes the float sums from there on
    "train.device",  # another device: the same maths, equal to float tolerance (not bit for bit)
    "train.log_to",  # where the records also go; the training itself does not read it
})


def resume_changes(run_dir: Path, cfg: Config) -> dict[str, list]:
    """The keys `cfg` changes against RUN_DIR/config.yaml, as {key: [old, new]}.

    Args:
        run_dir: the run being resumed.
        cfg: the Config the resume would train with (config.yaml plus --set/--seed).
    Raises:
        ConfigError: a change outside RESUMABLE (one line: the key, both values, what to do).
    """
    path = Path(run_dir) / CONFIG
    old, new = flatten(config_to_dict(load_config([path]))), flatten(config_to_dict(cfg))
    changes = {k: [old.get(k), new.get(k)] for k in sorted(set(old) | set(new))
               if old.get(k) != new.get(k)}
    refused = [k for k in changes if k not in RESUMABLE]
    if refused:
        k = refused[0]
        raise ConfigError(
            f"--resume {run_dir}: {k} cannot change on resume ({changes[k][0]!r} -> {changes[k][1]!r}: "
            f"the checkpoint was trained with the first); start a new run with "
            f"rnn train -c {path} --set {k}=..."
        )
    return changes
