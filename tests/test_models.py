"""Tests for the DGL models (tt_gnn.dgl.models) on DGL graphs and DGL's samplers: dense
references, sampled vs layer-wise inference, input modules. The same tests for the torch-native
models, and the three backends against each other, are in test_gnn_models.py."""

from __future__ import annotations

import pytest
import torch

from tt_gnn.dgl import dgl
from tt_gnn.dgl.models import GAT, GraphSAGE, build_model
from tt_gnn.gnn.classifier import NodeFeatures


def _random_graph(num_nodes: int = 60, num_edges: int = 240, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_nodes, (num_edges,), generator=generator)
    dst = torch.randint(0, num_nodes, (num_edges,), generator=generator)
    return dgl.graph((src, dst), num_nodes=num_nodes)


def _dense_sage_reference(model: GraphSAGE, graph, inputs: torch.Tensor) -> torch.Tensor:
    """Mean-aggregator SAGE written with a dense row-normalized adjacency, in float64."""
    src, dst = graph.edges()
    num_nodes = graph.num_nodes()
    adjacency = torch.zeros(num_nodes, num_nodes, dtype=torch.float64)
    adjacency.index_put_((dst, src), torch.ones(src.shape[0], dtype=torch.float64), accumulate=True)
    degree = adjacency.sum(dim=1, keepdim=True)
    mean_operator = adjacency / degree.clamp(min=1)
    h = inputs.double()
    for index, layer in enumerate(model.layers):
        w_self = layer.fc_self.weight.double()
        b_self = layer.fc_self.bias.double()
        w_neigh = layer.fc_neigh.weight.double()
        h = h @ w_self.T + b_self + (mean_operator @ h) @ w_neigh.T
        if index < len(model.layers) - 1:
            h = torch.relu(h)
    return h


def test_sage_layerwise_inference_matches_dense_reference():
    graph = _random_graph()
    embedding = torch.nn.Embedding(graph.num_nodes(), 12)
    model = GraphSAGE(embedding, 12, 16, 5, num_layers=3, dropout=0.3)
    expected = _dense_sage_reference(model, graph, embedding.weight.detach())
    actual = model.layerwise_inference(graph, chunk_size=25)
    torch.testing.assert_close(actual.double(), expected, rtol=1e-4, atol=1e-5)
    subset = torch.tensor([5, 0, 59, 17])
    actual_subset = model.layerwise_inference(graph, chunk_size=3, output_nodes=subset)
    torch.testing.assert_close(actual_subset.double(), expected[subset], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["sage", "gat"])
def test_sampled_forward_with_full_neighbors_matches_layerwise_inference(name):
    graph = dgl.add_self_loop(_random_graph(seed=1))
    embedding = torch.nn.Embedding(graph.num_nodes(), 8)
    model = build_model(name, embedding, 8, 6, 4, num_layers=2, heads=3, dropout=0.5)
    model.eval()
    sampler = dgl.dataloading.MultiLayerFullNeighborSampler(2)
    seeds = torch.tensor([3, 9, 41, 0])
    input_ids, output_ids, blocks = sampler.sample_blocks(graph, seeds)
    with torch.no_grad():
        sampled = model(blocks, input_ids)
    layerwise = model.layerwise_inference(graph, chunk_size=40, output_nodes=output_ids)
    torch.testing.assert_close(sampled, layerwise, rtol=1e-5, atol=1e-6)
    assert model.training is False
    model.train()
    model.layerwise_inference(graph, chunk_size=40)
    assert model.training is True, "layer-wise inference must restore training mode"


def test_gradients_reach_the_embedding_and_dropout_is_active_in_training():
    graph = _random_graph(seed=2)
    embedding = torch.nn.Embedding(graph.num_nodes(), 8)
    model = build_model("gat", embedding, 8, 4, 3, heads=2, dropout=0.5)
    sampler = dgl.dataloading.MultiLayerFullNeighborSampler(2)
    input_ids, _, blocks = sampler.sample_blocks(graph, torch.arange(10))
    first = model(blocks, input_ids)
    second = model(blocks, input_ids)
    assert not torch.allclose(first, second), "dropout should make two training passes differ"
    first.sum().backward()
    touched = embedding.weight.grad.abs().sum(dim=1) > 0
    assert touched[input_ids].any()
    untouched = torch.ones(graph.num_nodes(), dtype=torch.bool)
    untouched[input_ids] = False
    assert not touched[untouched].any(), "only sampled input nodes may receive gradient"


def test_gat_widths_and_head_averaging():
    model = GAT(torch.nn.Embedding(10, 8), 8, 4, 3, heads=2, num_layers=3)
    assert [layer.fc.in_features for layer in model.layers] == [8, 8, 8]
    assert [layer.fc.out_features for layer in model.layers] == [8, 8, 6]
    graph = dgl.add_self_loop(_random_graph(10, 20, seed=3))
    assert model.layerwise_inference(graph).shape == (10, 3)


def test_node_features_input():
    features = torch.randn(60, 5)
    graph = _random_graph()
    model = build_model("sage", NodeFeatures(features), 5, 8, 2)
    expected = _dense_sage_reference(model, graph, features)
    torch.testing.assert_close(
        model.layerwise_inference(graph).double(), expected, rtol=1e-4, atol=1e-5
    )
    assert list(model.parameters()) == list(model.layers.parameters()), "features are not trained"
    with pytest.raises(ValueError, match="float"):
        NodeFeatures(torch.ones(3, 2, dtype=torch.int64))


def test_tt_embedding_input_trains_its_cores():
    from tt_gnn.embedding import TTEmbedding

    graph = _random_graph()
    embedding = TTEmbedding(graph.num_nodes(), 8, rank=4, seed=0)
    model = build_model("sage", embedding, 8, 8, 3)
    expected = _dense_sage_reference(model, graph, embedding.to_dense().detach())
    torch.testing.assert_close(
        model.layerwise_inference(graph).double(), expected, rtol=1e-4, atol=1e-5
    )
    sampler = dgl.dataloading.NeighborSampler([3, 3])
    input_ids, _, blocks = sampler.sample_blocks(graph, torch.arange(8))
    model(blocks, input_ids).square().sum().backward()
    assert all(core.grad is not None and core.grad.abs().sum() > 0 for core in embedding.cores)


def test_invalid_arguments_are_rejected():
    embedding = torch.nn.Embedding(10, 4)
    with pytest.raises(ValueError, match="unknown model 'gcn'"):
        build_model("gcn", embedding, 4, 4, 2)
    with pytest.raises(ValueError, match="dropout"):
        build_model("sage", embedding, 4, 4, 2, dropout=1.0)
    with pytest.raises(ValueError, match="num_layers"):
        build_model("sage", embedding, 4, 4, 2, num_layers=0)
    with pytest.raises(ValueError, match="heads"):
        build_model("gat", embedding, 4, 4, 2, heads=0)
    model = build_model("sage", embedding, 4, 4, 2, num_layers=2)
    blocks = dgl.dataloading.MultiLayerFullNeighborSampler(1).sample_blocks(
        _random_graph(10, 20), torch.arange(3)
    )[2]
    with pytest.raises(ValueError, match="expected 2 blocks"):
        model(blocks, torch.arange(10))
    with pytest.raises(ValueError, match="together"):
        model.layerwise_inference(_random_graph(10, 20), shard=(0, 2))


def test_to_dgl_block_keeps_edges_and_ids():
    from tt_gnn.dgl.models import to_dgl_block
    from tt_gnn.gnn.sampler import full_neighbor_block
    from tt_gnn.graph import Graph

    graph = Graph.from_edges([0, 1, 2, 2], [1, 1, 0, 3], num_nodes=4)
    block = full_neighbor_block(graph, torch.tensor([1, 3]))
    converted = to_dgl_block(block)
    assert converted.is_block
    assert (converted.num_src_nodes(), converted.num_dst_nodes()) == (block.num_src, 2)
    src, dst = converted.edges()
    assert torch.equal(src, block.src) and torch.equal(dst, block.dst)
    assert torch.equal(converted.srcdata[dgl.NID], block.src_ids)
    assert torch.equal(converted.dstdata[dgl.NID], torch.tensor([1, 3]))


def test_dgl_backend_batches_cover_the_seeds_and_repeat_for_a_seed():
    from tt_gnn.dgl.backend import BACKEND
    from tt_gnn.dgl.convert import from_dgl

    prepared = BACKEND.prepare(from_dgl(_random_graph()), "cpu", self_loops=True)
    assert prepared.native.num_edges() == prepared.graph.num_edges()
    seeds = torch.randperm(60, generator=torch.Generator().manual_seed(0))[:25]
    batches = BACKEND.batches(prepared, seeds, [2, 2], 10, seed=3)
    first, again = list(batches), list(batches)
    assert len(batches) == 3
    assert torch.equal(torch.cat([output_ids for _, output_ids, _ in first]), seeds)
    for (input_a, _, blocks_a), (input_b, _, _) in zip(first, again):
        assert torch.equal(input_a, input_b)
        assert len(blocks_a) == 2 and torch.equal(blocks_a[0].srcdata[dgl.NID], input_a)
