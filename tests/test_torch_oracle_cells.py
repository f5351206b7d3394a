"""Oracle for the gated cells: outputs, final states (h, and c for the LSTM) and every gradient equal
torch.nn.GRU / torch.nn.LSTM + nn.Linear in float64 (1 and 2 layers, bidirectional, ragged through
pack_padded_sequence, a given h0/c0). The weights go over through use/torch_layout.py unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import needs

torch = needs("torch")

from rnncli.core.cells import state_parts  # noqa: E402
from rnncli.core.init import init_params  # noqa: E402
from rnncli.core.model import ModelSpec, loss_and_grads  # noqa: E402
from rnncli.use.torch_layout import (  # noqa: E402
    params_from_torch,
    torch_args,
    torch_class,
    torch_state_dicts,
)

TOL = 1e-10


def _t(a: np.ndarray, grad: bool = False):
    return torch.tensor(np.ascontiguousarray(a), requires_grad=grad)


def torch_run(params, spec, x, y, loss, lengths, state0):
    """The same computation in torch: (loss, outputs, final state parts, grads by our names, dx, dstate0)."""
    rnn = getattr(torch.nn, torch_class(spec))(**torch_args(spec), dtype=torch.float64)
    head = torch.nn.Linear(spec.head_input_size, spec.output_size, dtype=torch.float64)
    rnn_state, head_state = torch_state_dicts(params, spec)
    rnn.load_state_dict({k: _t(v) for k, v in rnn_state.items()})
    head.load_state_dict({k: _t(v) for k, v in head_state.items()})
    xt = _t(x, grad=True)
    s0 = [_t(a, grad=True) for a in state0]
    hx = s0[0] if len(s0) == 1 else tuple(s0)
    steps = x.shape[1]
    if lengths is None:
        hs, hn = rnn(xt, hx)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.as_tensor(lengths), batch_first=True,
                                                         enforce_sorted=False)
        out_packed, hn = rnn(packed, hx)
        hs, _ = torch.nn.utils.rnn.pad_packed_sequence(out_packed, batch_first=True, total_length=steps)
    h_n = hn if isinstance(hn, torch.Tensor) else hn[0]
    valid = torch.ones(x.shape[0], steps, dtype=torch.bool)
    if lengths is not None:
        valid = torch.arange(steps)[None, :] < torch.as_tensor(lengths)[:, None]
    if spec.output == "last":
        out = head(torch.cat(list(h_n[-spec.directions:]), dim=1))
        value = (torch.nn.functional.mse_loss(out, _t(y)) if loss == "mse"
                 else torch.nn.functional.cross_entropy(out, torch.from_numpy(y)))
    else:
        out = head(hs)
        value = (((out - _t(y)) ** 2)[valid].mean() if loss == "mse"
                 else torch.nn.functional.cross_entropy(out[valid], torch.from_numpy(y)[valid]))
    value.backward()
    grads = {"head.W_hy": head.weight.grad.numpy(), "head.b_y": head.bias.grad.numpy()}
    for l in range(spec.num_layers):
        for s in ("", "_reverse")[: spec.directions]:
            for ours, theirs in spec.cell_module.TORCH_NAMES.items():
                grads[f"rnn.{l}.{ours}{s}"] = getattr(rnn, f"{theirs}_l{l}{s}").grad.numpy()
    finals = [hn.detach().numpy()] if isinstance(hn, torch.Tensor) else [a.detach().numpy() for a in hn]
    return (value.item(), out.detach().numpy(), finals, grads, xt.grad.numpy(),
            [a.grad.numpy() for a in s0], valid.numpy())


CASES = [(cell, layers, bi, ragged, output)
         for cell in ("gru", "lstm") for layers in (1, 2) for bi in (False, True) for ragged in (False, True)
         for output in ("last", "sequence")]


@pytest.mark.parametrize(("cell", "num_layers", "bidirectional", "ragged", "output"), CASES)
def test_equals_torch(cell, num_layers, bidirectional, ragged, output):
    spec = ModelSpec(3, 5, 4, num_layers=num_layers, output=output, bidirectional=bidirectional, cell=cell)
    rng = np.random.default_rng(num_layers * 11 + 3 * bidirectional + 5 * ragged + len(output + cell))
    params = init_params(spec, rng, recurrent_init="orthogonal", forget_bias=1.0)
    params["head.b_y"] = rng.normal(size=4)
    B, T = 4, 6
    x = rng.normal(size=(B, T, 3))
    state0 = [rng.uniform(-0.5, 0.5, size=spec.state_shape(B)) for _ in spec.state_names]
    lengths = np.array([6, 3, 1, 5]) if ragged else None
    loss = "mse" if output == "last" else "cross_entropy"
    y = rng.normal(size=(B, 4)) if output == "last" else rng.integers(0, 4, size=(B, T))
    h0 = state0[0] if len(state0) == 1 else tuple(state0)

    value, grads, aux = loss_and_grads(params, spec, x, y, loss=loss, lengths=lengths, h0=h0)
    t_value, t_out, t_final, t_grads, t_dx, t_d0, valid = torch_run(params, spec, x, y, loss, lengths,
                                                                     state0)
    assert value == pytest.approx(t_value, abs=TOL)
    out = aux["outputs"]
    if output == "sequence":  # torch pads with zeros past each length: compare the valid steps
        np.testing.assert_allclose(out[valid], t_out[valid], atol=TOL, rtol=0)
    else:
        np.testing.assert_allclose(out, t_out, atol=TOL, rtol=0)
    n = len(spec.state_names)
    for ours, theirs in zip(state_parts(aux["h_final"], n), t_final, strict=True):
        np.testing.assert_allclose(ours, theirs, atol=TOL, rtol=0)
    assert set(grads) == set(t_grads) == set(params)
    for name in grads:
        np.testing.assert_allclose(grads[name], t_grads[name], atol=TOL, rtol=0, err_msg=name)
    np.testing.assert_allclose(aux["dx"], t_dx, atol=TOL, rtol=0)
    for ours, theirs in zip(state_parts(aux["dh0"], n), t_d0, strict=True):
        np.testing.assert_allclose(ours, theirs, atol=TOL, rtol=0)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_torch_weights_come_over_and_back(cell):
    """A torch module's own (randomly initialised) weights, moved in by params_from_torch, give the
    module's outputs; moved back out they are the module's tensors."""
    spec = ModelSpec(3, 4, 2, num_layers=2, bidirectional=True, cell=cell, output="sequence")
    torch.manual_seed(0)
    rnn = getattr(torch.nn, torch_class(spec))(**torch_args(spec), dtype=torch.float64)
    head = torch.nn.Linear(spec.head_input_size, 2, dtype=torch.float64)
    t_rnn = {k: v.detach().numpy() for k, v in rnn.state_dict().items()}
    t_head = {k: v.detach().numpy() for k, v in head.state_dict().items()}
    params = params_from_torch(t_rnn, t_head, spec)
    x = np.random.default_rng(1).normal(size=(2, 5, 3))
    out, _ = rnn(torch.from_numpy(x))
    expected = head(out).detach().numpy()
    got = loss_and_grads(params, spec, x, np.zeros((2, 5, 2)), loss="mse")[2]["outputs"]
    np.testing.assert_allclose(got, expected, atol=TOL, rtol=0)
    back, _ = torch_state_dicts(params, spec)
    if cell != "rnn":  # the Elman cell folds torch's two biases into one
        assert all(np.array_equal(back[k], t_rnn[k]) for k in t_rnn)
