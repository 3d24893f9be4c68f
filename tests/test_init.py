"""Initializers: orthogonality, TT-SVD of given tables, spectral embeddings, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from tests.reference import dense_from_cores
from tt_gnn.decomposition import tt_svd
from tt_gnn.init import (
    available_initializers,
    available_table_initializers,
    initialize_cores,
    initialize_table,
    tt_frobenius_norm,
)
from tt_gnn.shapes import choose_shapes
from tt_gnn.spectral import laplacian_eigenvectors
from tt_gnn.synthetic import planted_partition_graph


def test_registry_lists_all_initializers():
    assert {"gaussian", "ortho", "spectral", "dense"} <= set(available_initializers())


@pytest.mark.parametrize(
    ("p_shapes", "q_shapes", "tt_ranks"),
    [
        ((10, 10, 10), (2, 2, 2), (1, 4, 4, 1)),
        ((8, 12, 9), (2, 4, 4), (1, 4, 6, 1)),  # first core is not "tall" on its own
        ((5, 6, 7, 3), (2, 2, 2, 2), (1, 2, 3, 2, 1)),
        ((16, 6), (4, 2), (1, 3, 1)),
    ],
)
def test_ortho_columns_are_orthogonal(p_shapes, q_shapes, tt_ranks):
    capacity, dim = math.prod(p_shapes), math.prod(q_shapes)
    shapes = choose_shapes(capacity, dim, p_shapes=p_shapes, q_shapes=q_shapes)
    gain = 0.7
    cores = initialize_cores("ortho", shapes, tt_ranks, seed=5, dtype=torch.float64, gain=gain)
    table = dense_from_cores(cores, capacity)
    gram = table.T @ table
    torch.testing.assert_close(
        gram, gain**2 * capacity * torch.eye(dim, dtype=torch.float64), rtol=0, atol=1e-9
    )
    assert float(table.pow(2).mean().sqrt()) == pytest.approx(gain, rel=1e-12)


def test_ortho_impossible_shapes_are_orthogonal_in_expectation():
    # p_1 = 2 < q_1 r_1 and p_3 = 2 < r_2 q_3: no center makes every core exact
    shapes = choose_shapes(12, 16, p_shapes=(2, 3, 2), q_shapes=(2, 2, 4))
    grams = []
    for seed in range(100):
        cores = initialize_cores("ortho", shapes, (1, 4, 4, 1), seed=seed, dtype=torch.float64)
        table = dense_from_cores(cores, 12)
        grams.append(table.T @ table / 12)
    single_defect = float((grams[0] - torch.eye(16, dtype=torch.float64)).abs().max())
    mean_defect = float(
        (torch.stack(grams).mean(0) - torch.eye(16, dtype=torch.float64)).abs().max()
    )
    assert single_defect > 0.1  # exactness is impossible here
    assert mean_defect < 0.25 * single_defect


def test_ortho_is_seeded_and_checks_gain():
    shapes = choose_shapes(1000, 8, p_shapes=(10, 10, 10), q_shapes=(2, 2, 2))
    first = initialize_cores("ortho", shapes, (1, 4, 4, 1), seed=1)
    again = initialize_cores("ortho", shapes, (1, 4, 4, 1), seed=1)
    other = initialize_cores("ortho", shapes, (1, 4, 4, 1), seed=2)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], other[0])
    with pytest.raises(ValueError, match="gain must be > 0"):
        initialize_cores("ortho", shapes, (1, 4, 4, 1), gain=0.0)


def test_dense_init_reconstructs_and_truncates_within_bound():
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(97, 8, dtype=torch.float64, generator=generator)
    shapes = choose_shapes(97, 8, p_shapes=(4, 5, 5), q_shapes=(2, 2, 2))
    exact = initialize_cores("dense", shapes, (1, 8, 10, 1), weight=weight, dtype=torch.float64)
    torch.testing.assert_close(dense_from_cores(exact, 97), weight, rtol=0, atol=1e-11)
    report: dict = {}
    cores = initialize_cores(
        "dense", shapes, (1, 3, 3, 1), weight=weight.numpy(), dtype=torch.float64, report=report
    )
    padded = torch.zeros(100, 8, dtype=torch.float64)
    padded[:97] = weight
    error = float((dense_from_cores(cores, 100) - padded).norm() / weight.norm())
    assert report["relative_error"] == pytest.approx(error, rel=1e-9)
    assert 0.1 < error <= report["error_bound"] * (1 + 1e-9)


def test_dense_init_errors():
    shapes = choose_shapes(97, 8, p_shapes=(4, 5, 5), q_shapes=(2, 2, 2))
    with pytest.raises(ValueError, match="needs the option weight"):
        initialize_cores("dense", shapes, (1, 3, 3, 1))
    with pytest.raises(ValueError, match=r"shape \(96, 8\), expected"):
        initialize_cores("dense", shapes, (1, 3, 3, 1), weight=torch.randn(96, 8))
    with pytest.raises(ValueError, match="exceeds the maximal TT rank"):
        initialize_cores("dense", shapes, (1, 9, 3, 1), weight=torch.randn(97, 8))


def spectral_reference(graph, num_nodes: int, dim: int) -> np.ndarray:
    """Projector onto the bottom non-trivial eigenspace of the dense normalized Laplacian."""
    adjacency = np.zeros((num_nodes, num_nodes))
    adjacency[graph.src, graph.dst] = adjacency[graph.dst, graph.src] = 1.0
    scale = 1.0 / np.sqrt(adjacency.sum(axis=1))
    laplacian = np.eye(num_nodes) - scale[:, None] * adjacency * scale[None, :]
    values, vectors = np.linalg.eigh(laplacian)
    assert values[1] > 1e-6  # connected
    return vectors[:, 1 : dim + 1] @ vectors[:, 1 : dim + 1].T


def test_spectral_full_rank_spans_the_bottom_eigenspace():
    graph = planted_partition_graph(1000, 9, average_degree=12, mixing=0.1, seed=0)
    shapes = choose_shapes(1000, 8, p_shapes=(10, 10, 10), q_shapes=(2, 2, 2))
    report: dict = {}
    cores = initialize_cores(
        "spectral",
        shapes,
        (1, 20, 20, 1),  # maximal ranks: the TT is exact
        graph=(graph.src, graph.dst),
        seed=0,
        dtype=torch.float64,
        solver_dtype=torch.float64,
        tol=1e-8,
        std=2.0,
        report=report,
    )
    assert report["converged"] and report["relative_error"] < 1e-10
    table = dense_from_cores(cores, 1000).numpy()
    np.testing.assert_allclose(table.T @ table, 4.0 * 1000 * np.eye(8), atol=1e-6)
    projector = table @ table.T / (4.0 * 1000)
    np.testing.assert_allclose(projector, spectral_reference(graph, 1000, 8), atol=1e-6)


def test_spectral_truncated_reports_error_within_bound():
    graph = planted_partition_graph(1000, 10, average_degree=12, mixing=0.1, seed=1)
    shapes = choose_shapes(1000, 8, p_shapes=(10, 10, 10), q_shapes=(2, 2, 2))
    report: dict = {}
    cores = initialize_cores(
        "spectral", shapes, (1, 4, 4, 1), graph=(graph.src, graph.dst), seed=0, report=report
    )
    table = dense_from_cores([c.double() for c in cores], 1000)
    # reference: the same solve, scaled, through an independent measure of the error
    full_report: dict = {}
    full = initialize_cores(
        "spectral",
        shapes,
        (1, 20, 20, 1),
        graph=(graph.src, graph.dst),
        seed=0,
        dtype=torch.float64,
        report=full_report,
    )
    exact = dense_from_cores(full, 1000)
    assert full_report["scale"] == pytest.approx(1.0, abs=1e-6)  # exact: nothing to restore
    # the truncated TT is the TT-SVD rescaled by report["scale"]
    error = float((table / report["scale"] - exact).norm() / exact.norm())
    assert error == pytest.approx(report["relative_error"], rel=1e-4)
    assert 0.01 < report["relative_error"] <= report["error_bound"] * (1 + 1e-6)
    assert report["residual_norms"].max() <= 1e-2 and report["iterations"] >= 1


def test_spectral_is_seeded():
    graph = planted_partition_graph(1000, 10, average_degree=12, mixing=0.1, seed=1)
    shapes = choose_shapes(1000, 8, p_shapes=(10, 10, 10), q_shapes=(2, 2, 2))
    runs = [
        initialize_cores("spectral", shapes, (1, 4, 4, 1), graph=(graph.src, graph.dst), seed=7)
        for _ in range(2)
    ]
    assert all(torch.equal(a, b) for a, b in zip(*runs, strict=True))


def test_spectral_errors():
    graph = planted_partition_graph(1000, 10, average_degree=12, mixing=0.1, seed=1)
    shapes = choose_shapes(1000, 8, p_shapes=(10, 10, 10), q_shapes=(2, 2, 2))
    with pytest.raises(ValueError, match="needs a graph"):
        initialize_cores("spectral", shapes, (1, 4, 4, 1))
    matrix = sp.coo_matrix((np.ones(graph.num_edges), (graph.src, graph.dst)), shape=(1000, 1000))
    with pytest.raises(ValueError, match="999 nodes, but num_embeddings=1000"):
        initialize_cores("spectral", shapes, (1, 4, 4, 1), graph=matrix.tocsr()[:999, :999])
    with pytest.raises(ValueError, match="out of range for num_nodes=1000"):
        initialize_cores("spectral", shapes, (1, 4, 4, 1), graph=([0, 1000], [1, 2]))
    # 16 columns, but 4 triangles (12 nodes, 4 components) have 8 non-trivial eigenvectors
    triangles = np.arange(12).reshape(4, 3)
    small = choose_shapes(12, 16, p_shapes=(2, 2, 3), q_shapes=(2, 2, 4))
    with pytest.raises(ValueError, match="embedding_dim=16.*exceeds the 8 non-trivial"):
        initialize_cores(
            "spectral",
            small,
            (1, 2, 2, 1),
            graph=(triangles.ravel(), triangles[:, [1, 2, 0]].ravel()),
        )


def test_spectral_isolated_nodes_get_zero_rows_at_full_rank():
    graph = planted_partition_graph(90, 3, average_degree=10, mixing=0.1, seed=3)
    keep = (graph.src < 88) & (graph.dst < 88)  # nodes 88 and 89 lose their edges
    shapes = choose_shapes(90, 4, p_shapes=(9, 10), q_shapes=(2, 2))
    cores = initialize_cores(
        "spectral",
        shapes,
        (1, 18, 1),  # maximal rank: exact
        graph=(graph.src[keep], graph.dst[keep]),
        seed=0,
        dtype=torch.float64,
    )
    table = dense_from_cores(cores, 90)
    assert float(table[88:].abs().max()) < 1e-10
    assert float(table[:88].abs().max()) > 0.1


def test_spectral_accepts_dgl_graphs_and_checks_their_size():
    from tt_gnn.dgl import dgl

    graph = planted_partition_graph(1000, 10, average_degree=12, mixing=0.1, seed=1)
    shapes = choose_shapes(1000, 8, p_shapes=(10, 10, 10), q_shapes=(2, 2, 2))
    edges = (torch.from_numpy(graph.src), torch.from_numpy(graph.dst))
    from_pairs = initialize_cores("spectral", shapes, (1, 4, 4, 1), graph=edges, seed=0)
    from_dgl = initialize_cores(
        "spectral", shapes, (1, 4, 4, 1), graph=dgl.graph(edges, num_nodes=1000), seed=0
    )
    for core_pairs, core_dgl in zip(from_pairs, from_dgl, strict=True):
        torch.testing.assert_close(core_pairs, core_dgl)
    with pytest.raises(ValueError, match="1001 nodes, but num_embeddings=1000"):
        initialize_cores(
            "spectral", shapes, (1, 4, 4, 1), graph=dgl.graph(edges, num_nodes=1001), seed=0
        )


def test_spectral_tt_is_rescaled_to_the_gaussian_entry_scale_with_balanced_cores():
    graph = planted_partition_graph(1000, 10, average_degree=12, mixing=0.1, seed=1)
    shapes = choose_shapes(1000, 8, p_shapes=(10, 10, 10), q_shapes=(2, 2, 2))
    ranks = (1, 4, 4, 1)
    report: dict = {}
    cores = initialize_cores(
        "spectral",
        shapes,
        ranks,
        graph=(graph.src, graph.dst),
        seed=0,
        report=report,
        dtype=torch.float64,
        std=2.0,
    )
    table = dense_from_cores(cores)  # all prod(p) = 1000 rows
    # entry std restored: the truncation kept only sqrt(1 - err^2) of the norm
    assert float(table.pow(2).mean().sqrt()) == pytest.approx(2.0, rel=1e-9)
    assert report["scale"] == pytest.approx((1 - report["relative_error"] ** 2) ** -0.5, rel=1e-6)
    assert report["relative_error"] > 0.1  # the truncation did lose a lot
    # every core has the same entry RMS, close to what the Gaussian init gives at this std
    core_rms = [float(core.pow(2).mean().sqrt()) for core in cores]
    assert core_rms == pytest.approx([core_rms[0]] * 3, rel=1e-9)
    assert core_rms == pytest.approx(report["core_rms"], rel=1e-9)
    gaussian = initialize_cores("gaussian", shapes, ranks, seed=0, std=2.0)
    gaussian_rms = (2.0**2 / 16) ** (1 / 6)  # the Gaussian init's core std
    assert float(gaussian[1].pow(2).mean().sqrt()) == pytest.approx(gaussian_rms, rel=0.1)
    assert 0.6 * gaussian_rms < core_rms[0] < 1.6 * gaussian_rms
    # direction unchanged: a multiple of the TT-SVD of the scaled eigenvectors
    solved = laplacian_eigenvectors(
        (graph.src, graph.dst),
        8,
        num_nodes=1000,
        tol=1e-2,
        max_iterations=30,
        generator=torch.Generator().manual_seed(0),
    )
    reference = tt_svd(
        solved.eigenvectors.double() * 2.0 * 1000**0.5, (10, 10, 10), (2, 2, 2), ranks=(4, 4)
    )
    torch.testing.assert_close(
        table, dense_from_cores(reference.cores) * report["scale"], rtol=1e-6, atol=1e-6
    )


def test_tt_frobenius_norm_matches_the_dense_table():
    generator = torch.Generator().manual_seed(0)
    cores = [
        torch.randn(3, 1, 2, 4, generator=generator, dtype=torch.float64),
        torch.randn(5, 4, 2, 3, generator=generator, dtype=torch.float64),
        torch.randn(2, 3, 2, 1, generator=generator, dtype=torch.float64),
    ]
    expected = float(dense_from_cores(cores).norm())
    assert tt_frobenius_norm(cores) == pytest.approx(expected, rel=1e-12)


def test_table_initializers_are_listed_and_seeded():
    assert available_table_initializers() == ["dense", "gaussian", "ortho", "spectral"]
    graph = planted_partition_graph(300, 5, average_degree=10, seed=0)
    for name in ("gaussian", "ortho", "spectral"):
        first = initialize_table(name, 300, 8, graph=(graph.src, graph.dst), seed=3)
        again = initialize_table(name, 300, 8, graph=(graph.src, graph.dst), seed=3)
        other = initialize_table(name, 300, 8, graph=(graph.src, graph.dst), seed=4)
        assert first.shape == (300, 8) and first.dtype == torch.get_default_dtype()
        assert torch.equal(first, again) and not torch.equal(first, other)
    torch.manual_seed(5)
    unseeded = initialize_table("gaussian", 10, 4)
    torch.manual_seed(5)
    assert torch.equal(unseeded, initialize_table("gaussian", 10, 4))


def test_gaussian_table_has_the_requested_std():
    table = initialize_table("gaussian", 20_000, 16, seed=0, std=0.5, dtype=torch.float64)
    assert float(table.mean()) == pytest.approx(0.0, abs=0.01)
    assert float(table.std()) == pytest.approx(0.5, rel=0.01)


@pytest.mark.parametrize(("num_rows", "dim"), [(500, 12), (6, 10)])
def test_ortho_table_is_orthogonal_with_entry_rms_gain(num_rows, dim):
    table = initialize_table("ortho", num_rows, dim, seed=0, gain=1.5, dtype=torch.float64)
    if num_rows >= dim:
        gram, size = table.T @ table, num_rows
    else:
        gram, size = table @ table.T, dim
    torch.testing.assert_close(gram, 1.5**2 * size * torch.eye(gram.shape[0], dtype=torch.float64))
    assert float(table.pow(2).mean().sqrt()) == pytest.approx(1.5, rel=1e-9)


def test_spectral_table_is_the_table_the_tt_init_decomposes():
    graph = planted_partition_graph(1000, 9, average_degree=12, mixing=0.1, seed=0)
    pair = (graph.src, graph.dst)
    solver = {"solver_dtype": torch.float64, "tol": 1e-8, "max_iterations": 200}
    report: dict = {}
    table = initialize_table(
        "spectral",
        1000,
        8,
        graph=pair,
        seed=2,
        std=2.0,
        dtype=torch.float64,
        report=report,
        **solver,
    )
    assert report["converged"] and report["eigenvalues"].shape == (8,)
    torch.testing.assert_close(table.T @ table, 4.0 * 1000 * torch.eye(8, dtype=torch.float64))
    np.testing.assert_allclose(
        (table @ table.T / 4000).numpy(), spectral_reference(graph, 1000, 8), atol=1e-6
    )
    shapes = choose_shapes(1000, 8, p_shapes=(10, 10, 10), q_shapes=(2, 2, 2))
    cores = initialize_cores(
        "spectral",
        shapes,
        (1, 20, 20, 1),
        graph=pair,
        seed=2,
        std=2.0,
        dtype=torch.float64,
        **solver,
    )  # maximal ranks: exact, so the TT is this table
    torch.testing.assert_close(dense_from_cores(cores, 1000), table, rtol=1e-7, atol=1e-7)


def test_dense_table_is_a_copy_of_weight():
    weight = torch.randn(7, 3, dtype=torch.float64)
    table = initialize_table("dense", 7, 3, weight=weight, dtype=torch.float64)
    assert torch.equal(table, weight)
    table[0, 0] = 100.0
    assert weight[0, 0] != 100.0
    array = np.arange(21.0).reshape(7, 3)
    from_array = initialize_table("dense", 7, 3, weight=array, dtype=torch.float64)
    from_array[0, 0] = 100.0
    assert array[0, 0] == 0.0


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("normal", {}, "unknown table initializer 'normal'; expected one of"),
        ("gaussian", {"num_rows": 0}, "num_rows must be an int >= 1, got 0"),
        ("gaussian", {"dim": 2.0}, "dim must be an int >= 1, got 2.0"),
        ("gaussian", {"std": 0.0}, "std must be > 0, got 0.0"),
        ("ortho", {"gain": -1.0}, "gain must be > 0, got -1.0"),
        ("spectral", {}, "needs a graph"),
        ("spectral", {"graph": ([0, 20], [1, 2])}, "out of range for num_nodes=10"),
        ("dense", {}, "needs weight="),
        ("dense", {"weight": torch.zeros(10, 3)}, r"weight has shape \(10, 3\), expected"),
    ],
)
def test_table_errors_name_the_problem(name, kwargs, message):
    arguments = {"num_rows": 10, "dim": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        initialize_table(name, arguments.pop("num_rows"), arguments.pop("dim"), **arguments)


def test_default_spectral_init_falls_back_to_gaussian_when_the_solve_does_not_fit(
    monkeypatch, capsys
):
    """A TT run with the default init takes gaussian, says so, and records it, when the
    eigen-solve's estimate exceeds the available memory; an explicit spectral init keeps it."""
    import dataclasses

    from tt_gnn.graph import Graph
    from tt_gnn.training import pipeline
    from tt_gnn.training.config import TrainConfig

    graph = Graph.from_edges(torch.tensor([0, 1, 2]), torch.tensor([1, 2, 0]), num_nodes=3)
    monkeypatch.setattr("tt_gnn.io.available_memory_bytes", lambda: 1024)
    default = TrainConfig(embedding="tt")
    assert pipeline.resolve_init(default, graph) == "gaussian" and default.init_used == "gaussian"
    assert default.init == "spectral" and default.init_is_default  # resumes under the same options
    assert "default spectral init needs about" in capsys.readouterr().err
    copied = dataclasses.replace(default, device="cpu")  # as the launcher copies configs
    assert pipeline.resolve_init(copied, graph) == "gaussian"
    explicit = TrainConfig(embedding="tt", init="spectral")
    assert pipeline.resolve_init(explicit, graph) == "spectral" and not explicit.init_is_default
    monkeypatch.setattr("tt_gnn.io.available_memory_bytes", lambda: 2**40)
    assert pipeline.resolve_init(TrainConfig(embedding="tt"), graph) == "spectral"
