"""Which train options each optimizer and lr schedule reads: setting one the chosen optimizer or
schedule does not read is refused (as a data option that does not apply to the source is)."""

from __future__ import annotations

# Which optimizer reads each option of the train section; setting one the chosen optimizer does not
# read is refused, like a data option that does not apply to the source.
OPTIMIZER_KEYS = {
    "momentum": ("momentum",), "nesterov": ("momentum",), "beta1": ("adam",), "beta2": ("adam",),
    "eps": ("adam", "rmsprop", "adagrad"), "rmsprop_decay": ("rmsprop",),
}


# Likewise for the options of the lr schedules.
SCHEDULE_KEYS = {
    "lr_step_epochs": ("step",), "lr_gamma": ("step", "exponential"), "lr_min": ("cosine", "plateau"),
    "plateau_factor": ("plateau",), "plateau_patience": ("plateau",),
}


def check_options(tc, chooser: str, keys: dict[str, tuple[str, ...]]) -> None:
    """Refuse a train option that the chosen optimizer or schedule (`chooser`) does not read."""
    defaults = type(tc).model_fields
    chosen = getattr(tc, chooser)
    for name, users in keys.items():
        # A resolved config dump repeats every default; only a changed value is a mistake.
        changed = name in tc.model_fields_set and getattr(tc, name) != defaults[name].default
        if changed and chosen not in users:
            raise ValueError(f"train.{name} does not apply to {chooser} {chosen!r} "
                             f"(it is read by {', '.join(users)})")
