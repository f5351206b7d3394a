"""The config schema: every key, its default and why, in one place.

Sections: `seed`, `name`, `data` (rnncli.data.options.DataConfig), `model`, `loss`, `train`.
Every section forbids unknown keys, so a typo is an error, never silently ignored.
Keys left at `null` marked "inferred" are filled from the data (see `resolve_with_task`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from rnncli.config.applies import OPTIMIZER_KEYS, SCHEDULE_KEYS, check_options
from rnncli.config.model_section import ModelConfig
from rnncli.config.section import Section
from rnncli.data.options import DataConfig

__all__ = ["Config", "DataConfig", "ModelConfig", "TrainConfig"]


class TrainConfig(Section):
    """Optimisation, batching, stopping and checkpointing."""

    epochs: int = Field(
        20, ge=1,
        description="Passes over the training data. Left unset with file data: enough epochs for "
        "train.min_steps steps (at least 20), chosen per dataset and written to the run's config.yaml.",
    )
    min_steps: int = Field(
        2000, ge=1,
        description="File data with train.epochs unset: train at least this many optimisation steps, "
        "times sqrt(T / 50) for sequences longer than 50 steps and sqrt(N / 1000) for more than 1000 "
        "sequences (small datasets give few steps per epoch); with train.patience also unset, stop "
        "after a fifth of the chosen epochs (at least 10) without a better val_loss.",
    )
    time_budget: float | None = Field(
        300.0, gt=0,
        description="File data with train.epochs unset: the most seconds the chosen length may take, "
        "from a cost model of the model's size measured on a 2-core machine (not a clock, so runs stay "
        "reproducible); 300 s keeps any default run to minutes; null = no cap.",
    )
    cv_folds: int | None = Field(
        None, ge=0,
        description="Choose the epochs by k-fold cross-validation, then train on all the data (see "
        "training/crossval.py); null = 5 folds for an npz/jsonl file whose validation part would hold "
        "fewer than 30 sequences (train.epochs, data.val_fraction, data.val_source unset); 0 = never.",
    )
    val_smoothing: float = Field(
        0.0, ge=0.0, lt=1.0,
        description="Early stopping (train.patience) compares an exponential moving average of val_loss "
        "with this weight on the past, so noise on a small validation set neither stops a run nor "
        "extends it; 0 = the raw val_loss. File data with train.patience unset: 0.8.",
    )
    batch_size: int = Field(32, ge=1, description="Sequences per step; 32 balances noise and NumPy speed.")
    optimizer: Literal["sgd", "momentum", "adagrad", "rmsprop", "adam"] = Field(
        "adam", description="Update rule; adam works without tuning on every shipped task."
    )
    lr: float = Field(1e-3, gt=0, description="Learning rate; 1e-3 is Adam's usual default.")
    lr_schedule: Literal["constant", "step", "exponential", "cosine", "plateau"] = Field(
        "constant", description="constant; step (times lr_gamma every lr_step_epochs epochs); exponential "
        "(times lr_gamma per epoch); cosine (per batch, to lr_min at the end); plateau (times plateau_factor "
        "after plateau_patience epochs without a better val_loss). As torch's StepLR, ExponentialLR, "
        "CosineAnnealingLR, ReduceLROnPlateau.")
    warmup_steps: int = Field(0, ge=0, description="Batches over which the lr rises linearly before any "
                              "schedule: lr * (s + 1) / (warmup_steps + 1) at batch s; 0 = off.")
    lr_step_epochs: int = Field(10, ge=1, description="lr_schedule step: epochs between decays (step_size).")
    lr_gamma: float | None = Field(None, gt=0.0, le=1.0, description="step / exponential: the decay factor; "
                                   "null = 0.1 for step (torch's default), 0.95 per epoch for exponential.")
    lr_min: float = Field(0.0, ge=0.0, description="cosine: the final lr (eta_min); plateau: the lowest lr.")
    plateau_factor: float = Field(0.5, gt=0.0, lt=1.0, description="plateau: multiply the lr by this "
                                  "(torch's default is 0.1; halving suits runs of tens of epochs).")
    plateau_patience: int = Field(2, ge=0, description="plateau: epochs without a better val_loss (relative "
                                  "1e-4) tolerated before the lr drops (torch's default 10 suits long runs).")
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="Momentum coefficient (optimizer 'momentum').")
    nesterov: bool = Field(False, description="Nesterov look-ahead for optimizer 'momentum'.")
    beta1: float = Field(0.9, ge=0.0, lt=1.0, description="Adam: decay of the gradient mean.")
    beta2: float = Field(0.999, ge=0.0, lt=1.0, description="Adam: decay of the squared-gradient mean.")
    eps: float = Field(
        1e-8, gt=0, description="Adam/RMSprop/Adagrad: added to the denominator for stability."
    )
    rmsprop_decay: float = Field(
        0.99, ge=0.0, lt=1.0, description="RMSprop: decay of the squared-gradient average."
    )
    weight_decay: float = Field(
        0.0, ge=0.0, description="L2 penalty: weight_decay * p is added to the gradient of every "
        "parameter, biases included (as torch's weight_decay); 0 = off.",
    )
    clip_norm: float | None = Field(
        1.0,
        gt=0,
        description="Rescale gradients whose global L2 norm exceeds this; vanilla RNNs explode "
        "without it, and 1.0 solved every shipped task. null = off.",
    )
    clip_value: float | None = Field(
        None, gt=0, description="Clip each gradient entry to [-v, v]; null = off."
    )
    bptt: int | None = Field(
        None,
        ge=1,
        description="Truncated BPTT window in steps (state carried, gradient cut between "
        "windows); null = full sequence.",
    )
    dtype: Literal["float32", "float64"] = Field(
        "float32", description="Float type for training; float32 is twice as fast, float64 exact."
    )
    patience: int | None = Field(
        None, ge=1, description="Stop after this many epochs without a better val_loss; null = off."
    )
    shuffle: bool = Field(
        True, description="Reshuffle training sequences each epoch (ignored for stateful text)."
    )
    drop_last: bool = Field(
        False, description="Drop the last incomplete batch so every step has batch_size rows."
    )
    on_nonfinite: Literal["stop", "skip"] = Field(
        "stop",
        description="A NaN/inf loss or gradient: 'stop' (exit 1, keep the last good "
        "checkpoint) or 'skip' the batch.",
    )
    checkpoint_every: int | None = Field(
        None,
        ge=1,
        description="Also checkpoint every this many steps; one is always written at epoch end.",
    )
    max_memory_gb: float | None = Field(
        None,
        gt=0,
        description="Refuse to start if the estimated memory exceeds this; null = 80% of RAM.",
    )
    log_to: list[Literal["tensorboard", "mlflow"]] = Field(
        [],  # pydantic copies a mutable default for each config
        description="Also log every epoch to these trackers (off by default: each needs its extra): "
        "tensorboard = event files in RUN_DIR/tensorboard (pip install 'rnncli[tensorboard]'); "
        "mlflow = an MLflow run at $MLFLOW_TRACKING_URI, else MLflow's local store in the working "
        "directory (pip install 'rnncli[mlflow]').",
    )
    device: Literal["cpu", "cuda", "auto"] = Field(  # cpu: the numbers never depend on the machine found
        "cpu", description="Where training computes: cpu (NumPy); cuda (a GPU through CuPy: pip install "
        "'rnncli[cuda12]' or 'rnncli[cuda13]'); auto = cuda when CuPy finds a GPU, else cpu.")
    threads: int | Literal["auto"] = Field(
        "auto",
        description="BLAS threads for the products: 'auto' = 1 while the per-step products are too "
        "small for threads to pay off (batch_size*G*H*(I+H) below 16M, G gates: 1 rnn, 3 gru, 4 lstm), "
        "all physical cores above; "
        "results are bit-identical for the same machine and thread count.",
    )

    @field_validator("threads", mode="before")
    @classmethod
    def _threads(cls, value: Any) -> Any:
        # One message for both halves of the union (pydantic would report each alternative).
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return value
        raise PydanticCustomError("threads", "expected auto or a positive integer")

    @field_validator("cv_folds")
    @classmethod
    def _folds(cls, value: int | None) -> int | None:
        if value == 1:
            raise PydanticCustomError("folds", "cross-validation needs at least 2 folds (0 = off)")
        return value

    @model_validator(mode="after")
    def _options_apply(self) -> TrainConfig:
        check_options(self, "optimizer", OPTIMIZER_KEYS)
        check_options(self, "lr_schedule", SCHEDULE_KEYS)
        return self


class Config(Section):
    """A whole run: data, model, loss and training, plus the seed that makes it repeatable."""

    seed: int = Field(
        0, ge=0, le=2**63 - 1,
        description="Seeds data generation, init, shuffling and dropout: same seed, same run.",
    )
    name: str | None = Field(
        None,
        description="Run name (runs/<name>-<N>); null = the last config file's name or 'default'.",
    )
    data: DataConfig = Field(
        default_factory=DataConfig, description="Where sequences come from (see data.*)."
    )
    model: ModelConfig = Field(default_factory=ModelConfig, description="The network.")
    loss: Literal["mse", "cross_entropy"] | None = Field(
        None, description="Training loss; null = inferred from the data (labels: cross_entropy)."
    )
    train: TrainConfig = Field(default_factory=TrainConfig, description="Optimisation.")

    @model_validator(mode="after")
    def _sections_agree(self) -> Config:
        if self.model.bidirectional and self.train.bptt is not None:
            raise ValueError("train.bptt cannot be used with model.bidirectional: the reverse direction "
                             "starts from the end of the whole sequence, so it cannot be cut into "
                             "windows; set train.bptt: null")
        if self.data.fold is not None and self.train.cv_folds:  # 0 (the folds' own runs) and null agree
            # cross-validation sets data.fold itself for each fold: the user's was once dropped
            raise ValueError(f"data.fold {list(self.data.fold)} and train.cv_folds {self.train.cv_folds} "
                             "both choose folds (cross-validation runs every fold itself); set one")
        return self

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, value: Any) -> Any:
        # `train:` with every sub-key commented out is YAML null; read it as "all defaults".
        if isinstance(value, dict):
            return {k: ({} if v is None and k in ("data", "model", "train") else v) for k, v in value.items()}
        return value
