"""Tests for the ``tt-gnn reorder`` command."""

from __future__ import annotations

import numpy as np
import pytest

from tt_gnn.cli import main
from tt_gnn.reorder import reorder_graph


@pytest.fixture
def npz_graph(tmp_path):
    rng = np.random.default_rng(0)
    edges = np.unique(np.sort(rng.integers(0, 50, (200, 2)), axis=1), axis=0)
    edges = edges[edges[:, 0] != edges[:, 1]]
    labels = rng.integers(0, 3, 50)
    path = tmp_path / "graph.npz"
    np.savez(path, num_nodes=np.int64(50), edges=edges, directed=False, labels=labels)
    return path, edges, labels


def test_npz_input_writes_the_reorder_permutation(npz_graph, tmp_path, capsys):
    path, edges, labels = npz_graph
    output = tmp_path / "out" / "order.npz"
    assert (
        main(["reorder", str(path), "-o", str(output), "--p-shapes", "2,5,5", "--seed", "3"]) == 0
    )
    _, expected = reorder_graph(
        (edges[:, 0], edges[:, 1]), (2, 5, 5), num_nodes=50, seed=3, labels=labels
    )
    with np.load(output) as written:
        assert np.array_equal(written["permutation"], expected.permutation)
        assert np.array_equal(written["inverse"], expected.inverse)
        assert written["p_shapes"].tolist() == [2, 5, 5]
        assert str(written["method"]) == "tt-metis"
    printed = capsys.readouterr().out
    assert f"leaf cut {expected.leaf_edge_cut:,}" in printed
    assert "leaf homophily" in printed and "| level 2 | 5 | 10 |" in printed


def test_csv_input_and_npy_output(tmp_path):
    csv = tmp_path / "edges.csv"
    csv.write_text("src,dst\n0,1\n1,2\n2,0\n3,4\n4,5\n5,3\n")
    output = tmp_path / "order.npy"
    arguments = ["reorder", str(csv), "-o", str(output), "--p-shapes", "3,3", "--num-nodes", "7"]
    assert main(arguments) == 0
    permutation = np.load(output)
    assert sorted(permutation.tolist()) == list(range(7))
    leaves = [set(permutation[start : start + 3].tolist()) for start in (0, 3)]
    assert sorted(map(sorted, leaves)) == [[0, 1, 2], [3, 4, 5]]


def test_flat_metis_method_and_num_parts(npz_graph, tmp_path):
    path, edges, _ = npz_graph
    output = tmp_path / "flat.npy"
    arguments = ["reorder", str(path), "-o", str(output), "--method", "metis", "--num-parts", "4"]
    assert main(arguments) == 0
    _, expected = reorder_graph(
        (edges[:, 0], edges[:, 1]), num_nodes=50, method="metis", num_parts=4
    )
    assert np.array_equal(np.load(output), expected.permutation)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--p-shapes", "2,2"], "multiply to 4, fewer than the graph's 50 nodes"),
        (["--num-parts", "51", "--method", "metis"], "num_parts must be in"),
        (["--num-nodes", "49"], "--num-nodes 49 does not match"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(npz_graph, tmp_path, capsys, extra, message):
    path, _, _ = npz_graph
    output = tmp_path / "order.npy"
    assert main(["reorder", str(path), "-o", str(output), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not output.exists()


def test_bad_files_exit_2(tmp_path, capsys):
    missing = tmp_path / "missing.npz"
    assert main(["reorder", str(missing), "-o", str(tmp_path / "o.npy")]) == 2
    assert "does not exist" in capsys.readouterr().err
    text = tmp_path / "edges.txt"
    text.write_text("0 1\n")
    assert main(["reorder", str(text), "-o", str(tmp_path / "o.npy")]) == 2
    assert "must be a .npz" in capsys.readouterr().err
    csv = tmp_path / "edges.csv"
    csv.write_text("0,1\n")
    assert main(["reorder", str(csv), "-o", str(tmp_path / "o.txt")]) == 2
    assert "must end in .npy or .npz" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["reorder", str(csv), "-o", str(tmp_path / "o.npy"), "--p-shapes", "2,x"])
    assert exit_info.value.code == 2
    assert "expected comma-separated integers" in capsys.readouterr().err
