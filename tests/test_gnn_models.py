"""Tests for tt_gnn.gnn.classifier, tt_gnn.gnn.models and tt_gnn.gnn.backend.

The torch-native models against dense float64 references; layer-wise inference (sharded too)
against sampled full-neighbour forwards; and one model, three backends (torch, DGL, PyG):
identical weights from one seed, identical logits and gradients in float64.
"""

from __future__ import annotations

import threading

import pytest
import torch

from tt_gnn.gnn.backend import (
    BACKEND_NAMES,
    PreparedGraph,
    TorchBackend,
    graph_backends,
    resolve_graph_backend,
)
from tt_gnn.gnn.classifier import NodeFeatures, shard_bounds
from tt_gnn.gnn.models import GAT, GraphSAGE, build_model
from tt_gnn.gnn.sampler import NeighborBatches, sample_blocks
from tt_gnn.graph import Graph


def _random_graph(num_nodes: int = 60, num_edges: int = 240, seed: int = 0) -> Graph:
    generator = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_nodes, (num_edges,), generator=generator)
    dst = torch.randint(0, num_nodes, (num_edges,), generator=generator)
    return Graph.from_edges(src, dst, num_nodes)


def _dense_sage_reference(model, graph: Graph, inputs: torch.Tensor) -> torch.Tensor:
    """Mean-aggregator SAGE with a dense row-normalized adjacency, float64."""
    src, dst = graph.edges()
    num_nodes = graph.num_nodes()
    adjacency = torch.zeros(num_nodes, num_nodes, dtype=torch.float64)
    adjacency.index_put_((dst, src), torch.ones(src.shape[0], dtype=torch.float64), accumulate=True)
    mean_operator = adjacency / adjacency.sum(dim=1, keepdim=True).clamp(min=1)
    h = inputs.double()
    for index, layer in enumerate(model.layers):
        h = (
            h @ layer.fc_self.weight.double().T
            + layer.fc_self.bias.double()
            + (mean_operator @ h) @ layer.fc_neigh.weight.double().T
        )
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
    subset = torch.tensor([5, 0, 59, 17, 5])
    actual_subset = model.layerwise_inference(graph, chunk_size=3, output_nodes=subset)
    torch.testing.assert_close(actual_subset.double(), expected[subset], rtol=1e-4, atol=1e-5)
    empty = model.layerwise_inference(graph, output_nodes=torch.tensor([], dtype=torch.int64))
    assert empty.shape == (0, 5)


@pytest.mark.parametrize("name", ["sage", "gat"])
def test_sampled_forward_with_full_neighbors_matches_layerwise_inference(name):
    graph = _random_graph(seed=1).with_self_loops()
    embedding = torch.nn.Embedding(graph.num_nodes(), 8)
    model = build_model(name, embedding, 8, 6, 4, num_layers=2, heads=3, dropout=0.5)
    model.eval()
    seeds = torch.tensor([3, 9, 41, 0])
    blocks = sample_blocks(graph, seeds, [-1, -1])
    with torch.no_grad():
        sampled = model(blocks, blocks[0].src_ids)
    layerwise = model.layerwise_inference(graph, chunk_size=40, output_nodes=seeds)
    torch.testing.assert_close(sampled, layerwise, rtol=1e-5, atol=1e-6)
    model.train()
    model.layerwise_inference(graph, chunk_size=40)
    assert model.training is True, "layer-wise inference must restore training mode"


@pytest.mark.parametrize("name", ["sage", "gat"])
def test_sharded_layerwise_inference_equals_unsharded(name):
    graph = _random_graph(seed=4).with_self_loops()
    model = build_model(name, torch.nn.Embedding(60, 8), 8, 6, 3, num_layers=3, heads=2)
    output_nodes = torch.tensor([7, 1, 33, 58, 20])
    expected = model.layerwise_inference(graph, chunk_size=7, output_nodes=output_nodes)
    world_size = 2
    barrier = threading.Barrier(world_size)
    pieces: dict[int, torch.Tensor] = {}
    results: dict[int, torch.Tensor] = {}

    def run(rank: int) -> None:
        def gather(rows: torch.Tensor, total: int) -> torch.Tensor:
            pieces[rank] = rows
            barrier.wait()
            full = torch.cat([pieces[r] for r in range(world_size)])
            barrier.wait()
            assert full.shape[0] == total
            return full

        results[rank] = model.layerwise_inference(
            graph, chunk_size=7, output_nodes=output_nodes, shard=(rank, world_size), gather=gather
        )

    threads = [threading.Thread(target=run, args=(rank,)) for rank in range(world_size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for rank in range(world_size):
        torch.testing.assert_close(results[rank], expected)


def test_gradients_reach_the_embedding_and_dropout_is_active_in_training():
    graph = _random_graph(seed=2)
    embedding = torch.nn.Embedding(graph.num_nodes(), 8)
    model = build_model("gat", embedding, 8, 4, 3, heads=2, dropout=0.5)
    blocks = sample_blocks(graph, torch.arange(10), [-1, -1])
    input_ids = blocks[0].src_ids
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
    assert [model.output_width(i) for i in range(3)] == [8, 8, 3]
    graph = _random_graph(10, 20, seed=3).with_self_loops()
    logits = model.layerwise_inference(graph)
    assert logits.shape == (10, 3)
    # Head averaging: the output equals the mean of the last layer's per-head outputs.
    model.eval()
    blocks = sample_blocks(graph, torch.arange(10), [-1, -1, -1])
    with torch.no_grad():
        h = model.node_input(blocks[0].src_ids)
        for index in range(2):
            h = model.activation(model.layers[index](blocks[index], h).flatten(1))
        heads = model.layers[2](blocks[2], h)
    torch.testing.assert_close(logits, heads.mean(dim=1), rtol=1e-5, atol=1e-6)


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
    blocks = sample_blocks(graph, torch.arange(8), [3, 3])
    model(blocks, blocks[0].src_ids).square().sum().backward()
    assert all(core.grad is not None and core.grad.abs().sum() > 0 for core in embedding.cores)


def test_shard_bounds_partition_the_range():
    for total in (0, 1, 7, 100):
        for world_size in (1, 2, 3, 8):
            bounds = [shard_bounds(total, rank, world_size) for rank in range(world_size)]
            assert bounds[0][0] == 0 and bounds[-1][1] == total
            assert all(bounds[k][1] == bounds[k + 1][0] for k in range(world_size - 1))
            sizes = [stop - start for start, stop in bounds]
            assert max(sizes) - min(sizes) <= 1
    with pytest.raises(ValueError, match="rank"):
        shard_bounds(10, 2, 2)


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
    with pytest.raises(ValueError, match="hidden"):
        build_model("sage", embedding, 4, 0, 2)
    model = build_model("sage", embedding, 4, 4, 2, num_layers=2)
    graph = _random_graph(10, 20)
    blocks = sample_blocks(graph, torch.arange(3), [-1])
    with pytest.raises(ValueError, match="expected 2 blocks"):
        model(blocks, blocks[0].src_ids)
    with pytest.raises(ValueError, match="together"):
        model.layerwise_inference(graph, shard=(0, 2))
    with pytest.raises(ValueError, match="chunk_size"):
        model.layerwise_inference(graph, chunk_size=0)


# --- One model, three backends --------------------------------------------------------------


def _three_models(name: str, seed: int = 5):
    """The torch, DGL and PyG models built from the same seed (float64, eval mode)."""
    dgl_models = pytest.importorskip("tt_gnn.dgl.models")
    pyg_models = pytest.importorskip("tt_gnn.pyg.models")
    models = []
    for module in (None, dgl_models, pyg_models):
        torch.manual_seed(seed)
        build = build_model if module is None else module.build_model
        embedding = torch.nn.Embedding(60, 8)
        models.append(build(name, embedding, 8, 6, 4, num_layers=2, heads=3, dropout=0.5))
    return [model.double().eval() for model in models]


@pytest.mark.parametrize("name", ["sage", "gat"])
def test_one_seed_gives_the_same_weights_in_every_backend(name):
    from tt_gnn.pyg.models import state_from_pyg

    torch_model, dgl_model, pyg_model = _three_models(name)
    reference = torch_model.state_dict()
    for state in (dgl_model.state_dict(), state_from_pyg(pyg_model.state_dict(), name)):
        assert state.keys() == reference.keys()
        assert all(torch.equal(state[key], reference[key]) for key in reference)


@pytest.mark.parametrize("name", ["sage", "gat"])
def test_same_weights_same_logits_and_gradients_in_every_backend(name):
    from tt_gnn.dgl.models import to_dgl_block
    from tt_gnn.pyg.models import state_to_pyg

    torch_model, dgl_model, pyg_model = _three_models(name)
    # Independent weights (a different seed), copied into the others by the translations.
    torch.manual_seed(99)
    for parameter in torch_model.parameters():
        torch.nn.init.normal_(parameter, std=0.5)
    dgl_model.load_state_dict(torch_model.state_dict())
    pyg_model.load_state_dict(state_to_pyg(torch_model.state_dict(), name))
    graph = _random_graph(seed=6).with_self_loops()
    seeds = torch.tensor([3, 9, 41, 0, 22])
    blocks = sample_blocks(graph, seeds, [-1, -1])
    input_ids = blocks[0].src_ids
    dgl_blocks = [to_dgl_block(block) for block in blocks]
    outputs = [
        torch_model(blocks, input_ids),
        dgl_model(dgl_blocks, input_ids),
        pyg_model(blocks, input_ids),
    ]
    weights = torch.randn_like(outputs[0])
    gradients = [
        torch.autograd.grad((out * weights).sum(), model.node_input.weight)[0]
        for out, model in zip(outputs, (torch_model, dgl_model, pyg_model))
    ]
    layerwise = [
        model.layerwise_inference(graph, chunk_size=13)
        for model in (torch_model, dgl_model, pyg_model)
    ]
    torch.testing.assert_close(layerwise[0][seeds], outputs[0], rtol=1e-12, atol=1e-12)
    for other in (1, 2):
        torch.testing.assert_close(outputs[other], outputs[0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(gradients[other], gradients[0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(layerwise[other], layerwise[0], rtol=1e-12, atol=1e-12)
    assert gradients[0].abs().sum() > 0


# --- Backends -------------------------------------------------------------------------------


def test_auto_resolves_to_torch_and_unknown_names_are_rejected():
    assert isinstance(resolve_graph_backend("auto", "cpu"), TorchBackend)
    assert set(graph_backends("cpu")) == set(BACKEND_NAMES) - {"auto"}
    assert graph_backends("cpu")["torch"][0] is True
    with pytest.raises(ValueError, match="unknown graph backend 'jax'"):
        resolve_graph_backend("jax", "cpu")


def test_dgl_backend_is_unavailable_where_dgl_cannot_put_a_graph():
    dgl_backend = pytest.importorskip("tt_gnn.dgl.backend").BACKEND
    assert dgl_backend.available("cpu")[0] is True
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device to check DGL's CUDA support")
    usable, reason = dgl_backend.available("cuda")
    if not usable:
        assert "cuda" in reason
        with pytest.raises(ValueError, match="cannot run on cuda"):
            resolve_graph_backend("dgl", "cuda")


@pytest.mark.parametrize("name", ["torch", "dgl", "pyg"])
def test_every_backend_trains_a_small_classifier(name):
    """Prepare, build, batches, a few Adam steps, then layer-wise inference: accuracy on a
    planted-partition graph rises well above chance (1/4)."""
    from tt_gnn.synthetic import planted_partition_graph

    if name != "torch":
        pytest.importorskip(f"tt_gnn.{name}")
    backend = resolve_graph_backend(name, "cpu")
    planted = planted_partition_graph(400, 8, average_degree=12, mixing=0.05, num_classes=4, seed=0)
    src = torch.from_numpy(planted.src)
    dst = torch.from_numpy(planted.dst)
    graph = Graph.from_edges(torch.cat([src, dst]), torch.cat([dst, src]), planted.num_nodes)
    labels = torch.from_numpy(planted.labels)
    prepared = backend.prepare(graph, "cpu", self_loops=True)
    assert isinstance(prepared, PreparedGraph)
    assert prepared.graph.num_edges() == graph.num_edges() + graph.num_nodes()
    torch.manual_seed(0)
    model = backend.build_model(
        "sage", torch.nn.Embedding(400, 16), 16, 16, 4, num_layers=2, heads=2, dropout=0.0
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    train_nodes = torch.arange(0, 400, 2)
    for epoch in range(8):
        order = train_nodes[torch.randperm(len(train_nodes))]
        batches = backend.batches(prepared, order, [5, 5], 50, seed=epoch)
        assert len(batches) == 4
        for input_ids, output_ids, blocks in batches:
            loss = torch.nn.functional.cross_entropy(model(blocks, input_ids), labels[output_ids])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    test_nodes = torch.arange(1, 400, 2)
    logits = model.layerwise_inference(prepared.graph, output_nodes=test_nodes)
    accuracy = float((logits.argmax(1) == labels[test_nodes]).float().mean())
    assert accuracy > 0.6, f"{name}: accuracy {accuracy:.2f}"


def test_torch_backend_batches_are_neighbor_batches_on_the_graph_device():
    backend = TorchBackend()
    prepared = backend.prepare(_random_graph(), "cpu", self_loops=False)
    batches = backend.batches(prepared, torch.arange(10), [2, 2], 4, seed=0)
    assert isinstance(batches, NeighborBatches) and len(batches) == 3
    with pytest.raises(TypeError, match="Graph"):
        backend.prepare((torch.tensor([0]), torch.tensor([1])), "cpu", self_loops=False)


def test_the_torch_native_package_imports_neither_dgl_nor_pyg():
    import subprocess
    import sys

    code = (
        "import sys, tt_gnn.gnn, tt_gnn.gnn.backend as b; b.resolve_graph_backend('auto'); "
        "print('dgl' in sys.modules, 'torch_geometric' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
