"""Fuzz suite of the public API (issue 12): bad arguments to ``TTEmbedding``,
``choose_shapes``, ``compute_order``/``reorder_graph``, ``load_dataset`` and the readers,
``TrainConfig``/``train`` and checkpoints, plus property-based tests (Hypothesis) of id
validation and of the option parsers.

Every bad input must raise the documented exception with a message naming the argument or the
value, including the report's D1 (bounded shape search), D11 (messages), D12 (fractional or
boolean shapes and ranks) and D15 (row count in state dicts) cases.
"""

from __future__ import annotations

import copy
import math
import pickle
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reference import dense_from_cores
from tests.test_fuzz_inputs import NUM_NODES, PWNED, Malicious, build_files, write_npz
from tt_gnn import TTEmbedding, choose_shapes
from tt_gnn.checks import non_negative_int, positive_float, positive_int, probability
from tt_gnn.data import load_dataset, read_edge_list_csv, read_labels_file
from tt_gnn.datasets.npz import read_npz, read_npz_graph
from tt_gnn.options import REORDER_METHODS, parse_devices, parse_fanouts, parse_reorder
from tt_gnn.reorder import compute_order, reorder_graph
from tt_gnn.training import TrainConfig
from tt_gnn.training.checkpoint import load_checkpoint, save_checkpoint, validate_training_state
from tt_gnn.training.loop import train


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = build_files(tmp_path_factory.mktemp("fuzz_api"))
    yield root
    assert not (root / PWNED).exists(), "a malicious pickle was executed"


class _Hang(BaseException):
    pass


def run_with_alarm(seconds: float, function, *args, **kwargs):
    """``function(*args, **kwargs)``, or ``_Hang`` when it is still running after ``seconds``."""

    def ring(signum, frame):
        raise _Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return function(*args, **kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ------------------------------------------------------------------------------------------
# TTEmbedding and choose_shapes
# ------------------------------------------------------------------------------------------

# (arguments, keyword arguments, exception type(s), regex the message must match)
EMBEDDING_CASES = [
    pytest.param((0, 16), {}, ValueError, "num_embeddings.*0", id="rows_zero"),
    pytest.param((-1, 16), {}, ValueError, "num_embeddings.*-1", id="rows_negative"),
    pytest.param((2.5, 16), {}, (TypeError, ValueError), "num_embeddings.*2.5", id="rows_float"),
    pytest.param((True, 16), {}, (TypeError, ValueError), "num_embeddings.*True", id="rows_bool"),
    pytest.param(("10", 16), {}, (TypeError, ValueError), "num_embeddings.*'10'", id="rows_text"),
    pytest.param((None, 16), {}, (TypeError, ValueError), "num_embeddings.*None", id="rows_none"),
    pytest.param(
        (2**64, 16), {}, (ValueError, TypeError), "num_embeddings", id="rows_beyond_int64",
    ),
    pytest.param((100, 0), {}, ValueError, "embedding_dim.*0", id="dim_zero"),
    pytest.param((100, -3), {}, ValueError, "embedding_dim.*-3", id="dim_negative"),
    pytest.param((100, 2.5), {}, (TypeError, ValueError), "embedding_dim.*2.5", id="dim_float"),
    pytest.param((100, 16), {"rank": 0}, ValueError, "rank.*0", id="rank_zero"),
    pytest.param((100, 16), {"rank": -1}, ValueError, "rank.*-1", id="rank_negative"),
    pytest.param((100, 16), {"rank": 2.5}, (TypeError, ValueError), "rank.*2.5", id="rank_float"),
    pytest.param((100, 16), {"rank": True}, (TypeError, ValueError), "rank.*True", id="rank_bool"),
    pytest.param((100, 16), {"rank": "4"}, (TypeError, ValueError), "rank.*'4'", id="rank_text"),
    pytest.param((100, 16), {"ranks": [2, 2, 2]}, ValueError, "ranks.*2 entries", id="ranks_len"),
    pytest.param(
        (100, 16), {"ranks": [0, 2]}, ValueError, "r_1 must be a positive integer, got 0",
        id="ranks_zero",
    ),
    pytest.param(
        (100, 16), {"ranks": ["a", "b"]}, (TypeError, ValueError), "ranks", id="ranks_text",
    ),
    pytest.param(
        (100, 16), {"ranks": [4.7, 3.2]}, (TypeError, ValueError), "4.7", id="ranks_fractional",
    ),
    pytest.param(
        (100, 16), {"ranks": [True, 2]}, (TypeError, ValueError), "True", id="ranks_bool",
    ),
    pytest.param(
        (100, 16), {"p_shapes": (4.9, 5, 5)}, (TypeError, ValueError), "4.9", id="p_fractional",
    ),
    pytest.param(
        (100, 16), {"p_shapes": (True, 100, 1)}, (TypeError, ValueError), "True", id="p_bool",
    ),
    pytest.param(
        (16, 16), {"q_shapes": (2.9, 2, 4)}, (TypeError, ValueError), "2.9", id="q_fractional",
    ),
    pytest.param((100, 16), {"p_shapes": (2, 2, 2)}, ValueError, "multiply to 8", id="p_small"),
    pytest.param(
        (100, 16), {"p_shapes": (0, 100, 1)}, (TypeError, ValueError), "p_shapes", id="p_zero"
    ),
    pytest.param((100, 16), {"q_shapes": (3, 3, 3)}, ValueError, "multiply to 27", id="q_product"),
    pytest.param(
        (100, 16), {"p_shapes": (10, 10), "q_shapes": (2, 2, 4)}, ValueError, "same length",
        id="p_q_lengths",
    ),
    pytest.param((100, 16), {"num_cores": 1}, ValueError, "num_cores.*1", id="cores_one"),
    pytest.param((100, 16), {"num_cores": 0}, ValueError, "num_cores.*0", id="cores_zero"),
    pytest.param(
        (100, 16), {"num_cores": 2.5}, (TypeError, ValueError), "num_cores", id="cores_float"
    ),
    pytest.param((100, 16), {"init": "magic"}, ValueError, "initializer 'magic'", id="init"),
    pytest.param((100, 16), {"backend": "cuda-magic"}, ValueError, "backend", id="backend"),
    pytest.param(
        (100, 16), {"dtype": torch.int64}, (TypeError, ValueError), "dtype", id="dtype_int",
    ),
    pytest.param(
        (100, 16), {"seed": 2**70}, (TypeError, ValueError), "seed", id="seed_huge",
    ),
    pytest.param(
        (100, 16), {"seed": "abc"}, (TypeError, ValueError), "seed", id="seed_text",
    ),
    pytest.param((100, 16), {"device": "gpu7"}, (ValueError, RuntimeError), "gpu7", id="device"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "kwargs", "error", "message"), EMBEDDING_CASES)
def test_bad_embedding_arguments(args, kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        TTEmbedding(*args, **kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        pytest.param((0, 16), {}, ValueError, "num_embeddings", id="rows_zero"),
        pytest.param((100, 0), {}, ValueError, "embedding_dim", id="dim_zero"),
        pytest.param((100, 16, 1), {}, ValueError, "num_cores", id="one_core"),
        pytest.param((100, 16), {"q_shapes": (3, 3)}, ValueError, "multiply to 9", id="q"),
        pytest.param((100, 16), {"p_shapes": (3, 3)}, ValueError, "multiply to 9", id="p"),
        pytest.param(
            (100, 16),
            {"p_shapes": "abc"},
            (TypeError, ValueError),
            "p_shapes",
            id="p_text",
        ),
    ],
)
def test_bad_shape_arguments(args, kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        choose_shapes(*args, **kwargs)


@pytest.mark.parametrize(
    ("function", "args", "kwargs"),
    [
        pytest.param(TTEmbedding, (100, 16), {"num_cores": 24}, id="embedding_24_cores"),
        pytest.param(choose_shapes, (10**12, 16, 5), {}, id="shapes_1e12_rows_5_cores"),
    ],
)
def test_shape_search_answers_at_once(function, args, kwargs) -> None:
    """A result or a ValueError within seconds, never an unbounded search."""
    try:
        run_with_alarm(2.0, function, *args, **kwargs)
    except ValueError as error:
        assert "num_cores" in str(error) or "num_embeddings" in str(error)


@pytest.fixture(scope="module")
def table() -> TTEmbedding:
    return TTEmbedding(37, 6, rank=3, p_shapes=(4, 10), q_shapes=(2, 3), seed=0)


@pytest.mark.parametrize(
    ("ids", "error", "message"),
    [
        pytest.param(torch.tensor([1.0]), TypeError, "integer tensor.*float32", id="float"),
        pytest.param(torch.tensor([True]), TypeError, "integer tensor.*bool", id="bool"),
        pytest.param([1, 2], TypeError, "torch.Tensor, got list", id="list"),
        pytest.param(np.array([1, 2]), TypeError, "torch.Tensor, got ndarray", id="numpy"),
        pytest.param(torch.tensor([5], dtype=torch.uint64), TypeError, "uint64", id="uint64"),
        pytest.param(torch.tensor([37]), IndexError, "id 37 is out of range", id="first_beyond"),
        pytest.param(torch.tensor([[0], [-1]]), IndexError, "id -1 is out of range", id="minus_1"),
        pytest.param(torch.tensor([2**40]), IndexError, f"id {2**40} ", id="huge"),
        pytest.param(torch.tensor([0], device="meta"), ValueError, "ids are on meta", id="device"),
    ],
)
def test_bad_ids(table: TTEmbedding, ids, error, message) -> None:
    with pytest.raises(error, match=message):
        table(ids)


def test_bad_materialization_arguments(table: TTEmbedding) -> None:
    with pytest.raises(ValueError, match="chunk_size must be a positive integer, got 0"):
        table.to_dense(chunk_size=0)
    with pytest.raises(MemoryError, match="37 x 6 table"):
        table.to_dense(max_bytes=100)
    with pytest.raises(ValueError, match="weight must be 2-D"):
        TTEmbedding.from_dense(torch.ones(10))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda t: t.to_dense(max_bytes=-1), "max_bytes", id="max_bytes_negative"),
        pytest.param(lambda t: t.to_dense(chunk_size=2.5), "chunk_size", id="chunk_fractional"),
        pytest.param(
            lambda t: TTEmbedding.from_dense(torch.full((10, 4), math.nan)), "finite|NaN",
            id="from_dense_nan",
        ),
        pytest.param(
            lambda t: TTEmbedding.from_dense(torch.full((10, 4), math.inf)), "finite|inf",
            id="from_dense_inf",
        ),
    ],
)  # fmt: skip
def test_unclear_materialization_messages(table: TTEmbedding, call, message) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        call(table)


def test_state_dict_of_another_row_count_is_refused() -> None:
    """Same cores, 100 rows into 90: ``nn.Embedding`` refuses, so must ``TTEmbedding``."""
    source = TTEmbedding(100, 16, p_shapes=(4, 5, 5), q_shapes=(2, 2, 4), seed=0)
    target = TTEmbedding(90, 16, p_shapes=(4, 5, 5), q_shapes=(2, 2, 4), seed=1)
    with pytest.raises((RuntimeError, ValueError), match="100|num_embeddings"):
        target.load_state_dict(source.state_dict())


@settings(max_examples=150, deadline=None)
@given(
    dtype=st.sampled_from([torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8]),
    shape=st.lists(st.integers(0, 4), min_size=0, max_size=3),
    data=st.data(),
)
def test_ids_give_their_rows_or_an_index_error_naming_one(
    table: TTEmbedding, dtype, shape, data
) -> None:
    """Any integer tensor: in-range ids give the rows of the dense table (float64 einsum
    reference), and otherwise ``IndexError`` names an id that is in the tensor and out of
    range."""
    low = 0 if dtype == torch.uint8 else -60
    count = math.prod(shape)
    values = data.draw(st.lists(st.integers(low, 100), min_size=count, max_size=count))
    ids = torch.tensor(values, dtype=torch.int64).reshape(shape).to(dtype)
    if all(0 <= value < table.num_embeddings for value in values):
        rows = table(ids)
        assert rows.shape == (*shape, table.embedding_dim)
        dense = dense_from_cores([core.detach().double() for core in table.cores], 37)
        expected = dense[ids.long().reshape(-1)].reshape(*shape, table.embedding_dim)
        torch.testing.assert_close(rows.detach().double(), expected, rtol=1e-5, atol=1e-6)
    else:
        with pytest.raises(IndexError) as error:
            table(ids)
        named = int(re.search(r"id (-?\d+) is out of range", str(error.value)).group(1))
        assert named in values and not 0 <= named < table.num_embeddings


# ------------------------------------------------------------------------------------------
# compute_order / reorder_graph
# ------------------------------------------------------------------------------------------

PAIR = (np.array([0, 1, 2]), np.array([1, 2, 3]))
ORDER_CASES = [
    pytest.param("abc", {}, TypeError, "graph must be", id="graph_text"),
    pytest.param((np.array([-1, 1]), np.array([1, 2])), {}, ValueError, "negative node id -1",
                 id="negative_id"),
    pytest.param((np.array([0.5, 1]), np.array([1, 2])), {}, TypeError, "integer ids.*float64",
                 id="float_ids"),
    pytest.param((torch.tensor([0.0]), torch.tensor([1.0])), {}, TypeError, "float32",
                 id="float_tensor_ids"),
    pytest.param((np.array([0, 1, 2]), np.array([1, 2])), {}, ValueError, "same length",
                 id="lengths_differ"),
    pytest.param((np.array([2**63 + 5], dtype=np.uint64), np.array([1], dtype=np.uint64)), {},
                 ValueError, "9223372036854775813", id="uint64_id"),
    pytest.param(PAIR, {"num_nodes": 2}, ValueError, "node id 2, out of range", id="nodes_few"),
    pytest.param(PAIR, {"num_nodes": 0}, ValueError, "at least one node", id="nodes_zero"),
    pytest.param((np.array([], dtype=np.int64), np.array([], dtype=np.int64)), {}, ValueError,
                 "at least one node", id="no_edges_no_count"),
    pytest.param(sp.csr_matrix(np.ones((2, 3))), {}, ValueError, "square", id="not_square"),
    pytest.param(PAIR, {"labels": [0, 1, -5, 0]}, ValueError, "-5", id="label_negative"),
    pytest.param(PAIR, {"labels": [0, 1, 10**9, 0]}, ValueError, "1000000000", id="label_huge"),
    pytest.param(PAIR, {"labels": [0.5, 1, 1, 0]}, TypeError, "float64", id="label_float"),
    pytest.param(PAIR, {"labels": [0, 1]}, ValueError, "length num_nodes=4", id="labels_short"),
    pytest.param(PAIR, {"seed": -1}, ValueError, "seed.*-1", id="seed_negative"),
    pytest.param(PAIR, {"seed": 2.5}, ValueError, "seed.*2.5", id="seed_float"),
    pytest.param(PAIR, {"seed": 2**70}, ValueError, "seed.*2\\*\\*62", id="seed_huge"),
    pytest.param(PAIR, {"method": "spectral"}, ValueError, "'spectral'", id="method"),
    pytest.param(PAIR, {"method": 3}, ValueError, "invalid reorder method 3", id="method_int"),
    pytest.param(PAIR, {"p_shapes": (1, 2)}, ValueError, "multiply to 2", id="p_small"),
    pytest.param(PAIR, {"p_shapes": (2, 0, 4)}, ValueError, "int >= 1", id="p_zero"),
    pytest.param(PAIR, {"p_shapes": "22"}, TypeError, "sequence of ints", id="p_text"),
    pytest.param(PAIR, {"method": "metis", "num_parts": -1}, ValueError, "num_parts.*-1",
                 id="parts_negative"),
    pytest.param(PAIR, {"method": "metis", "num_parts": 2.5}, ValueError, "num_parts.*2.5",
                 id="parts_float"),
    pytest.param(PAIR, {"method": "metis", "num_parts": 5}, ValueError, "num_parts.*5",
                 id="parts_beyond_nodes"),
    pytest.param(PAIR, {"method": "random", "num_parts": 2}, ValueError, "method='metis' only",
                 id="parts_with_random"),
]  # fmt: skip


@pytest.mark.parametrize("function", [compute_order, reorder_graph])
@pytest.mark.parametrize(("graph", "kwargs", "error", "message"), ORDER_CASES)
def test_bad_reorder_arguments(function, graph, kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        function(graph, **kwargs)


# ------------------------------------------------------------------------------------------
# load_dataset and the readers
# ------------------------------------------------------------------------------------------

DATASET_CASES = [
    pytest.param(5, {}, TypeError, "name_or_path.*5", id="name_int"),
    pytest.param(b"cora", {}, TypeError, "name_or_path", id="name_bytes"),
    pytest.param("", {}, ValueError, "name_or_path", id="name_empty"),
    pytest.param("  ", {}, ValueError, "name_or_path", id="name_blank"),
    pytest.param("synthetic", {"split": -1}, ValueError, "split.*-1", id="split_negative"),
    pytest.param("synthetic", {"split": True}, ValueError, "split.*True", id="split_bool"),
    pytest.param("synthetic", {"split": 1.5}, ValueError, "split.*1.5", id="split_float"),
    pytest.param("synthetic", {"split": 1}, ValueError, "split=1", id="split_synthetic"),
    pytest.param("synthetic", {"split_seed": -1}, ValueError, "split_seed.*-1", id="sseed_neg"),
    pytest.param("synthetic", {"split_seed": 2.5}, ValueError, "split_seed.*2.5", id="sseed_f"),
    pytest.param("synthetic", {"use_features": "yes"}, ValueError, "use_features", id="feat"),
    pytest.param("synthetic", {"colour": 1}, ValueError, r"unexpected option\(s\) \['colour'\]",
                 id="unknown_option"),
    pytest.param("synthetic", {"split_fractions": (0.5, 0.5)}, ValueError, "three",
                 id="fractions_two"),
    pytest.param("synthetic", {"split_fractions": (-0.2, 0.6, 0.6)}, ValueError, "-0.2",
                 id="fractions_negative"),
    pytest.param("synthetic", {"split_fractions": (math.nan, 0.5, 0.5)}, ValueError, "nan",
                 id="fractions_nan"),
    pytest.param("synthetic", {"split_fractions": (0.5, 0.3, 0.3)}, ValueError, "summing to 1",
                 id="fractions_sum"),
    pytest.param("synthetic", {"split_fractions": 0.6}, ValueError, "0.6", id="fractions_one"),
    pytest.param("synthetic", {"split_fractions": "abc"}, ValueError, "split_fractions.*'abc'",
                 id="fractions_text"),
    pytest.param("synthetic", {"num_nodes": 0}, ValueError, "num_nodes.*0", id="nodes_zero"),
    pytest.param("synthetic", {"num_nodes": 2.5}, ValueError, "num_nodes.*2.5", id="nodes_f"),
    pytest.param("synthetic", {"num_nodes": True}, ValueError, "num_nodes.*True", id="nodes_b"),
    pytest.param("synthetic", {"num_nodes": 99}, ValueError, ">= 100.*99", id="nodes_few"),
    pytest.param("synthetic", {"num_nodes": 10**15}, MemoryError, "GiB", id="nodes_huge"),
    pytest.param("synthetic", {"num_communities": 0}, ValueError, "num_communities",
                 id="communities_zero"),
    pytest.param("synthetic", {"num_communities": 2.5}, ValueError, "num_communities.*2.5",
                 id="communities_float"),
    pytest.param("synthetic", {"average_degree": -1}, ValueError, "average_degree.*-1",
                 id="degree_negative"),
    pytest.param("synthetic", {"average_degree": math.nan}, ValueError, "average_degree.*nan",
                 id="degree_nan"),
    pytest.param("synthetic", {"average_degree": math.inf}, ValueError, "average_degree.*inf",
                 id="degree_inf"),
    pytest.param("synthetic", {"average_degree": "10"}, ValueError, "average_degree.*'10'",
                 id="degree_text"),
    pytest.param("synthetic", {"num_classes": 1}, ValueError, "num_classes >= 2", id="classes"),
    pytest.param("synthetic", {"num_classes": 2.5}, ValueError, "num_classes.*2.5",
                 id="classes_float"),
    pytest.param("synthetic", {"mixing": 1.5}, ValueError, "mixing.*1.5", id="mixing"),
    pytest.param("synthetic", {"seed": -1}, ValueError, "seed.*-1", id="seed_negative"),
    pytest.param("ogbn-arxiv", {"labels": "x.csv"}, ValueError, r"\['labels'\].*ogbn-arxiv",
                 id="ogb_labels"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "kwargs", "error", "message"), DATASET_CASES)
def test_bad_load_dataset_arguments(name, kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        load_dataset(name, **{"num_nodes": 200, **kwargs} if name == "synthetic" else kwargs)


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("missing.npz", FileNotFoundError, "does not exist"),
        ("dangling.npz", FileNotFoundError, "broken symbolic link"),
        ("fifo.npz", ValueError, "not a file"),
        ("no_graph", ValueError, "not a file.*directory"),
        ("empty.npz", ValueError, "the file is empty"),
        ("truncated.npz", ValueError, "truncated or corrupt archive"),
        ("garbage.npz", ValueError, "not a zip archive"),
        ("pickle.npz", ValueError, "not a zip archive"),
        ("npy_as.npz", ValueError, ".npy array file"),
        ("object_labels.npz", ValueError, "array 'labels' is an object"),
        ("bad_crc.npz", ValueError, "array 'edges' is truncated or corrupt.*CRC"),
        ("text_member.npz", ValueError, "array 'edges' is not an .npy array"),
    ],
)
def test_read_npz_refuses_damaged_files(files: Path, name: str, error, message: str) -> None:
    with pytest.raises(error, match=message) as raised:
        read_npz(files / name)
    assert str(files / name) in str(raised.value)


def test_read_npz_graph_validates_like_the_loader(files: Path) -> None:
    (src, dst), num_nodes, labels = read_npz_graph(files / "good.npz")
    assert num_nodes == NUM_NODES and labels is not None and src.dtype == np.int64
    for name, message in [
        ("edges_uint64.npz", "9223372036854775813"),
        ("labels_huge.npz", r"label\[0\] = 1000000000"),
        ("num_nodes_float.npz", "'num_nodes'"),
        ("edges_out_of_range.npz", "target id 50"),
    ]:
        with pytest.raises(ValueError, match=message):
            read_npz_graph(files / name)


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("nope.csv", FileNotFoundError, "does not exist"),
        ("no_graph", ValueError, "is not a file"),
        ("labels_empty.npy", ValueError, "the file is empty"),
        ("labels_garbage.npy", ValueError, "not an .npy array file"),
        ("labels_pickle.npy", ValueError, "object \\(pickled\\) array"),
        ("labels_dup.csv", ValueError, "line 52.*listed twice"),
        ("labels_negative.csv", ValueError, "line 7.*-5"),
        ("labels_float.csv", ValueError, "line 7.*'0.5'"),
    ],
)
def test_read_labels_file_refuses_bad_files(files: Path, name: str, error, message) -> None:
    with pytest.raises(error, match=message):
        read_labels_file(files / name)
    with pytest.raises(ValueError, match="is not a file"):
        read_labels_file("/dev/null")


def test_read_edge_list_csv_checks_ids_and_reads_a_bom(files: Path) -> None:
    src, dst = read_edge_list_csv(files / "bom.csv")
    reference = read_edge_list_csv(files / "edges.csv")
    assert np.array_equal(src, reference[0]) and np.array_equal(dst, reference[1])
    with pytest.raises(ValueError, match="line 2, field 'src': node id 42 out of range 0..9"):
        read_edge_list_csv(files / "edges.csv", num_nodes=10)
    with pytest.raises(ValueError, match="line 201, field 'dst'.*larger than int64"):
        read_edge_list_csv(files / "beyond_int64.csv")


def test_label_beyond_the_node_count_is_refused_before_allocating(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "g.npz", labels=np.where(np.arange(NUM_NODES) == 7, 2**62, 0))
    with pytest.raises(ValueError, match=r"label\[7\] = 4611686018427387904 is not a class id"):
        load_dataset(path)


# ------------------------------------------------------------------------------------------
# TrainConfig and train
# ------------------------------------------------------------------------------------------

CONFIG_CASES = [
    (field, value)
    for field, values in {
        "epochs": [0, -1, 2.5, True, "3", None],
        "rank": [0, -2, 1.5],
        "embedding_dim": [0, 8.0],
        "num_cores": [0],
        "batch_size": [0, -5],
        "hidden": [0],
        "heads": [0],
        "eval_every": [0],
        "eval_chunk_size": [0],
        "patience": [-1, 1.5],
        "seed": [-1, 2**63, 2.5, "0"],
        "split": [-1],
        "split_seed": [-1, 2**64],
        "lr": [0, -0.1, math.nan, math.inf, "0.1", True],
        "weight_decay": [-1e-4, math.nan, math.inf],
        "dropout": [1.0, -0.1, math.nan, 2],
        "fanouts": [(), (0,), (-2,), "ten", 5, (2.5,)],
        "model": ["gcn", None],
        "embedding": ["onehot"],
        "reorder": ["sorted", "metis:1", 7],
        "init": ["magic"],
        "p_shapes": [(2.5, 4), ("a", 4)],
        "q_shapes": [(True, 8)],
    }.items()
    for value in values
]


@pytest.mark.parametrize(
    ("field", "value"), [pytest.param(f, v, id=f"{f}={v!r}") for f, v in CONFIG_CASES]
)
def test_bad_train_config_fields(field: str, value) -> None:
    with pytest.raises(ValueError) as raised:
        TrainConfig(**{field: value})
    text = str(raised.value)
    named = field.rstrip("s")  # "every fanout must be ...", "seeds must be below 2**63"
    assert named in text or (field.endswith("seed") and "seeds" in text), text


def test_config_contradictions() -> None:
    with pytest.raises(ValueError, match="use_features=True"):
        TrainConfig(embedding="features")
    with pytest.raises(ValueError, match="needs a checkpoint_dir"):
        TrainConfig(resume=True)


def _fast_config(**options) -> TrainConfig:
    return TrainConfig(epochs=1, embedding_dim=8, hidden=8, rank=2, fanouts=(3, 3),
                       batch_size=16, progress=False, verbose=False, **options)  # fmt: skip


@pytest.mark.parametrize(
    ("fractions", "empty"), [((1.0, 0.0, 0.0), "val"), ((0.0, 0.5, 0.5), "train")]
)
def test_train_refuses_a_split_without_nodes(tmp_path: Path, fractions, empty) -> None:
    path = write_npz(tmp_path / "g.npz", train_mask=None, val_mask=None, test_mask=None)
    dataset = load_dataset(path, split_fractions=fractions)  # loading such a split is fine
    assert min(len(dataset.train_idx), len(dataset.val_idx), len(dataset.test_idx)) == 0
    config = _fast_config(dataset=str(path), dataset_options={"split_fractions": fractions})
    with pytest.raises(ValueError, match=f"no labeled nodes in {empty}"):
        train(config)


def test_train_refuses_a_given_dataset_without_test_nodes(tmp_path: Path) -> None:
    dataset = load_dataset(write_npz(tmp_path / "g.npz"))
    dataset.test_idx = dataset.test_idx[:0]
    with pytest.raises(ValueError, match="no labeled nodes in test"):
        train(_fast_config(dataset="unused"), dataset=dataset)


# ------------------------------------------------------------------------------------------
# Checkpoints
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def state(files: Path) -> dict:
    """A real training state (from one epoch on the 50-node graph)."""
    folder = files / "api_checkpoint"
    train(_fast_config(dataset=str(files / "good.npz"), checkpoint_dir=str(folder)))
    return load_checkpoint(folder / "checkpoint.pt")


def test_checkpoint_round_trip(state: dict, tmp_path: Path) -> None:
    save_checkpoint(state, tmp_path / "c.pt")
    loaded = load_checkpoint(tmp_path / "c.pt")
    assert loaded["epoch"] == state["epoch"] == 1
    for key, value in state["model"].items():
        assert torch.equal(loaded["model"][key], value)
    validate_training_state(loaded, tmp_path / "c.pt")


def test_malicious_checkpoints_never_run_code(tmp_path: Path) -> None:
    evil = Malicious(tmp_path)
    (tmp_path / "raw.pt").write_bytes(pickle.dumps(evil))
    torch.save(evil, tmp_path / "zip.pt")
    torch.save({"epoch": 1, "evil": evil}, tmp_path / "nested.pt")
    with pytest.raises(ValueError, match="raw.pt: not a zip archive"):
        load_checkpoint(tmp_path / "raw.pt")
    for name in ("zip.pt", "nested.pt"):
        with pytest.raises(ValueError, match=f"{name}: the weights-only loader refused it"):
            load_checkpoint(tmp_path / name)
    assert not (tmp_path / PWNED).exists()


def test_checkpoint_files_that_are_not_checkpoints(tmp_path: Path, state: dict) -> None:
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="is not a file"):
        load_checkpoint(tmp_path)
    with pytest.raises(ValueError, match="is not a file"):
        load_checkpoint("/dev/null")
    save_checkpoint(state, tmp_path / "good.pt")
    raw = (tmp_path / "good.pt").read_bytes()
    for cut in (0, 3, 100, len(raw) // 2, len(raw) - 1):
        (tmp_path / "cut.pt").write_bytes(raw[:cut])
        with pytest.raises(ValueError, match="cut.pt"):
            load_checkpoint(tmp_path / "cut.pt")


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_damaged_checkpoint_bytes_never_load_wrong_numbers(state: dict, tmp_path_factory, data):
    """Any byte changes: a clean ``ValueError`` naming the file, or (zip metadata that no
    reader checks) exactly the original state; never another exception, never other numbers."""
    folder = tmp_path_factory.mktemp("damaged")
    save_checkpoint(state, folder / "c.pt")
    damaged = bytearray((folder / "c.pt").read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    (folder / "c.pt").write_bytes(bytes(damaged))
    try:
        loaded = load_checkpoint(folder / "c.pt")
    except ValueError as error:
        assert str(folder / "c.pt") in str(error)
        return
    for key, value in state["model"].items():
        assert torch.equal(loaded["model"][key], value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"epoch": "1"}, "field 'epoch' must be int", id="epoch_text"),
        pytest.param({"epoch": -1}, "epoch -1 is out of range", id="epoch_negative"),
        pytest.param({"history": [{}] * 3}, "3 history records", id="history"),
        pytest.param({"model": []}, "field 'model' must be dict", id="model_list"),
        pytest.param({"config": None}, "field 'config'", id="config"),
        pytest.param({"permutation": torch.tensor([0, 0])}, "not a permutation", id="perm"),
        pytest.param({"permutation": [1, 0]}, "int64 tensor", id="perm_list"),
    ],
)
def test_crafted_checkpoint_fields(state: dict, change: dict, message: str) -> None:
    crafted = copy.deepcopy(state)
    crafted.update(change)
    with pytest.raises(ValueError, match=message):
        validate_training_state(crafted, "c.pt")


@pytest.mark.parametrize(
    ("key", "value"),
    [("best_score", "x"), ("best_epoch", 1.5), ("bad_evaluations", None), ("best_metrics", [])],
)
def test_crafted_early_stopping_fields(state: dict, key: str, value) -> None:
    crafted = copy.deepcopy(state)
    crafted["early_stopping"][key] = value
    with pytest.raises(ValueError, match=f"early_stopping\\['{key}'\\]"):
        validate_training_state(crafted, "c.pt")


# ------------------------------------------------------------------------------------------
# Option parsers and argument checks (property-based)
# ------------------------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8"), max_size=12) | st.from_regex(
    r"-?[0-9]{1,3}(,-?[0-9]{0,3}){0,3}", fullmatch=True
)


@settings(max_examples=300, deadline=None)
@given(text=TEXT)
def test_parse_fanouts_accepts_exactly_positive_ints_or_minus_one(text: str) -> None:
    parts = text.split(",")
    valid = all(re.fullmatch(r"[ \t]*[+-]?[0-9]+[ \t]*", part) for part in parts) and all(
        int(part) > 0 or int(part) == -1 for part in parts
    )
    if valid:
        assert parse_fanouts(text) == tuple(int(part) for part in parts)
    else:
        with pytest.raises(ValueError) as raised:
            parse_fanouts(text)
        assert repr(text) in str(raised.value)


@settings(max_examples=300, deadline=None)
@given(text=TEXT)
def test_parse_devices_accepts_exactly_distinct_non_negative_ints(text: str) -> None:
    if text == "":
        assert parse_devices(text) == []
        return
    parts = text.split(",")
    numbers = [int(part) for part in parts if re.fullmatch(r"[ \t]*[+-]?[0-9]+[ \t]*", part)]
    if len(numbers) == len(parts) and min(numbers) >= 0 and len(set(numbers)) == len(numbers):
        assert parse_devices(text) == numbers
    else:
        with pytest.raises(ValueError) as raised:
            parse_devices(text)
        assert repr(text) in str(raised.value)


@settings(max_examples=300, deadline=None)
@given(text=TEXT | st.from_regex(r"metis:[0-9]{0,4}", fullmatch=True) | st.sampled_from(
    [*REORDER_METHODS, "metis:²", "metis:٣", "METIS", " none"]))  # fmt: skip
def test_parse_reorder_accepts_exactly_the_documented_spellings(text: str) -> None:
    match = re.fullmatch(r"metis:([0-9]+)", text)
    if text in REORDER_METHODS:
        assert parse_reorder(text) == (text, None)
    elif match and int(match.group(1)) >= 2:
        assert parse_reorder(text) == ("metis", int(match.group(1)))
    else:
        with pytest.raises(ValueError) as raised:
            parse_reorder(text)
        assert f"invalid reorder method {text!r}" in str(raised.value)


INT_CHECKS = (positive_int, non_negative_int)
ANYTHING = (
    st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.text(max_size=4)
    | st.none()
    | st.builds(np.int64, st.integers(-(2**63), 2**63 - 1))
    | st.builds(np.float32, st.floats(width=32))
)


@settings(max_examples=300, deadline=None)
@given(value=ANYTHING)
def test_argument_checks_accept_exactly_their_domain(value) -> None:
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    is_real = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(
        value, bool
    )
    checks = [
        (positive_int, is_int and value >= 1),
        (non_negative_int, is_int and value >= 0),
        (positive_float, is_real and math.isfinite(float(value)) and float(value) > 0),
        (probability, is_real and 0 <= float(value) < 1),
    ]
    for check, accepted in checks:
        if accepted:
            assert check(value, "x") == (int(value) if check in INT_CHECKS else float(value))
        else:
            with pytest.raises(ValueError, match=f"^x must be .*, got {re.escape(repr(value))}$"):
                check(value, "x")
