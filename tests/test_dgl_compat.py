import sys

import pytest
import torch

from tt_gnn import TTEmbedding
from tt_gnn.dgl import dgl, graphbolt_available


def small_graph(num_nodes=60, num_edges=300, seed=0):
    generator = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_nodes, (num_edges,), generator=generator)
    dst = torch.randint(0, num_nodes, (num_edges,), generator=generator)
    return dgl.add_self_loop(dgl.to_bidirected(dgl.graph((src, dst), num_nodes=num_nodes)))


def test_graphbolt_placeholder_raises_attribute_error():
    if graphbolt_available:
        pytest.skip("GraphBolt is built for this torch; no placeholder is installed")
    module = sys.modules["dgl.graphbolt"]
    assert dgl.graphbolt is module
    assert not hasattr(module, "ItemSampler")
    with pytest.raises(AttributeError, match="GraphBolt"):
        module.ItemSampler  # noqa: B018


def test_sage_and_gat_take_tt_embeddings():
    graph = small_graph()
    embedding = TTEmbedding(graph.num_nodes(), 16, rank=4, seed=0)
    features = embedding(torch.arange(graph.num_nodes()))
    sage = dgl.nn.SAGEConv(16, 8, "mean")
    gat = dgl.nn.GATConv(16, 4, num_heads=2)
    assert sage(graph, features).shape == (60, 8)
    assert gat(graph, features).shape == (60, 2, 4)
    sage(graph, features).sum().backward()
    assert all(core.grad is not None and core.grad.abs().sum() > 0 for core in embedding.cores)


def test_neighbor_sampling_dataloader_with_tt_inputs():
    graph = small_graph()
    embedding = TTEmbedding(graph.num_nodes(), 8, rank=3, seed=0)
    layers = [dgl.nn.SAGEConv(8, 4, "mean"), dgl.nn.SAGEConv(4, 4, "mean")]
    sampler = dgl.dataloading.NeighborSampler([3, 3])
    loader = dgl.dataloading.DataLoader(
        graph, torch.arange(20), sampler, batch_size=8, shuffle=True
    )
    seen = []
    for input_nodes, output_nodes, blocks in loader:
        assert len(blocks) == 2
        hidden = layers[0](blocks[0], embedding(input_nodes))
        out = layers[1](blocks[1], hidden)
        assert out.shape == (len(output_nodes), 4)
        seen.append(output_nodes)
    assert sorted(torch.cat(seen).tolist()) == list(range(20))


def test_metis_partition_assignment_works():
    graph = small_graph()
    parts = dgl.metis_partition_assignment(graph, 4)
    assert parts.shape == (60,) and set(parts.tolist()) <= {0, 1, 2, 3}
