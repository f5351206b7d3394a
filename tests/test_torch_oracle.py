"""Oracle: forward outputs and every gradient equal torch.nn.RNN + nn.Linear in float64.

torch.nn.RNN has two biases per layer; ours is bias_ih with bias_hh held at zero. Skipped cleanly
when torch is not installed (`pip install -e '.[torch]'` enables it).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import needs

torch = needs("torch")

from rnncli.core.init import init_params  # noqa: E402
from rnncli.core.model import ModelSpec, loss_and_grads  # noqa: E402
from rnncli.use.torch_layout import torch_state_dicts  # noqa: E402

TOL = 1e-10


def tensors(state: dict[str, np.ndarray]) -> dict:
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}


def torch_loss_and_grads(params, spec, x, y, loss, lengths, h0):
    """The same computation in torch; returns (loss, outputs, grads by our names, dx, dh0)."""
    torch.manual_seed(0)
    rnn = torch.nn.RNN(spec.input_size, spec.hidden_size, num_layers=spec.num_layers,
                       nonlinearity=spec.nonlinearity, batch_first=True, dtype=torch.float64,
                       bidirectional=spec.bidirectional)
    head = torch.nn.Linear(spec.head_input_size, spec.output_size, dtype=torch.float64)
    # torch names the reverse direction's tensors with the same suffix as ours.
    names = [(l, s) for l in range(spec.num_layers) for s in ("", "_reverse")[: spec.directions]]
    rnn_state, head_state = torch_state_dicts(params, spec)
    rnn.load_state_dict(tensors(rnn_state))
    head.load_state_dict(tensors(head_state))
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0, requires_grad=True)
    batch, steps, _ = x.shape
    if lengths is None:
        hs, h_n = rnn(xt, h0t)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.as_tensor(lengths), batch_first=True, enforce_sorted=False
        )
        out_packed, h_n = rnn(packed, h0t)
        hs, _ = torch.nn.utils.rnn.pad_packed_sequence(
            out_packed, batch_first=True, total_length=steps
        )
    if spec.output == "last":  # bidirectional: the top layer's two final states, as h_n holds them
        out = head(torch.cat(list(h_n[-spec.directions:]), dim=1))
        target = torch.from_numpy(y)
        if loss == "mse":
            value = torch.nn.functional.mse_loss(out, target)
        else:
            value = torch.nn.functional.cross_entropy(out, target)
    else:
        out = head(hs)
        valid = torch.ones(batch, steps, dtype=torch.bool)
        if lengths is not None:
            valid = torch.arange(steps)[None, :] < torch.as_tensor(lengths)[:, None]
        target = torch.from_numpy(y)
        if loss == "mse":
            value = ((out - target) ** 2)[valid].mean()
        else:
            value = torch.nn.functional.cross_entropy(out[valid], target[valid])
    value.backward()
    grads = {"head.W_hy": head.weight.grad, "head.b_y": head.bias.grad}
    for l, s in names:
        grads[f"rnn.{l}.W_xh{s}"] = getattr(rnn, f"weight_ih_l{l}{s}").grad
        grads[f"rnn.{l}.W_hh{s}"] = getattr(rnn, f"weight_hh_l{l}{s}").grad
        grads[f"rnn.{l}.b_h{s}"] = getattr(rnn, f"bias_ih_l{l}{s}").grad
    grads = {k: v.numpy() for k, v in grads.items()}
    return value.item(), out.detach().numpy(), h_n.detach().numpy(), grads, xt.grad.numpy(), \
        h0t.grad.numpy()


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("output", ["last", "sequence"])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
@pytest.mark.parametrize("ragged", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_matches_torch_rnn(num_layers, nonlinearity, output, loss, ragged, bidirectional):
    spec = ModelSpec(3, 5, 4, num_layers=num_layers, nonlinearity=nonlinearity, output=output,
                     bidirectional=bidirectional)
    rng = np.random.default_rng(num_layers * 7 + len(nonlinearity) + len(output) + len(loss))
    params = init_params(spec, rng)
    params["head.b_y"] = rng.normal(size=4)
    for name in params:
        if name.startswith("rnn.") and ".b_h" in name:
            params[name] = rng.normal(scale=0.3, size=5)
    batch, steps = 4, 6
    x = rng.normal(size=(batch, steps, 3))
    h0 = rng.uniform(0, 0.5, size=spec.state_shape(batch))
    lengths = np.array([6, 3, 1, 5]) if ragged else None
    if loss == "mse":
        y = rng.normal(size=(batch, 4) if output == "last" else (batch, steps, 4))
    else:
        y = rng.integers(0, 4, size=(batch,) if output == "last" else (batch, steps))

    value, grads, aux = loss_and_grads(params, spec, x, y, loss=loss, lengths=lengths, h0=h0)
    t_value, t_out, t_hn, t_grads, t_dx, t_dh0 = torch_loss_and_grads(
        params, spec, x, y, loss, lengths, h0
    )
    assert value == pytest.approx(t_value, abs=TOL)
    out = aux["outputs"]
    if output == "sequence" and ragged:  # torch pads with zeros past each length; compare valid
        valid = np.arange(steps)[None, :] < lengths[:, None]
        np.testing.assert_allclose(out[valid], t_out[valid], atol=TOL, rtol=0)
    else:
        np.testing.assert_allclose(out, t_out, atol=TOL, rtol=0)
    np.testing.assert_allclose(aux["h_final"], t_hn, atol=TOL, rtol=0)
    assert set(grads) == set(t_grads)
    for name in grads:
        np.testing.assert_allclose(grads[name], t_grads[name], atol=TOL, rtol=0, err_msg=name)
    np.testing.assert_allclose(aux["dx"], t_dx, atol=TOL, rtol=0)
    np.testing.assert_allclose(aux["dh0"], t_dh0, atol=TOL, rtol=0)


@pytest.mark.parametrize(("tie", "bidirectional"), [(False, False), (True, False), (False, True),
                                                      (True, True)])
def test_embedding_and_tied_head_match_torch(tie, bidirectional):
    """Token ids through nn.Embedding -> nn.RNN -> nn.Linear, the Linear's weight being the
    Embedding's own Parameter when tied (one tensor, its gradient the sum of both uses)."""
    V, H = 6, 4
    E = 2 * H if bidirectional and tie else (H if tie else 3)
    spec = ModelSpec(V, H, V, num_layers=2, output="sequence", bidirectional=bidirectional,
                     embedding_size=E, tie_weights=tie)
    rng = np.random.default_rng(40 + 2 * tie + bidirectional)
    params = init_params(spec, rng)
    params["head.b_y"] = rng.normal(size=V)
    batch, steps = 3, 5
    ids = rng.integers(0, V, size=(batch, steps))
    ids[0, :3] = 2  # a repeated token accumulates its gradient
    y = rng.integers(0, V, size=(batch, steps))
    lengths = np.array([5, 2, 4])
    value, grads, aux = loss_and_grads(params, spec, ids, y, loss="cross_entropy", lengths=lengths)

    rnn = torch.nn.RNN(E, H, num_layers=2, batch_first=True, dtype=torch.float64,
                       bidirectional=bidirectional)
    emb = torch.nn.Embedding(V, E, dtype=torch.float64)
    head = torch.nn.Linear(spec.head_input_size, V, dtype=torch.float64)
    names = [(l, s) for l in range(2) for s in ("", "_reverse")[: spec.directions]]
    rnn_state, head_state = torch_state_dicts(params, spec)
    rnn.load_state_dict(tensors(rnn_state))
    emb.load_state_dict(tensors({"weight": params["embed.W"]}))
    head.load_state_dict(tensors(head_state))
    if tie:
        head.weight = emb.weight
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        emb(torch.from_numpy(ids)), torch.as_tensor(lengths), batch_first=True, enforce_sorted=False)
    hs, _ = torch.nn.utils.rnn.pad_packed_sequence(rnn(packed)[0], batch_first=True,
                                                   total_length=steps)
    out = head(hs)
    valid = torch.arange(steps)[None, :] < torch.as_tensor(lengths)[:, None]
    t_value = torch.nn.functional.cross_entropy(out[valid], torch.from_numpy(y)[valid])
    t_value.backward()
    assert value == pytest.approx(t_value.item(), abs=TOL)
    valid_np = valid.numpy()
    np.testing.assert_allclose(aux["outputs"][valid_np], out.detach().numpy()[valid_np], atol=TOL,
                               rtol=0)
    t_grads = {"embed.W": emb.weight.grad.numpy(), "head.b_y": head.bias.grad.numpy()}
    if not tie:
        t_grads["head.W_hy"] = head.weight.grad.numpy()
    for l, s in names:
        t_grads[f"rnn.{l}.W_xh{s}"] = getattr(rnn, f"weight_ih_l{l}{s}").grad.numpy()
        t_grads[f"rnn.{l}.W_hh{s}"] = getattr(rnn, f"weight_hh_l{l}{s}").grad.numpy()
        t_grads[f"rnn.{l}.b_h{s}"] = getattr(rnn, f"bias_ih_l{l}{s}").grad.numpy()
    assert set(grads) == set(t_grads) == set(params)
    for name in grads:
        np.testing.assert_allclose(grads[name], t_grads[name], atol=TOL, rtol=0, err_msg=name)
