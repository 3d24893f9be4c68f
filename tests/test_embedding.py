import math

import pytest
import torch
from torch import nn

from tests.reference import dense_from_cores
from tt_gnn import TTEmbedding


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
    emb = TTEmbedding.from_dense(nn.Embedding.from_pretrained(table), rank=3)
    assert max(emb.tt_ranks) <= 3
    error = torch.linalg.norm(emb.to_dense() - table) / torch.linalg.norm(table)
    assert error <= emb.tt_svd_report.error_bound * (1 + 1e-6) + 1e-12
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
