"""One exception family for everything the user can get wrong or that can fail at run time.

The CLI turns an `RnnError` into a one-line message on stderr and `exit_code`;
library code raises these and never prints or exits.
"""

from __future__ import annotations


class RnnError(Exception):
    """Base class: a message meant for the user, and the exit code that goes with it."""

    exit_code = 2


class ConfigError(RnnError):
    """A config file, a --set override or a config value is wrong."""


class DataError(RnnError):
    """A data file, standard input or generator options are wrong."""


class WeightsError(RnnError):
    """A weights file (.npz) is missing, corrupt, unsafe or does not fit the model."""


class UsageError(RnnError):
    """A command-line argument is wrong in a way the parser cannot see."""


class RunFailure(RnnError):
    """Something went wrong while running (not the user's input): exit 1."""

    exit_code = 1


class NonFiniteError(RunFailure):
    """The loss or a gradient became NaN or infinite during training."""


class GradcheckFailed(RunFailure):
    """The analytic gradient disagrees with the numerical one."""


class Interrupted(RnnError):
    """Training stopped by SIGINT/SIGTERM after writing a checkpoint."""

    exit_code = 130
