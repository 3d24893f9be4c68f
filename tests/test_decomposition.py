"""TT-SVD against an independent dense reconstruction and the truncation bound."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tests.reference import dense_from_cores
from tt_gnn.decomposition import maximal_tt_ranks, tt_svd


def brute_force_tt_svd_error(weight: torch.Tensor, p_shapes, q_shapes, ranks) -> float:
    """Textbook TT-SVD on the explicitly padded, interleaved tensor (float64)."""
    d = len(p_shapes)
    padded = torch.zeros(math.prod(p_shapes), weight.shape[1], dtype=torch.float64)
    padded[: weight.shape[0]] = weight.double()
    tensor = padded.reshape(*p_shapes, *q_shapes)
    tensor = tensor.permute(*[axis for k in range(d) for axis in (k, d + k)])
    remainder, previous, discarded = tensor.reshape(1, -1), 1, 0.0
    for k in range(d - 1):
        unfolding = remainder.reshape(previous * p_shapes[k] * q_shapes[k], -1)
        _, sigma, right_t = torch.linalg.svd(unfolding, full_matrices=False)
        discarded += float((sigma[ranks[k] :] ** 2).sum())
        remainder = sigma[: ranks[k], None] * right_t[: ranks[k]]
        previous = ranks[k]
    return math.sqrt(discarded) / float(padded.norm())


@pytest.mark.parametrize(
    ("num_rows", "p_shapes", "q_shapes"),
    [
        (100, (4, 5, 5), (2, 2, 2)),  # exact capacity
        (93, (4, 5, 5), (2, 2, 2)),  # padded
        (61, (3, 4, 2, 3), (2, 1, 3, 2)),  # d = 4, a column factor of 1
        (7, (3, 3), (4, 2)),  # d = 2, mostly padding
    ],
)
def test_full_rank_is_exact(num_rows, p_shapes, q_shapes):
    generator = torch.Generator().manual_seed(1)
    weight = torch.randn(num_rows, math.prod(q_shapes), dtype=torch.float64, generator=generator)
    result = tt_svd(weight, p_shapes, q_shapes, chunk_rows=2)
    assert result.tt_ranks == (1, *maximal_tt_ranks(p_shapes, q_shapes), 1)
    for k, core in enumerate(result.cores):
        assert core.shape == (p_shapes[k], result.tt_ranks[k], q_shapes[k], result.tt_ranks[k + 1])
    reconstruction = dense_from_cores(result.cores, num_rows)
    torch.testing.assert_close(reconstruction, weight, rtol=0, atol=1e-11)
    assert result.relative_error < 1e-12
    assert result.error_bound < 1e-7  # sqrt of roundoff-level discarded eigenvalues


@pytest.mark.parametrize("chunk_rows", [1, 3, None])
def test_truncated_error_matches_bound_and_textbook(chunk_rows):
    p_shapes, q_shapes, ranks = (4, 6, 5), (2, 2, 3), (5, 7)
    generator = torch.Generator().manual_seed(2)
    # low-rank-ish matrix plus noise, so truncation discards something but not everything
    weight = torch.randn(115, 6, dtype=torch.float64, generator=generator) @ torch.randn(
        6, 12, dtype=torch.float64, generator=generator
    ) + 0.3 * torch.randn(115, 12, dtype=torch.float64, generator=generator)
    result = tt_svd(weight, p_shapes, q_shapes, ranks=ranks, chunk_rows=chunk_rows)
    padded_norm = float(weight.norm())
    reconstruction = dense_from_cores(result.cores, math.prod(p_shapes))
    padded = torch.zeros_like(reconstruction)
    padded[:115] = weight
    true_error = float((reconstruction - padded).norm()) / padded_norm
    assert result.relative_error == pytest.approx(true_error, rel=1e-9)
    assert 0.01 < true_error <= result.error_bound * (1 + 1e-9)
    assert result.error_bound == pytest.approx(
        brute_force_tt_svd_error(weight, p_shapes, q_shapes, ranks), rel=1e-8
    )


def test_numpy_memmap_input_and_float32_output(tmp_path):
    generator = np.random.default_rng(3)
    weight = generator.standard_normal((50, 8)).astype(np.float32)
    path = tmp_path / "weight.npy"
    np.save(path, weight)
    mapped = np.load(path, mmap_mode="r")
    result = tt_svd(mapped, (2, 5, 5), (2, 2, 2), max_rank=3)
    assert all(core.dtype == torch.float32 for core in result.cores)
    assert result.tt_ranks == (1, 3, 3, 1)
    assert result.relative_error <= result.error_bound * (1 + 1e-6)


def test_zero_matrix():
    result = tt_svd(torch.zeros(10, 4), (2, 5), (2, 2), ranks=(2,))
    assert result.relative_error == 0.0 and result.error_bound == 0.0
    assert float(dense_from_cores(result.cores, 10).abs().max()) == 0.0


def test_errors():
    weight = torch.randn(20, 8)
    with pytest.raises(ValueError, match="q_shapes"):
        tt_svd(weight, (4, 5), (2, 2))
    with pytest.raises(ValueError, match="rows"):
        tt_svd(weight, (3, 5), (2, 4))
    with pytest.raises(ValueError, match="exceeds the maximal TT rank 8"):
        tt_svd(weight, (4, 5), (2, 4), ranks=(9,))
    with pytest.raises(ValueError, match="d-1=1"):
        tt_svd(weight, (4, 5), (2, 4), ranks=(2, 2))
    with pytest.raises(ValueError, match="not both"):
        tt_svd(weight, (4, 5), (2, 4), ranks=(2,), max_rank=2)
    with pytest.raises(ValueError, match="max_rank"):
        tt_svd(weight, (4, 5), (2, 4), max_rank=0)
    with pytest.raises(ValueError, match="2-D"):
        tt_svd(torch.randn(20), (4, 5), (1, 1))
    with pytest.raises(TypeError, match="real-valued"):
        tt_svd(torch.randn(20, 8, dtype=torch.complex64), (4, 5), (2, 4))
    with pytest.raises(TypeError, match="torch.Tensor or numpy"):
        tt_svd([[1.0] * 8] * 20, (4, 5), (2, 4))
    with pytest.raises(MemoryError, match="GiB"):
        tt_svd(weight, (4, 5), (2, 4), max_memory_bytes=1000)
