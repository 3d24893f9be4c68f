"""The Laplacian eigen-solver against dense ``numpy.linalg.eigh`` on small graphs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from tt_gnn.spectral import laplacian_eigenvectors, normalized_adjacency
from tt_gnn.synthetic import planted_partition_graph


def dense_laplacian(src, dst, num_nodes: int) -> np.ndarray:
    """Reference ``I - D^-1/2 A D^-1/2`` built entry by entry (``L_ii = 0`` when isolated)."""
    adjacency = np.zeros((num_nodes, num_nodes))
    for u, v in zip(src, dst, strict=True):
        if u != v:
            adjacency[u, v] = adjacency[v, u] = 1.0
    degree = adjacency.sum(axis=1)
    laplacian = np.zeros_like(adjacency)
    for u in range(num_nodes):
        if degree[u] > 0:
            laplacian[u, u] = 1.0
        for v in range(num_nodes):
            if adjacency[u, v]:
                laplacian[u, v] = -1.0 / np.sqrt(degree[u] * degree[v])
    return laplacian


def community_graph():
    graph = planted_partition_graph(300, 6, average_degree=16, mixing=0.1, seed=4)
    return graph.src, graph.dst, graph.num_nodes


def test_matches_dense_eigh_on_connected_graph():
    src, dst, num_nodes = community_graph()
    laplacian = dense_laplacian(src, dst, num_nodes)
    reference_values, reference_vectors = np.linalg.eigh(laplacian)
    assert abs(reference_values[0]) < 1e-12 and reference_values[1] > 1e-3  # one component
    result = laplacian_eigenvectors(
        (src, dst), 5, num_nodes=num_nodes, dtype=torch.float64, tol=1e-9, seed=0
    )
    assert result.converged and result.num_components == 1
    vectors = result.eigenvectors.numpy()
    values = result.eigenvalues.numpy()
    # L v = lambda v with the independent dense L
    assert np.abs(laplacian @ vectors - vectors * values).max() < 1e-8
    np.testing.assert_allclose(values, reference_values[1:6], atol=1e-9)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(5), atol=1e-10)
    # same invariant subspace (the gap after the 5th non-trivial eigenvalue is large)
    reference = reference_vectors[:, 1:6]
    np.testing.assert_allclose(vectors @ vectors.T, reference @ reference.T, atol=1e-7)


def test_float32_default_reaches_its_tolerance():
    src, dst, num_nodes = community_graph()
    laplacian = dense_laplacian(src, dst, num_nodes)
    result = laplacian_eigenvectors((src, dst), 5, num_nodes=num_nodes, seed=0)
    assert result.eigenvectors.dtype == torch.float32 and result.converged
    vectors = result.eigenvectors.double().numpy()
    residual = laplacian @ vectors - vectors * result.eigenvalues.numpy()
    assert np.linalg.norm(residual, axis=0).max() < 1e-3 + 1e-5
    reference_values = np.linalg.eigvalsh(laplacian)[1:6]
    np.testing.assert_allclose(result.eigenvalues.numpy(), reference_values, atol=1e-4)


def test_disconnected_graph_skips_one_trivial_vector_per_component():
    # two communities graphs side by side, a triangle, and two isolated nodes (ids 0 and last)
    first = planted_partition_graph(60, 3, average_degree=10, mixing=0.1, seed=1)
    second = planted_partition_graph(50, 2, average_degree=10, mixing=0.1, seed=2)
    src = np.concatenate([first.src + 1, second.src + 61, [111, 112, 113]])
    dst = np.concatenate([first.dst + 1, second.dst + 61, [112, 113, 111]])
    num_nodes = 115
    laplacian = dense_laplacian(src, dst, num_nodes)
    reference_values = np.linalg.eigvalsh(laplacian)
    result = laplacian_eigenvectors(
        (src, dst), 6, num_nodes=num_nodes, dtype=torch.float64, tol=1e-9, seed=0
    )
    num_components = int((np.abs(reference_values) < 1e-9).sum())
    assert result.num_components == num_components == 5 and result.num_isolated == 2
    np.testing.assert_allclose(
        result.eigenvalues.numpy(), reference_values[num_components : num_components + 6], atol=1e-9
    )
    vectors = result.eigenvectors.numpy()
    assert np.abs(laplacian @ vectors - vectors * result.eigenvalues.numpy()).max() < 1e-8
    assert np.abs(vectors[[0, 114]]).max() == 0.0  # isolated nodes have zero rows
    degree = (np.abs(laplacian) > 0).sum(axis=1) - (np.diag(laplacian) > 0)
    for component in (slice(1, 61), slice(61, 111), slice(111, 114)):
        trivial = np.sqrt(degree[component])  # the null vector of L on this component
        assert np.abs(trivial @ vectors[component]).max() < 1e-9


def test_too_many_vectors_names_the_limit():
    src, dst = np.array([0, 1, 3]), np.array([1, 2, 4])  # components {0,1,2}, {3,4}
    with pytest.raises(ValueError, match="num_vectors=4 exceeds the 3 non-trivial"):
        laplacian_eigenvectors((src, dst), 4, num_nodes=5)
    result = laplacian_eigenvectors((src, dst), 3, num_nodes=5, dtype=torch.float64)
    reference = np.linalg.eigvalsh(dense_laplacian(src, dst, 5))[2:]
    np.testing.assert_allclose(result.eigenvalues.numpy(), reference, atol=1e-10)


def test_graph_inputs_agree_and_seed_reproduces():
    from tt_gnn.dgl import dgl

    src, dst, num_nodes = community_graph()
    first = laplacian_eigenvectors((src, dst), 4, num_nodes=num_nodes, seed=3)
    again = laplacian_eigenvectors((src, dst), 4, num_nodes=num_nodes, seed=3)
    torch.testing.assert_close(first.eigenvectors, again.eigenvectors, rtol=0, atol=0)
    matrix = sp.coo_matrix((np.ones(src.shape[0]), (src, dst)), shape=(num_nodes, num_nodes))
    from_scipy = laplacian_eigenvectors(matrix, 4, seed=3)
    torch.testing.assert_close(from_scipy.eigenvectors, first.eigenvectors)
    graph = dgl.graph((torch.from_numpy(dst), torch.from_numpy(src)), num_nodes=num_nodes)
    from_dgl = laplacian_eigenvectors(graph, 4, seed=3)
    torch.testing.assert_close(from_dgl.eigenvalues, first.eigenvalues, rtol=0, atol=1e-5)


def test_normalized_adjacency_matches_formula():
    src, dst, num_nodes = community_graph()
    normalized, degree = normalized_adjacency((src, dst), num_nodes, dtype=np.float64)
    laplacian = dense_laplacian(src, dst, num_nodes)
    np.testing.assert_allclose(np.eye(num_nodes) - normalized.toarray(), laplacian, atol=1e-12)
    assert degree.tolist() == ((np.abs(laplacian) > 0).sum(axis=1) - 1).tolist()


def test_option_errors():
    src, dst, num_nodes = community_graph()
    with pytest.raises(MemoryError, match="GiB"):
        laplacian_eigenvectors((src, dst), 4, num_nodes=num_nodes, max_memory_bytes=10_000)
    with pytest.raises(ValueError, match="num_vectors must be >= 1"):
        laplacian_eigenvectors((src, dst), 0, num_nodes=num_nodes)
    with pytest.raises(ValueError, match="dtype"):
        laplacian_eigenvectors((src, dst), 4, num_nodes=num_nodes, dtype=torch.float16)
    with pytest.raises(ValueError, match="num_nodes=299 does not match"):
        laplacian_eigenvectors(sp.eye(300, format="csr"), 4, num_nodes=299)


def test_symmetric_adjacency_matches_brute_force_for_graphs_and_edge_pairs():
    """Duplicates, self-loops and one-way edges: the CSR path of a Graph and the edge-pair
    path both give the dense 0/1 matrix of 'u -> v or v -> u, u != v'."""
    from tt_gnn.graph import Graph, symmetric_adjacency

    generator = np.random.default_rng(3)
    num_nodes = 40
    src = generator.integers(0, num_nodes, 300)
    dst = generator.integers(0, num_nodes, 300)
    src[:5], dst[:5] = 7, 7  # self-loops, repeated
    expected = np.zeros((num_nodes, num_nodes), dtype=np.int64)
    for u, v in zip(src.tolist(), dst.tolist()):
        if u != v:
            expected[u, v] = expected[v, u] = 1
    graph = Graph.from_edges(torch.from_numpy(src), torch.from_numpy(dst), num_nodes=num_nodes)
    indices_before = graph.indices.clone()
    for source in (graph, (src, dst)):
        matrix = symmetric_adjacency(source, num_nodes, dtype=np.int8)
        assert matrix.has_canonical_format
        np.testing.assert_array_equal(matrix.toarray(), expected)
    kept = symmetric_adjacency(graph, drop_self_loops=False).toarray()
    assert kept[7, 7] == 1 and np.array_equal(kept - np.diag(np.diag(kept)), expected)
    assert torch.equal(graph.indices, indices_before)  # the graph is not modified
