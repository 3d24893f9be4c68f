"""``TTEmbedding``: a Tensor-Train compressed drop-in for ``torch.nn.Embedding``."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from tt_gnn.checks import positive_int
from tt_gnn.decomposition import maximal_tt_ranks
from tt_gnn.init import Initializer, initialize_cores
from tt_gnn.io import available_memory_bytes
from tt_gnn.kernels import check_backend_name, resolve_lookup_backend
from tt_gnn.shapes import TTShapes, choose_shapes

__all__ = ["TTEmbedding"]

_ID_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


class TTEmbedding(nn.Module):
    r"""An ``N x D`` embedding table stored as Tensor-Train cores.

    Row ``i`` has mixed-radix digits ``(i_1, ..., i_d)`` over ``p_shapes`` (first digit most
    significant), column ``j`` digits ``(j_1, ..., j_d)`` over ``q_shapes``, and

    .. math::
        W[i, j] = G_1[i_1, :, j_1, :] \, G_2[i_2, :, j_2, :] \cdots G_d[i_d, :, j_d, :]

    with core ``G_k`` of shape ``(p_k, r_{k-1}, q_k, r_k)`` and ``r_0 = r_d = 1``. The table
    is never materialized: a lookup backend from :mod:`tt_gnn.kernels` computes each distinct
    id prefix of the batch once.

    The module holds the cores and their :class:`~tt_gnn.shapes.TTShapes` (recorded in the
    state dict, so a state saved from another table refuses to load), plus the initializer's
    name, seed and numeric options for :meth:`reset_parameters`. It keeps no graph and no data.

    Args:
        num_embeddings: rows ``N`` (at most ``2**63 - 1``).
        embedding_dim: columns ``D``.
        rank: every internal TT rank (default 16), unless ``ranks`` is given.
        ranks: the ``d - 1`` internal ranks ``(r_1, ..., r_{d-1})``.
        p_shapes: row factors with ``prod(p) >= N``; chosen by
            :func:`tt_gnn.shapes.choose_shapes` when None.
        q_shapes: column factors with ``prod(q) == D``; chosen when None.
        num_cores: ``d`` when no shapes are given (default 3).
        init: initializer name from :mod:`tt_gnn.init` (default ``"gaussian"``) or a callable
            ``(InitContext) -> list[Tensor]``.
        graph: graph for graph-aware initializers (e.g. ``"spectral"``); used to initialize
            and not kept (pass it again to :meth:`reset_parameters`).
        seed: seed of the initializer, an integer in ``[0, 2**64)`` (None: drawn from torch's
            global generator).
        dtype: a floating dtype for the cores (default torch's default dtype).
        device: of the cores.
        backend: ``"auto"`` (the registered lookup backend of highest priority for the cores'
            device: the Triton kernels for CUDA cores when Triton is installed, the torch path
            otherwise) or a registered name such as ``"torch"`` or ``"triton"`` (see
            :func:`tt_gnn.kernels.lookup_backends`); resolved at each call for the device the
            cores are on then.
        deterministic: ask the backend for bitwise reproducible gradients (the Triton backward
            then reduces in a fixed order instead of with atomics). The torch path is
            deterministic on the CPU.
        validate_ids: check ids on the host with a readable ``IndexError`` on every device.
            Default False: CPU ids are checked exactly that way anyway (no cost); on other
            devices an asynchronous device-side assertion (like ``nn.Embedding``'s) stops
            out-of-range ids without a host synchronization per call, but only reports them at
            a later synchronization and leaves the CUDA context unusable.
        **init_options: passed to the initializer (``std=`` for ``"gaussian"``: the standard
            deviation of the table's entries, default 1.0 like ``nn.Embedding``). Numbers,
            strings and dtypes are kept for :meth:`reset_parameters`; anything else (tensors,
            arrays, report dicts) is used for this initialization only.

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
        validate_ids: bool = False,
        **init_options: Any,
    ) -> None:
        super().__init__()
        self.shapes: TTShapes = choose_shapes(
            num_embeddings,
            embedding_dim,
            num_cores,
            p_shapes=p_shapes,
            q_shapes=q_shapes,
            rank=rank,
            ranks=ranks,
        )
        self.backend = check_backend_name(backend)
        self.deterministic = _flag(deterministic, "deterministic")
        self.validate_ids = _flag(validate_ids, "validate_ids")
        self.init = init
        self.seed = seed
        self.init_options = {
            name: value for name, value in init_options.items() if _is_setting(value)
        }
        dtype = _floating_dtype(dtype)
        device = torch.device(device) if device is not None else torch.get_default_device()
        _check_core_memory(self.shapes, dtype, device)
        self.cores = nn.ParameterList(
            nn.Parameter(torch.empty(shape, dtype=dtype, device=device))
            for shape in self.shapes.core_shapes
        )
        self.reset_parameters(graph=graph, **init_options)

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
    def tt_ranks(self) -> tuple[int, ...]:
        """``(1, r_1, ..., r_{d-1}, 1)``."""
        return self.shapes.tt_ranks

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
    def reset_parameters(self, graph: Any = None, **init_inputs: Any) -> None:
        """Re-draw the cores with the configured initializer, seed and kept options.

        Args:
            graph: the graph, for graph-aware initializers (``"spectral"``): the module does
                not keep the one it was built with, so pass it again; without it such an
                initializer raises ``ValueError`` asking for ``graph=``.
            **init_inputs: options to add or override, e.g. ``weight=`` for ``"dense"``.

        Example:
            >>> emb = TTEmbedding(100, 8, rank=2, seed=1)
            >>> before = emb.cores[0].detach().clone()
            >>> with torch.no_grad():
            ...     _ = emb.cores[0].zero_()
            >>> emb.reset_parameters()
            >>> torch.equal(emb.cores[0], before)
            True
        """
        cores = initialize_cores(
            self.init,
            self.shapes,
            dtype=self.cores[0].dtype,
            device=self.cores[0].device,
            seed=self.seed,
            graph=graph,
            **{**self.init_options, **init_inputs},
        )
        with torch.no_grad():
            for parameter, value in zip(self.cores, cores, strict=True):
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
        report: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> TTEmbedding:
        """Decompose a dense ``N x D`` table (or an ``nn.Embedding``) by TT-SVD.

        With ``rank`` and ``ranks`` both None the ranks are maximal
        (:func:`tt_gnn.decomposition.maximal_tt_ranks`) and the result is exact up to
        rounding; ``rank`` caps every maximal rank; otherwise the error obeys the TT-SVD bound
        (:func:`tt_gnn.decomposition.tt_svd`). The module is built with ``init="dense"``; the
        table is not kept (``reset_parameters(weight=...)`` decomposes it again).

        Args:
            report: a dict to fill with the TT-SVD's ``relative_error``, ``error_bound`` and
                ``seconds``.
            **kwargs: passed to the constructor (dtype and device default to the table's).

        Example:
            >>> table = torch.randn(1000, 16, dtype=torch.float64)
            >>> emb = TTEmbedding.from_dense(table)
            >>> torch.allclose(emb.to_dense(), table)
            True
        """
        if isinstance(weight, nn.Embedding):
            weight = weight.weight
        if not isinstance(weight, torch.Tensor):
            raise ValueError(
                f"weight must be a tensor or nn.Embedding, got {type(weight).__name__}"
            )
        weight = weight.detach()
        if weight.dim() != 2:
            raise ValueError(f"weight must be 2-D (N, D), got shape {tuple(weight.shape)}")
        shapes = choose_shapes(
            weight.shape[0], weight.shape[1], num_cores, p_shapes=p_shapes, q_shapes=q_shapes
        )
        if ranks is None:
            limits = maximal_tt_ranks(shapes.p_shapes, shapes.q_shapes)
            cap = max(limits) if rank is None else positive_int(rank, "rank")
            ranks = [min(limit, cap) for limit in limits]
        kwargs.setdefault("dtype", weight.dtype if weight.is_floating_point() else None)
        kwargs.setdefault("device", weight.device)
        return cls(
            shapes.num_embeddings,
            shapes.embedding_dim,
            ranks=ranks,
            p_shapes=shapes.p_shapes,
            q_shapes=shapes.q_shapes,
            init="dense",
            weight=weight,
            report=report,
            **kwargs,
        )

    # -- state ---------------------------------------------------------------------------
    def get_extra_state(self) -> torch.Tensor:
        """The shapes, for the state dict: int64 ``[N, D, d, *p_shapes, *q_shapes, *tt_ranks]``
        (a tensor, so that code treating every state entry as a tensor keeps working)."""
        shapes = self.shapes
        return torch.tensor(
            [
                shapes.num_embeddings,
                shapes.embedding_dim,
                shapes.num_cores,
                *shapes.p_shapes,
                *shapes.q_shapes,
                *shapes.tt_ranks,
            ],
            dtype=torch.int64,
        )

    def set_extra_state(self, state: Any) -> None:
        """Refuse a state saved from a table with other shapes (called by
        ``load_state_dict`` before the cores are loaded).

        Raises:
            ValueError: naming the fields that differ, e.g. ``num_embeddings=100`` saved,
                ``num_embeddings=90`` here.
        """
        saved = _shapes_from_state(state)
        if saved == self.shapes:
            return
        fields = ("num_embeddings", "embedding_dim", "p_shapes", "q_shapes", "tt_ranks")
        differing = [name for name in fields if getattr(saved, name) != getattr(self.shapes, name)]
        theirs = ", ".join(f"{name}={getattr(saved, name)}" for name in differing)
        ours = ", ".join(f"{name}={getattr(self.shapes, name)}" for name in differing)
        raise ValueError(
            f"cannot load a TTEmbedding state saved with {theirs} into one with {ours}"
        )

    # -- lookup -------------------------------------------------------------------------
    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Rows for ``ids``; see the class docstring for shapes."""
        flat = self._check_ids(ids)
        rows = self._lookup(flat)
        return rows.reshape(*ids.shape, self.embedding_dim)

    def _lookup(self, flat_ids: torch.Tensor) -> torch.Tensor:
        backend = resolve_lookup_backend(self.backend, flat_ids.device)
        return backend.lookup(
            list(self.cores),
            flat_ids,
            self.p_shapes,
            self.q_shapes,
            deterministic=self.deterministic,
        )

    def _check_ids(self, ids: torch.Tensor) -> torch.Tensor:
        if not isinstance(ids, torch.Tensor):
            raise TypeError(f"ids must be a torch.Tensor, got {type(ids).__name__}")
        if ids.dtype not in _ID_DTYPES:
            raise TypeError(
                f"ids must be an integer tensor (int64 or int32), got dtype {ids.dtype}"
            )
        device = self.cores[0].device
        if ids.device != device:
            raise ValueError(
                f"ids are on {ids.device} but the TT cores are on {device}; move one of them"
            )
        flat = ids.reshape(-1).long()
        if not flat.numel():
            return flat
        valid = f"valid ids are 0..{self.num_embeddings - 1}"
        low, high = torch.aminmax(flat)
        if flat.device.type == "cpu" or self.validate_ids:
            low, high = int(low), int(high)
            if low < 0 or high >= self.num_embeddings:
                bad = low if low < 0 else high
                raise IndexError(
                    f"id {bad} is out of range for TTEmbedding with num_embeddings="
                    f"{self.num_embeddings} ({valid})"
                )
        else:  # no host synchronization: the device raises at its next synchronization
            torch._assert_async(
                (low >= 0) & (high < self.num_embeddings),
                f"TTEmbedding got an id out of range ({valid})",
            )
        return flat

    # -- materialization ----------------------------------------------------------------
    def to_dense(self, chunk_size: int = 65536, max_bytes: int | None = None) -> torch.Tensor:
        """Materialize the ``N x D`` table, ``chunk_size`` rows at a time.

        Args:
            chunk_size: rows computed per step (bounds the temporary memory).
            max_bytes: refuse when the table would need more (a positive integer); default:
                the memory available on the host (``MemAvailable``) for CPU cores, free memory
                for CUDA cores.

        Raises:
            MemoryError: when ``N * D`` elements do not fit, naming both sizes.

        Example:
            >>> TTEmbedding(10, 4, rank=2, seed=0).to_dense().shape
            torch.Size([10, 4])
        """
        chunk_size = positive_int(chunk_size, "chunk_size")
        element_size = self.cores[0].element_size()
        needed = self.num_embeddings * self.embedding_dim * element_size
        device = self.cores[0].device
        limit = (
            _available_bytes(device) if max_bytes is None else positive_int(max_bytes, "max_bytes")
        )
        if needed > limit:
            raise MemoryError(
                f"to_dense() needs {_size(needed)} for a {self.num_embeddings} x "
                f"{self.embedding_dim} table, more than the {_size(limit)} allowed; look rows "
                "up with forward() instead"
            )
        ids = torch.arange(self.num_embeddings, device=device)
        return torch.cat([self._lookup(chunk) for chunk in ids.split(chunk_size)])

    def extra_repr(self) -> str:
        init = self.init if isinstance(self.init, str) else getattr(self.init, "__name__", "custom")
        return (
            f"{self.num_embeddings}, {self.embedding_dim}, p_shapes={self.p_shapes}, "
            f"q_shapes={self.q_shapes}, tt_ranks={self.tt_ranks}, init={init!r}, "
            f"parameters={self.num_parameters()}, compression={self.compression_ratio:.1f}x"
        )


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def _floating_dtype(dtype: Any) -> torch.dtype:
    if dtype is None:
        return torch.get_default_dtype()
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(
            "dtype must be a floating-point torch dtype (float32, float64, bfloat16 or "
            f"float16), got {dtype!r}"
        )
    return dtype


def _is_setting(value: Any) -> bool:
    """Options kept for ``reset_parameters``: numbers, strings, dtypes and None."""
    return value is None or isinstance(value, (numbers.Number, str, torch.dtype))


def _size(num_bytes: float) -> str:
    if num_bytes >= 2**30:
        return f"{num_bytes / 2**30:.2f} GiB"
    if num_bytes >= 2**20:
        return f"{num_bytes / 2**20:.2f} MiB"
    return f"{num_bytes:,.0f} bytes"


def _check_core_memory(shapes: TTShapes, dtype: torch.dtype, device: torch.device) -> None:
    """Refuse cores that cannot fit before allocating them: the parameters and the
    initializer's copy in ``dtype`` on ``device``, and its float64 draws on the host."""
    count = shapes.num_parameters
    element_size = torch.empty((), dtype=dtype).element_size()
    needs = {torch.device("cpu"): 8 * count}
    if device.type != "meta":
        needs[device] = needs.get(device, 0) + 2 * element_size * count
    for where, needed in needs.items():
        available = _available_bytes(where)
        if needed > available:
            raise MemoryError(
                f"TTEmbedding needs about {_size(needed)} on {where} for {count:,} core "
                f"parameters ({shapes.core_shapes}, {dtype}, with the initializer's copies), "
                f"more than the {_size(available)} available; lower the ranks or "
                "num_embeddings"
            )


def _shapes_from_state(state: Any) -> TTShapes:
    """Decode :meth:`TTEmbedding.get_extra_state`."""
    expected = "an int64 vector [N, D, d, *p_shapes, *q_shapes, *tt_ranks]"
    if not isinstance(state, torch.Tensor) or state.dtype != torch.int64 or state.dim() != 1:
        found = (
            f"a {state.dtype} tensor of shape {tuple(state.shape)}"
            if isinstance(state, torch.Tensor)
            else type(state).__name__
        )
        raise ValueError(f"TTEmbedding extra state must be {expected}, got {found}")
    values = state.tolist()
    num_cores = values[2] if len(values) > 2 else -1
    if num_cores < 2 or len(values) != 3 + 3 * num_cores + 1:
        raise ValueError(f"TTEmbedding extra state must be {expected}, got {values}")
    p_end, q_end = 3 + num_cores, 3 + 2 * num_cores
    return TTShapes(values[0], values[1], values[3:p_end], values[p_end:q_end], values[q_end:])


def _available_bytes(device: torch.device) -> float:
    """Free memory on ``device``: CUDA's free bytes, else the host's ``MemAvailable`` (inf where
    that cannot be read, and for devices without data)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return float(free)
    if device.type != "cpu":
        return math.inf
    available = available_memory_bytes()
    return math.inf if available is None else float(available)
