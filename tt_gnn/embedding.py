"""``TTEmbedding``: a Tensor-Train compressed drop-in for ``torch.nn.Embedding``."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from tt_gnn.decomposition import available_memory_bytes, tt_svd
from tt_gnn.init import Initializer, core_shapes, initialize_cores
from tt_gnn.ops import tt_lookup
from tt_gnn.shapes import TTShapes, choose_shapes

__all__ = ["TTEmbedding", "BACKENDS"]

BACKENDS = ("auto", "torch", "triton")


class TTEmbedding(nn.Module):
    r"""An ``N x D`` embedding table stored as Tensor-Train cores.

    Row ``i`` has mixed-radix digits ``(i_1, ..., i_d)`` over ``p_shapes`` (first digit most
    significant), column ``j`` digits ``(j_1, ..., j_d)`` over ``q_shapes``, and

    .. math::
        W[i, j] = G_1[i_1, :, j_1, :] \, G_2[i_2, :, j_2, :] \cdots G_d[i_d, :, j_d, :]

    with core ``G_k`` of shape ``(p_k, r_{k-1}, q_k, r_k)`` and ``r_0 = r_d = 1``. The table
    is never materialized: a lookup computes each distinct id prefix of the batch once
    (:mod:`tt_gnn.ops`), or runs the Triton kernels on CUDA (:mod:`tt_gnn.kernels`).

    Args:
        num_embeddings: rows ``N``.
        embedding_dim: columns ``D``.
        rank: every internal TT rank (default 16), unless ``ranks`` is given.
        ranks: the ``d - 1`` internal ranks ``(r_1, ..., r_{d-1})``.
        p_shapes: row factors with ``prod(p) >= N``; chosen by
            :func:`tt_gnn.shapes.choose_shapes` when None.
        q_shapes: column factors with ``prod(q) == D``; chosen when None.
        num_cores: ``d`` when no shapes are given (default 3).
        init: initializer name from :mod:`tt_gnn.init` (default ``"gaussian"``) or a callable
            ``(InitContext) -> list[Tensor]``.
        graph: graph for graph-aware initializers (e.g. ``"spectral"``); not stored in the
            state dict.
        seed: seed of the initializer (None: drawn from torch's global generator).
        dtype, device: of the cores.
        backend: ``"auto"`` (Triton kernels for CUDA cores when Triton is installed, the torch
            path otherwise), ``"torch"`` or ``"triton"`` (forced; on CPU tensors it needs
            ``TRITON_INTERPRET=1``).
        deterministic: Triton backward only: reduce core gradients in a fixed order (sorted
            segments) instead of with atomics, for bit-reproducible training. The torch path
            is always deterministic.
        **init_options: passed to the initializer (``std=`` for ``"gaussian"``: the standard
            deviation of the table's entries, default 1.0 like ``nn.Embedding``).

    Shapes:
        - Input: integer tensor of any shape ``S`` with values in ``[0, N)``.
        - Output: ``S + (D,)``.

    Example:
        >>> emb = TTEmbedding(2_449_029, 128, rank=16, seed=0)
        >>> emb(torch.tensor([[0, 5], [2_449_028, 7]])).shape
        torch.Size([2, 2, 128])
        >>> round(emb.compression_ratio)
        1925
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        *,
        rank: int = 16,
        ranks: Sequence[int] | None = None,
        p_shapes: Sequence[int] | None = None,
        q_shapes: Sequence[int] | None = None,
        num_cores: int = 3,
        init: str | Initializer = "gaussian",
        graph: Any = None,
        seed: int | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        backend: str = "auto",
        deterministic: bool = False,
        **init_options: Any,
    ) -> None:
        super().__init__()
        self.shapes: TTShapes = choose_shapes(
            num_embeddings, embedding_dim, num_cores, p_shapes=p_shapes, q_shapes=q_shapes
        )
        self.tt_ranks: tuple[int, ...] = _tt_ranks(self.shapes.num_cores, rank, ranks)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.backend = backend
        self.deterministic = deterministic
        self.init = init
        self.seed = seed
        self.init_options = dict(init_options)
        self._init_graph = graph
        factory = {"dtype": dtype, "device": device}
        self.cores = nn.ParameterList(
            nn.Parameter(torch.empty(shape, **factory))
            for shape in core_shapes(self.shapes, self.tt_ranks)
        )
        self.reset_parameters()

    # -- shapes -------------------------------------------------------------------------
    @property
    def num_embeddings(self) -> int:
        return self.shapes.num_embeddings

    @property
    def embedding_dim(self) -> int:
        return self.shapes.embedding_dim

    @property
    def p_shapes(self) -> tuple[int, ...]:
        return self.shapes.p_shapes

    @property
    def q_shapes(self) -> tuple[int, ...]:
        return self.shapes.q_shapes

    @property
    def num_cores(self) -> int:
        return self.shapes.num_cores

    def num_parameters(self) -> int:
        """Number of scalars in the cores."""
        return sum(core.numel() for core in self.cores)

    @property
    def compression_ratio(self) -> float:
        """``N * D`` divided by the number of core parameters."""
        return self.num_embeddings * self.embedding_dim / self.num_parameters()

    # -- parameters ---------------------------------------------------------------------
    def reset_parameters(self) -> None:
        """Re-draw the cores with the configured initializer and seed."""
        cores = initialize_cores(
            self.init,
            self.shapes,
            self.tt_ranks,
            dtype=self.cores[0].dtype,
            device=self.cores[0].device,
            seed=self.seed,
            graph=self._init_graph,
            **self.init_options,
        )
        with torch.no_grad():
            for parameter, value in zip(self.cores, cores):
                parameter.copy_(value)

    @classmethod
    def from_dense(
        cls,
        weight: torch.Tensor | nn.Embedding,
        *,
        rank: int | None = None,
        ranks: Sequence[int] | None = None,
        p_shapes: Sequence[int] | None = None,
        q_shapes: Sequence[int] | None = None,
        num_cores: int = 3,
        **kwargs: Any,
    ) -> TTEmbedding:
        """Decompose a dense ``N x D`` table (or an ``nn.Embedding``) by TT-SVD.

        With ``rank`` and ``ranks`` both None the ranks are full and the result is exact (up to
        rounding); otherwise the error obeys the TT-SVD bound (see
        :func:`tt_gnn.decomposition.tt_svd`, whose report is kept in ``self.tt_svd_report``).

        Example:
            >>> table = torch.randn(1000, 16, dtype=torch.float64)
            >>> emb = TTEmbedding.from_dense(table)
            >>> torch.allclose(emb.to_dense(), table)
            True
        """
        if isinstance(weight, nn.Embedding):
            weight = weight.weight
        weight = weight.detach()
        if weight.dim() != 2:
            raise ValueError(f"weight must be 2-D (N, D), got shape {tuple(weight.shape)}")
        shapes = choose_shapes(weight.shape[0], weight.shape[1], num_cores, p_shapes, q_shapes)
        if ranks is not None:
            tt_ranks = _tt_ranks(shapes.num_cores, 1, ranks)
            result = tt_svd(weight, shapes.p_shapes, shapes.q_shapes, ranks=tt_ranks[1:-1])
        else:
            result = tt_svd(weight, shapes.p_shapes, shapes.q_shapes, max_rank=rank)
        cores = [torch.as_tensor(core) for core in result.cores]
        module = cls(
            shapes.num_embeddings,
            shapes.embedding_dim,
            ranks=[core.shape[-1] for core in cores[:-1]],
            p_shapes=shapes.p_shapes,
            q_shapes=shapes.q_shapes,
            init=lambda context: cores,
            dtype=weight.dtype,
            device=weight.device,
            **kwargs,
        )
        module.tt_svd_report = result
        return module

    # -- lookup -------------------------------------------------------------------------
    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Rows for ``ids``; see the class docstring for shapes."""
        flat = self._check_ids(ids)
        rows = self._lookup(flat)
        return rows.reshape(*ids.shape, self.embedding_dim)

    def _lookup(self, flat_ids: torch.Tensor) -> torch.Tensor:
        if self._use_triton():
            from tt_gnn.kernels import tt_lookup as triton_tt_lookup

            return triton_tt_lookup(
                list(self.cores),
                flat_ids,
                self.p_shapes,
                self.q_shapes,
                deterministic=self.deterministic,
            )
        return tt_lookup(list(self.cores), flat_ids, self.p_shapes, self.q_shapes)

    def _use_triton(self) -> bool:
        if self.backend == "torch":
            return False
        if self.backend == "triton":
            if self.cores[0].device.type != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
                raise RuntimeError(
                    "backend='triton' needs CUDA cores, or TRITON_INTERPRET=1 to run the kernels "
                    f"on {self.cores[0].device} through Triton's interpreter"
                )
            return True
        if self.cores[0].device.type != "cuda":
            return False
        from tt_gnn.kernels import triton_available

        return triton_available()

    def _check_ids(self, ids: torch.Tensor) -> torch.Tensor:
        if not isinstance(ids, torch.Tensor):
            raise TypeError(f"ids must be a torch.Tensor, got {type(ids).__name__}")
        if ids.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
            raise TypeError(
                f"ids must be an integer tensor (int64 or int32), got dtype {ids.dtype}"
            )
        device = self.cores[0].device
        if ids.device != device:
            raise ValueError(
                f"ids are on {ids.device} but the TT cores are on {device}; move one of them"
            )
        flat = ids.reshape(-1).long()
        if flat.numel():
            low, high = torch.aminmax(flat)
            low, high = int(low), int(high)
            if low < 0 or high >= self.num_embeddings:
                bad = low if low < 0 else high
                raise IndexError(
                    f"id {bad} is out of range for TTEmbedding with num_embeddings="
                    f"{self.num_embeddings} (valid ids are 0..{self.num_embeddings - 1})"
                )
        return flat

    # -- materialization ----------------------------------------------------------------
    def to_dense(
        self, chunk_size: int = 65536, max_bytes: int | None = None
    ) -> torch.Tensor:
        """Materialize the ``N x D`` table, ``chunk_size`` rows at a time.

        Args:
            chunk_size: rows computed per step (bounds the temporary memory).
            max_bytes: refuse when the table would need more; default: the memory available
                on the host (``MemAvailable``) for CPU cores, free memory for CUDA cores.

        Raises:
            MemoryError: when ``N * D`` elements do not fit, naming both sizes.
        """
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        element_size = self.cores[0].element_size()
        needed = self.num_embeddings * self.embedding_dim * element_size
        limit = _available_bytes(self.cores[0].device) if max_bytes is None else max_bytes
        if needed > limit:
            raise MemoryError(
                f"to_dense() needs {needed / 2**30:.2f} GiB for a {self.num_embeddings} x "
                f"{self.embedding_dim} table, more than the {limit / 2**30:.2f} GiB allowed; "
                "look rows up with forward() instead"
            )
        ids = torch.arange(self.num_embeddings, device=self.cores[0].device)
        return torch.cat([self._lookup(chunk) for chunk in ids.split(chunk_size)])

    def extra_repr(self) -> str:
        init = self.init if isinstance(self.init, str) else getattr(self.init, "__name__", "custom")
        return (
            f"{self.num_embeddings}, {self.embedding_dim}, p_shapes={self.p_shapes}, "
            f"q_shapes={self.q_shapes}, tt_ranks={self.tt_ranks}, init={init!r}, "
            f"parameters={self.num_parameters()}, compression={self.compression_ratio:.1f}x"
        )


def _tt_ranks(num_cores: int, rank: int, ranks: Sequence[int] | None) -> tuple[int, ...]:
    """``(1, r_1, ..., r_{d-1}, 1)`` from ``rank`` or an explicit ``ranks``."""
    if ranks is None:
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise ValueError(f"rank must be a positive int, got {rank!r}")
        internal = [rank] * (num_cores - 1)
    else:
        internal = [int(r) for r in ranks]
        if len(internal) != num_cores - 1:
            raise ValueError(
                f"ranks must have num_cores - 1 = {num_cores - 1} entries, got {tuple(ranks)}"
            )
        if any(r < 1 for r in internal):
            raise ValueError(f"every rank must be >= 1, got {tuple(ranks)}")
    return (1, *internal, 1)


def _available_bytes(device: torch.device) -> float:
    """Free memory on ``device``: CUDA's free bytes, else the host's ``MemAvailable`` (inf where
    that cannot be read)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return float(free)
    available = available_memory_bytes()
    return math.inf if available is None else float(available)
