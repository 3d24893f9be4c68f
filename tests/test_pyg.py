"""Tests for tt_gnn.pyg: conversions, the Data graph adapter (reorder, spectral init), and the
README example of a TTEmbedding inside a user's own PyG training loop."""

from __future__ import annotations

import pytest
import torch

torch_geometric = pytest.importorskip("torch_geometric")

from torch_geometric.data import Data, HeteroData  # noqa: E402

from tt_gnn.graph import Graph, edge_arrays, relabel_graph  # noqa: E402
from tt_gnn.pyg.convert import from_pyg, to_pyg  # noqa: E402
from tt_gnn.synthetic import planted_partition_graph  # noqa: E402


def _planted_data(num_nodes: int = 600, seed: int = 0) -> Data:
    planted = planted_partition_graph(
        num_nodes, 12, average_degree=10, mixing=0.1, num_classes=4, seed=seed
    )
    src = torch.from_numpy(planted.src)
    dst = torch.from_numpy(planted.dst)
    edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
    generator = torch.Generator().manual_seed(seed)
    return Data(
        edge_index=edge_index,
        y=torch.from_numpy(planted.labels),
        x=torch.randn(num_nodes, 3, generator=generator),
        train_mask=torch.rand(num_nodes, generator=generator) < 0.5,
        edge_weight=torch.rand(edge_index.shape[1], generator=generator),
        num_nodes=num_nodes,
    )


def _edge_set(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return set(map(tuple, edge_index.T.tolist()))


def test_graph_round_trips_through_data_with_original_ids():
    graph = Graph.from_edges([0, 3, 3, 1], [1, 1, 2, 0], num_nodes=5).relabel([4, 3, 2, 1, 0])
    data = to_pyg(graph)
    assert data.num_nodes == 5 and data.edge_index.shape == (2, 4)
    assert torch.equal(data.n_id, graph.original_ids)
    back = from_pyg(data)
    assert torch.equal(back.indptr, graph.indptr) and torch.equal(back.indices, graph.indices)
    assert torch.equal(back.original_ids, graph.original_ids)
    isolated = to_pyg(Graph.from_edges([], [], num_nodes=3))
    assert isolated.num_nodes == 3 and from_pyg(isolated).num_nodes() == 3


def test_relabel_permutes_node_tensors_and_keeps_edge_order():
    data = _planted_data()
    permutation = torch.randperm(data.num_nodes, generator=torch.Generator().manual_seed(1))
    moved = relabel_graph(data, permutation)
    assert isinstance(moved, Data)
    assert torch.equal(moved.n_id, permutation)
    for key in ("x", "y", "train_mask"):
        assert torch.equal(moved[key], data[key][permutation]), key
    assert torch.equal(moved.edge_weight, data.edge_weight), "edge tensors keep their order"
    # Edge e of the result joins the new ids of edge e's old endpoints.
    assert torch.equal(permutation[moved.edge_index], data.edge_index)
    assert "n_id" not in data, "the input is not modified"
    # Relabeling again composes the original ids.
    second = torch.randperm(data.num_nodes, generator=torch.Generator().manual_seed(2))
    twice = relabel_graph(moved, second)
    assert torch.equal(twice.n_id, permutation[second])
    assert torch.equal(twice.x, data.x[permutation[second]])


def test_reorder_graph_accepts_data_and_returns_a_permuted_data():
    from tt_gnn.reorder import reorder_graph

    data = _planted_data()
    reordered, report = reorder_graph(data, (10, 6, 10), method="tt-metis", seed=0)
    assert isinstance(reordered, Data)
    permutation = torch.as_tensor(report.permutation)
    assert torch.equal(reordered.n_id, permutation)
    assert torch.equal(reordered.y, data.y[permutation])
    assert _edge_set(permutation[reordered.edge_index]) == _edge_set(data.edge_index)

    # Leaves of 10 consecutive ids hold partitions: fewer edges leave a leaf than in the
    # input's order (planted graphs number their nodes at random).
    def leaf_cut(edge_index: torch.Tensor) -> float:
        return float((edge_index[0] // 10 != edge_index[1] // 10).float().mean())

    assert leaf_cut(reordered.edge_index) < 0.75 * leaf_cut(data.edge_index)


def test_spectral_eigenvectors_of_a_data_equal_those_of_its_graph():
    from tt_gnn.spectral import laplacian_eigenvectors

    data = _planted_data(300)
    graph = from_pyg(data)
    from_data = laplacian_eigenvectors(data, 4, dtype=torch.float64, seed=0)
    from_graph = laplacian_eigenvectors(graph, 4, dtype=torch.float64, seed=0)
    torch.testing.assert_close(from_data.eigenvalues, from_graph.eigenvalues)
    torch.testing.assert_close(from_data.eigenvectors, from_graph.eigenvectors)


def test_spectral_init_accepts_a_data():
    from tt_gnn.embedding import TTEmbedding

    data = _planted_data(300)
    embedding = TTEmbedding(300, 8, rank=4, init="spectral", graph=data, seed=0)
    assert torch.isfinite(embedding.to_dense()).all()


def test_bad_data_inputs_are_rejected():
    with pytest.raises(ValueError, match="homogeneous"):
        edge_arrays(HeteroData())
    with pytest.raises(ValueError, match="edge_index"):
        edge_arrays(Data(x=torch.ones(3, 1)))
    with pytest.raises(ValueError, match="num_nodes"):
        edge_arrays(Data(edge_index=torch.tensor([[0], [1]]), num_nodes=5), num_nodes=4)


def test_readme_example_tt_embedding_in_a_pyg_training_loop():
    # --- README: "TTEmbedding as the input of your own PyG model" --------------------------
    import torch.nn.functional as F
    from torch_geometric.nn import SAGEConv

    from tt_gnn import TTEmbedding, reorder_graph

    # data = Planetoid(root, "Cora")[0], or any torch_geometric Data with edge_index and y.
    data = _planted_data()
    data, report = reorder_graph(data)  # node id == TT row; original ids in data.n_id

    class Net(torch.nn.Module):
        def __init__(self, num_nodes: int, num_classes: int) -> None:
            super().__init__()
            self.embedding = TTEmbedding(num_nodes, 64, rank=8, seed=0)  # the input features
            self.conv1 = SAGEConv(64, 32)
            self.conv2 = SAGEConv(32, num_classes)

        def forward(self, edge_index: torch.Tensor) -> torch.Tensor:
            x = self.embedding(torch.arange(self.embedding.num_embeddings))
            x = F.relu(self.conv1(x, edge_index))
            return self.conv2(F.dropout(x, 0.5, self.training), edge_index)

    model = Net(data.num_nodes, int(data.y.max()) + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(50):
        model.train()
        loss = F.cross_entropy(model(data.edge_index)[data.train_mask], data.y[data.train_mask])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    prediction = model(data.edge_index).argmax(dim=1)
    accuracy = (prediction[~data.train_mask] == data.y[~data.train_mask]).float().mean()
    print(f"accuracy {accuracy:.3f} with {model.embedding.compression_ratio:.0f}x compression")
    # --- end of README example ---------------------------------------------------------------
    assert accuracy > 0.7, f"accuracy {accuracy:.3f}; chance is 0.25"
    assert report.permutation.shape == (data.num_nodes,)
