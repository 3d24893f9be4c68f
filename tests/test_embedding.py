import copy
import math
import pickle

import pytest
import torch
from torch import nn

from tests.reference import dense_from_cores
from tt_gnn import TTEmbedding
from tt_gnn.synthetic import planted_partition_graph


def make(num_embeddings=1000, dim=16, **kwargs):
    kwargs.setdefault("seed", 0)
    return TTEmbedding(num_embeddings, dim, **kwargs)


@pytest.mark.parametrize("num_cores", [2, 3, 4])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rows_match_dense_reconstruction(num_cores, dtype):
    emb = make(1000, 24, rank=5, num_cores=num_cores, dtype=dtype)
    dense = dense_from_cores([c.detach() for c in emb.cores])
    ids = torch.randint(0, 1000, (7, 11))
    out = emb(ids)
    assert out.shape == (7, 11, 24) and out.dtype == dtype
    torch.testing.assert_close(out, dense[ids])
    torch.testing.assert_close(emb.to_dense(chunk_size=97), dense[:1000])


def test_core_shapes_and_parameter_count():
    emb = make(2_449_029, 128, p_shapes=(125, 140, 140), q_shapes=(4, 4, 8), ranks=(16, 8))
    shapes = [tuple(c.shape) for c in emb.cores]
    assert shapes == [(125, 1, 4, 16), (140, 16, 4, 8), (140, 8, 8, 1)]
    expected = 125 * 4 * 16 + 140 * 16 * 4 * 8 + 140 * 8 * 8
    assert emb.num_parameters() == expected == sum(p.numel() for p in emb.parameters())
    assert emb.compression_ratio == pytest.approx(2_449_029 * 128 / expected)
    assert emb.tt_ranks == (1, 16, 8, 1)
    text = repr(emb)
    assert "p_shapes=(125, 140, 140)" in text and "tt_ranks=(1, 16, 8, 1)" in text


def test_gaussian_init_hits_target_std():
    for seed in range(3):
        emb = make(125_000, 128, p_shapes=(50, 50, 50), rank=16, seed=seed, std=0.5)
        ids = torch.randint(0, 125_000, (20_000,), generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            rows = emb(ids)
        assert rows.std().item() == pytest.approx(0.5, rel=0.05)
        assert abs(rows.mean().item()) < 0.01


def test_seed_reproducible_and_reset_parameters():
    a, b = make(seed=3), make(seed=3)
    for x, y in zip(a.cores, b.cores):
        assert torch.equal(x, y)
    with torch.no_grad():
        a.cores[0].zero_()
    a.reset_parameters()
    assert torch.equal(a.cores[0], b.cores[0])
    assert not torch.equal(make(seed=4).cores[0], b.cores[0])


def test_state_dict_round_trip(tmp_path):
    source = make(500, 8, rank=3, seed=1)
    path = tmp_path / "emb.pt"
    torch.save(source.state_dict(), path)
    target = make(500, 8, rank=3, seed=2)
    target.load_state_dict(torch.load(path, weights_only=True))
    ids = torch.arange(500)
    torch.testing.assert_close(target(ids), source(ids))


def test_trains_like_an_embedding():
    torch.manual_seed(0)
    emb = make(200, 8, rank=4)
    target = torch.randn(200, 8)
    optimizer = torch.optim.Adam(emb.parameters(), lr=0.05)
    ids = torch.arange(200)
    first = None
    for _ in range(60):
        optimizer.zero_grad()
        loss = ((emb(ids) - target) ** 2).mean()
        loss.backward()
        optimizer.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.8 * first


@pytest.mark.parametrize("bad", [-1, 1000, 5000])
def test_out_of_range_ids_name_value_and_range(bad):
    emb = make()
    with pytest.raises(IndexError, match=rf"id {bad} is out of range.*0\.\.999"):
        emb(torch.tensor([0, bad, 3]))


def test_padding_rows_are_not_addressable():
    emb = make(1009, 16)  # prime: the TT has padding rows
    assert emb.shapes.capacity > 1009
    with pytest.raises(IndexError, match="out of range"):
        emb(torch.tensor([emb.shapes.capacity - 1]))


def test_bad_id_types():
    emb = make()
    with pytest.raises(TypeError, match="integer tensor"):
        emb(torch.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="integer tensor"):
        emb(torch.tensor([True]))
    with pytest.raises(TypeError, match="torch.Tensor"):
        emb([1, 2])
    with pytest.raises(ValueError, match="meta"):
        emb(torch.tensor([1, 2], device="meta"))


def test_int32_and_empty_ids():
    emb = make()
    ids = torch.tensor([[1, 2, 999]], dtype=torch.int32)
    torch.testing.assert_close(emb(ids), emb(ids.long()))
    assert emb(torch.empty(0, 3, dtype=torch.long)).shape == (0, 3, 16)


def test_constructor_errors():
    with pytest.raises(ValueError, match="ranks must have"):
        make(ranks=(4,))
    with pytest.raises(ValueError, match="rank must be"):
        make(rank=0)
    with pytest.raises(ValueError, match="multiply to"):
        make(1000, 16, q_shapes=(2, 2, 2))
    with pytest.raises(ValueError, match="backend"):
        make(backend="cuda")
    with pytest.raises(ValueError, match="unknown initializer"):
        make(init="nope")


def test_to_dense_refuses_when_too_big():
    emb = make(1000, 16)
    with pytest.raises(MemoryError, match="needs"):
        emb.to_dense(max_bytes=1000)


def test_forced_triton_on_cpu_needs_interpreter(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET"):
        make(backend="triton")(torch.tensor([1]))


@pytest.mark.parametrize("num_cores", [2, 3, 4])
def test_from_dense_exact_at_full_rank(num_cores):
    table = torch.randn(300, 16, dtype=torch.float64)
    emb = TTEmbedding.from_dense(table, num_cores=num_cores)
    torch.testing.assert_close(emb.to_dense(), table)


def test_from_dense_truncated_within_bound():
    table = torch.randn(300, 16, dtype=torch.float64)
    report = {}
    emb = TTEmbedding.from_dense(nn.Embedding.from_pretrained(table), rank=3, report=report)
    assert max(emb.tt_ranks) <= 3
    with torch.no_grad():
        error = torch.linalg.norm(emb.to_dense() - table) / torch.linalg.norm(table)
    assert error <= report["error_bound"] * (1 + 1e-6) + 1e-12
    assert float(error) == pytest.approx(report["relative_error"], rel=1e-9)
    assert 0 < error < 1


def test_num_rows_in_table_is_exact():
    emb = make(1001, 16)
    assert emb.to_dense().shape == (1001, 16)
    assert math.prod(emb.p_shapes) >= 1001


@pytest.mark.parametrize("deterministic", [False, True])
def test_triton_backend_matches_torch_backend(monkeypatch, deterministic):
    pytest.importorskip("triton")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    ids = torch.tensor([3, 17, 3, 250])
    reference = make(300, 8, rank=3, seed=5, backend="torch")
    triton = make(300, 8, rank=3, seed=5, backend="triton", deterministic=deterministic)
    torch.testing.assert_close(triton(ids), reference(ids), rtol=1e-5, atol=1e-5)
    triton(ids).square().sum().backward()
    reference(ids).square().sum().backward()
    for got, expected in zip(triton.cores, reference.cores):
        torch.testing.assert_close(got.grad, expected.grad, rtol=1e-4, atol=1e-5)


# -- holds parameters and shapes only ------------------------------------------------------


def test_from_dense_pickles_and_deep_copies():
    table = torch.randn(120, 8, dtype=torch.float64)
    emb = TTEmbedding.from_dense(table, rank=4)
    assert emb.init == "dense" and "weight" not in emb.init_options
    ids = torch.tensor([0, 5, 119])
    for clone in (pickle.loads(pickle.dumps(emb)), copy.deepcopy(emb)):
        torch.testing.assert_close(clone(ids), emb(ids), rtol=0, atol=0)
    with pytest.raises(ValueError, match="weight"):
        emb.reset_parameters()  # the table is not kept
    emb.reset_parameters(weight=table)  # decomposes it again
    torch.testing.assert_close(emb(ids), pickle.loads(pickle.dumps(emb))(ids))


def test_graph_is_used_for_initialization_and_not_kept():
    graph = planted_partition_graph(200, 4, average_degree=10, seed=0)
    emb = TTEmbedding(200, 4, rank=3, init="spectral", graph=(graph.src, graph.dst), seed=0)
    assert "graph" not in emb.init_options
    graph_bytes = graph.src.nbytes + graph.dst.nbytes  # 14.6 kB
    assert len(pickle.dumps(emb)) < graph_bytes / 4  # 2.6 kB: cores and shapes only
    before = [core.detach().clone() for core in emb.cores]
    with pytest.raises(ValueError, match="graph="):
        emb.reset_parameters()
    emb.reset_parameters(graph=(graph.src, graph.dst))
    for core, expected in zip(emb.cores, before):
        torch.testing.assert_close(core.detach(), expected)


def test_numeric_init_options_are_kept_for_reset():
    emb = make(1000, 16, std=0.25, seed=2)
    assert emb.init_options == {"std": 0.25}
    first = emb.to_dense()
    emb.reset_parameters()
    torch.testing.assert_close(emb.to_dense(), first, rtol=0, atol=0)


# D12 and D11: bad arguments name themselves.
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(seed="abc"), r"seed must be a non-negative integer, got 'abc'"),
        (
            dict(seed=2**70),
            r"seed must be an integer in \[0, 2\*\*64\), got 1180591620717411303424",
        ),
        (dict(seed=-1), r"seed must be a non-negative integer, got -1"),
        (dict(dtype=torch.int64), r"dtype must be a floating-point torch dtype .* got torch.int64"),
        (dict(dtype="float32"), r"dtype must be a floating-point torch dtype"),
        (dict(ranks=[4.7, 3.2]), r"TT rank r_1 must be a positive integer, got 4.7"),
        (dict(ranks=["a", "b"]), r"TT rank r_1 must be a positive integer, got 'a'"),
        (dict(ranks=[True, 2]), r"TT rank r_1 must be a positive integer, got True"),
        (dict(p_shapes=(4.9, 25, 10)), r"p_shapes must be a positive integer, got 4.9"),
        (dict(q_shapes=(2.9, 2, 4)), r"q_shapes must be a positive integer, got 2.9"),
        (dict(p_shapes=(True, 100, 10)), r"p_shapes must be a positive integer, got True"),
        (dict(deterministic=1), r"deterministic must be True or False, got 1"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make(1000, 16, **kwargs)


def test_sizes_beyond_int64_and_too_many_cores():
    with pytest.raises(ValueError, match=r"num_embeddings must be at most 2\*\*63 - 1"):
        TTEmbedding(2**64, 16)
    with pytest.raises(ValueError, match=r"num_cores=24 is more than .* at most 6"):
        TTEmbedding(100, 16, num_cores=24)


def test_cores_that_cannot_fit_are_refused_before_allocation(monkeypatch):
    import tt_gnn.embedding as embedding

    monkeypatch.setattr(embedding, "available_memory_bytes", lambda: 10 * 2**20)
    message = r"needs about 66\.41 MiB on cpu for 4,352,000 core parameters .* 10\.00 MiB available"
    with pytest.raises(MemoryError, match=message):
        TTEmbedding(10**9, 64, rank=32)
    TTEmbedding(1000, 16, rank=4)  # small cores still fit


def test_to_dense_rejects_bad_limits():
    emb = make(100, 8)
    with pytest.raises(ValueError, match=r"max_bytes must be a positive integer, got -1"):
        emb.to_dense(max_bytes=-1)
    with pytest.raises(ValueError, match=r"chunk_size must be a positive integer, got 0"):
        emb.to_dense(chunk_size=0)
    with pytest.raises(MemoryError, match=r"needs 3,200 bytes .* more than the 1,000 bytes"):
        emb.to_dense(max_bytes=1000)


# D15: the state dict records the shapes.
def test_state_dict_records_shapes_and_refuses_another_table(tmp_path):
    source = make(100, 8, p_shapes=(4, 5, 5), rank=3, seed=1)
    state = source.state_dict()
    assert state["_extra_state"].tolist() == [100, 8, 3, 4, 5, 5, 2, 2, 2, 1, 3, 3, 1]
    path = tmp_path / "table.pt"
    torch.save(state, path)
    smaller = make(90, 8, p_shapes=(4, 5, 5), rank=3, seed=2)  # same core shapes
    before = [core.detach().clone() for core in smaller.cores]
    with pytest.raises(
        ValueError, match=r"saved with num_embeddings=100 into one with num_embeddings=90"
    ):
        smaller.load_state_dict(torch.load(path, weights_only=True))
    for core, expected in zip(smaller.cores, before):
        assert torch.equal(core, expected)  # refused before any core was copied
    other_ranks = make(100, 8, p_shapes=(4, 5, 5), ranks=(3, 2), seed=2)
    with pytest.raises((ValueError, RuntimeError)):
        other_ranks.load_state_dict(state)
    with pytest.raises(ValueError, match="extra state must be"):
        smaller.load_state_dict({**state, "_extra_state": torch.tensor([1.0])})
    wrapped = nn.Sequential(make(100, 8, p_shapes=(4, 5, 5), rank=3, seed=3))
    wrapped.load_state_dict({f"0.{key}": value for key, value in state.items()})
    torch.testing.assert_close(wrapped[0].to_dense(), source.to_dense())


def test_validate_ids_flag_checks_on_the_host():
    emb = make(50, 8, validate_ids=True)
    with pytest.raises(IndexError, match=r"id 50 is out of range"):
        emb(torch.tensor([50]))
