"""Tests for tt_gnn.gnn.layers: brute-force float64 references, gradcheck, DGL and PyG parity."""

from __future__ import annotations

import pytest
import torch

from tt_gnn.gnn.blocks import Block
from tt_gnn.gnn.layers import (
    GATConv,
    SAGEConv,
    gat_state_from_pyg,
    gat_state_to_pyg,
    sage_state_from_pyg,
    sage_state_to_pyg,
    segment_softmax,
)
from tt_gnn.gnn.sampler import full_neighbor_block
from tt_gnn.graph import Graph


def _block(num_src: int = 12, num_dst: int = 5, num_edges: int = 30, seed: int = 0) -> Block:
    """A random block whose destination 0 has no in-edges and with a repeated edge."""
    generator = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_src, (num_edges,), generator=generator)
    dst = torch.randint(1, num_dst, (num_edges,), generator=generator)
    src = torch.cat([src, src[:1]])
    dst = torch.cat([dst, dst[:1]])
    order = torch.argsort(dst, stable=True)
    return Block(torch.arange(100, 100 + num_src), src[order], dst[order], num_dst)


def _sage_reference(layer: SAGEConv, block: Block, h: torch.Tensor) -> torch.Tensor:
    """Loop over destinations, float64."""
    rows = []
    for v in range(block.num_dst):
        sources = block.src[block.dst == v]
        mean = h[sources].mean(0) if len(sources) else torch.zeros_like(h[0])
        rows.append(
            layer.fc_self.weight.double() @ h[v]
            + layer.fc_self.bias.double()
            + layer.fc_neigh.weight.double() @ mean
        )
    return torch.stack(rows)


def _gat_reference(layer: GATConv, block: Block, h: torch.Tensor) -> torch.Tensor:
    """Loop over destinations and heads, float64, ``torch.softmax`` per destination."""
    heads, width = layer.num_heads, layer.out_features
    z = (h @ layer.fc.weight.double().T).view(-1, heads, width)
    attn_l = layer.attn_l.double()[0]
    attn_r = layer.attn_r.double()[0]
    out = torch.zeros(block.num_dst, heads, width, dtype=torch.float64)
    for v in range(block.num_dst):
        sources = block.src[block.dst == v]
        for k in range(heads):
            if len(sources):
                scores = z[sources, k] @ attn_l[k] + z[v, k] @ attn_r[k]
                weights = torch.softmax(torch.nn.functional.leaky_relu(scores, 0.2), 0)
                out[v, k] = weights @ z[sources, k]
    return out + layer.bias.double().view(heads, width)


def test_sage_matches_loop_reference_both_projection_orders():
    block = _block()
    h = torch.randn(block.num_src, 6, dtype=torch.float64)
    for out_features in (3, 9):  # in > out projects before aggregating; in < out after
        layer = SAGEConv(6, out_features).double()
        torch.testing.assert_close(layer(block, h), _sage_reference(layer, block, h))


def test_gat_matches_loop_reference_and_zero_in_degree_gives_the_bias():
    block = _block()
    layer = GATConv(6, 4, num_heads=3).double()
    torch.nn.init.normal_(layer.bias)
    h = torch.randn(block.num_src, 6, dtype=torch.float64)
    out = layer(block, h)
    torch.testing.assert_close(out, _gat_reference(layer, block, h))
    assert block.in_degrees()[0] == 0
    torch.testing.assert_close(out[0], layer.bias.view(3, 4))


@pytest.mark.parametrize("make", [lambda: SAGEConv(4, 3), lambda: GATConv(4, 2, num_heads=2)])
def test_gradcheck(make):
    block = _block(8, 4, 14)
    layer = make().double()
    h = torch.randn(block.num_src, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: layer(block, x), (h,))
    parameters = tuple(layer.parameters())

    def with_parameters(*values):
        return torch.func.functional_call(
            layer, dict(zip([n for n, _ in layer.named_parameters()], values)), (block, h)
        )

    assert torch.autograd.gradcheck(
        with_parameters, tuple(p.detach().requires_grad_() for p in parameters)
    )


def test_segment_softmax_normalizes_each_segment():
    scores = torch.randn(7, 2, dtype=torch.float64) * 50  # large scores: needs the max shift
    segments = torch.tensor([0, 0, 0, 2, 2, 3, 3])
    out = segment_softmax(scores, segments, 5)
    for segment in (0, 2, 3):
        mask = segments == segment
        torch.testing.assert_close(out[mask], torch.softmax(scores[mask], dim=0))
    assert torch.isfinite(out).all()


def test_attention_dropout_is_active_only_in_training():
    block = _block()
    layer = GATConv(6, 4, num_heads=2, attention_dropout=0.5)
    h = torch.randn(block.num_src, 6)
    assert not torch.equal(layer(block, h), layer(block, h))
    layer.eval()
    assert torch.equal(layer(block, h), layer(block, h))


def test_invalid_layer_arguments_are_rejected():
    with pytest.raises(ValueError, match="out_features"):
        SAGEConv(4, 0)
    with pytest.raises(ValueError, match="num_heads"):
        GATConv(4, 2, num_heads=0)
    with pytest.raises(ValueError, match="attention_dropout"):
        GATConv(4, 2, 2, attention_dropout=1.0)


# --- DGL parity: same parameter names, same initialization, same numbers ------------------


def _graph_for_parity() -> Graph:
    generator = torch.Generator().manual_seed(3)
    src, dst = torch.randint(0, 40, (2, 160), generator=generator)
    return Graph.from_edges(src, dst, 40)


@pytest.mark.parametrize("kind", ["sage", "gat"])
def test_same_seed_same_weights_and_same_outputs_as_dgl(kind):
    dgl = pytest.importorskip("tt_gnn.dgl").dgl
    from tt_gnn.dgl.models import to_dgl_block

    torch.manual_seed(7)
    ours = SAGEConv(6, 5) if kind == "sage" else GATConv(6, 5, num_heads=3)
    torch.manual_seed(7)
    theirs = (
        dgl.nn.SAGEConv(6, 5, "mean")
        if kind == "sage"
        else dgl.nn.GATConv(6, 5, 3, allow_zero_in_degree=True)
    )
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    for name, value in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[name], value), name
    torch.nn.init.normal_(theirs.bias if kind == "gat" else theirs.fc_self.bias)
    ours.load_state_dict(theirs.state_dict())
    ours.double()
    theirs.double()
    block = full_neighbor_block(_graph_for_parity(), torch.arange(0, 40, 3))
    h = torch.randn(block.num_src, 6, dtype=torch.float64, requires_grad=True)
    expected = theirs(to_dgl_block(block), h)
    actual = ours(block, h)
    torch.testing.assert_close(actual, expected, rtol=1e-12, atol=1e-12)
    weights = torch.randn_like(expected)
    expected_grads = torch.autograd.grad((expected * weights).sum(), [h, *theirs.parameters()])
    actual_grads = torch.autograd.grad((actual * weights).sum(), [h, *ours.parameters()])
    names = ["h"] + [name for name, _ in ours.named_parameters()]
    their_order = ["h"] + [name for name, _ in theirs.named_parameters()]
    by_name = dict(zip(their_order, expected_grads))
    for name, grad in zip(names, actual_grads):
        torch.testing.assert_close(grad, by_name[name], rtol=1e-12, atol=1e-12)


# --- PyG parity through the state-dict translations ----------------------------------------


@pytest.mark.parametrize("kind", ["sage", "gat"])
def test_pyg_layers_give_the_same_outputs_with_translated_weights(kind):
    pyg_nn = pytest.importorskip("torch_geometric.nn")
    ours = (SAGEConv(6, 5) if kind == "sage" else GATConv(6, 5, num_heads=3)).double()
    theirs = (
        pyg_nn.SAGEConv(6, 5, aggr="mean")
        if kind == "sage"
        else pyg_nn.GATConv(6, 5, heads=3, concat=True, add_self_loops=False)
    ).double()
    to_pyg = sage_state_to_pyg if kind == "sage" else gat_state_to_pyg
    from_pyg = sage_state_from_pyg if kind == "sage" else gat_state_from_pyg
    torch.nn.init.normal_(ours.bias if kind == "gat" else ours.fc_self.bias)
    theirs.load_state_dict(to_pyg(ours.state_dict()))
    block = full_neighbor_block(_graph_for_parity(), torch.arange(1, 40, 2))
    h = torch.randn(block.num_src, 6, dtype=torch.float64)
    expected = theirs((h, h[: block.num_dst]), block.edge_index(), size=(block.num_src, 20))
    actual = ours(block, h).reshape(block.num_dst, -1)
    torch.testing.assert_close(actual, expected, rtol=1e-12, atol=1e-12)
    round_trip = from_pyg(theirs.state_dict())
    assert all(torch.equal(value, ours.state_dict()[name]) for name, value in round_trip.items())
    assert round_trip.keys() == ours.state_dict().keys()
