"""What one optimisation step computes on, and where it lives.

A batch is cut along time into truncated-BPTT windows on the host (data/batching.bptt_windows);
each window then goes to the run's device (`window_on_device`: on the CPU nothing moves). On a device the
training state lives there for the whole run (`place_state`): parameters, optimizer state and the
carried hidden state; files are written from host copies (training/checkpoint.py).
"""

from __future__ import annotations

from dataclasses import replace

from rnncli.core.embedding import check_ids, is_token_input
from rnncli.core.model import ModelSpec
from rnncli.device import Device
from rnncli.training.checkpoint import RunSaver
from rnncli.training.run import Run
from rnncli.training.rundir import write_run_json
from rnncli.training.state import TrainState
from rnncli.training.steplog import StepLog


def window_on_device(device: Device, spec: ModelSpec, x, y, lengths) -> tuple:
    """A window's (x, y, lengths) on `device`; token ids are checked on the host before they go
    (the core checks host ids itself, but reading device ids back would stop the device)."""
    if device.is_host:
        return x, y, lengths
    if is_token_input(x):
        check_ids(x, spec.input_size)
    return device.to_device(x), device.to_device(y), device.to_device(lengths)


def place_state(state: TrainState, saver: RunSaver, device: Device, seed: int) -> tuple[object, RunSaver]:
    """Move the parameters, the optimizer's state and the carried hidden state to `device`.

    Returns the run's dropout generator on the device (CuPy's generator state cannot be saved, so
    it is seeded from the seed and the step the run (re)starts at: see rnncli/device.py) and the
    saver that writes host copies of the device's arrays.
    """
    state.params = device.to_device(state.params)
    opt = state.optimizer
    opt.state = {slot: device.to_device(arrays) for slot, arrays in opt.state.items()}
    state.h_carry = device.to_device(state.h_carry)
    return device.random([seed, 2, state.global_step]), replace(saver, device=device)


def device_info(device: Device) -> dict:
    """What run.json records about the device that ran: its kind and, for a GPU, its name."""
    return {"device": device.name, **({"device_name": device.label} if not device.is_host else {})}


def start_on_device(run: Run, run_info: dict, device: Device) -> None:
    """Put what changes during training on `device` (the CPU: nothing moves); run.json says which."""
    run.device, run.log = device, StepLog(device, run.cfg.train, run.run_dir)
    run_info.update(device_info(device))
    write_run_json(run.run_dir, run_info)
    if not device.is_host:
        run.dropout_rng, run.saver = place_state(run.state, run.saver, device, run.cfg.seed)
