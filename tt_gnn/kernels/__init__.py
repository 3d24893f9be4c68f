"""Triton kernels for the TT lookup (shipped as ``tt_gnn.kernels``).

Importing this package is cheap and works without Triton: Triton is imported on the first
kernel call. See ``kernels/README.md`` for the design and the cost model.

Example:
    >>> from tt_gnn import kernels
    >>> if kernels.triton_available():  # doctest: +SKIP
    ...     rows = kernels.tt_lookup(cores, ids, p_shapes, q_shapes)  # CUDA cores and ids
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence

import torch

__all__ = ["triton_available", "tt_lookup"]


@functools.cache
def triton_available() -> bool:
    """Whether Triton can be imported (the kernels then run on CUDA tensors, or on CPU tensors
    under ``TRITON_INTERPRET=1``).

    Example:
        >>> isinstance(triton_available(), bool)
        True
    """
    if importlib.util.find_spec("triton") is None:
        return False
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def tt_lookup(
    cores: Sequence[torch.Tensor],
    ids: torch.Tensor,
    p_shapes: Sequence[int],
    q_shapes: Sequence[int],
    *,
    deterministic: bool = False,
) -> torch.Tensor:
    """Rows ``ids`` of the TT table, computed by the Triton kernels; differentiable.

    Args:
        cores: ``d >= 2`` tensors, core ``k`` of shape ``(p_k, r_{k-1}, q_k, r_k)``, all
            float32, all bfloat16 or all float16 (fp32 accumulation); float64 raises TypeError.
        ids: ``(n,)`` int64 row ids in ``[0, prod(p_shapes))``, on the cores' device.
        p_shapes, q_shapes: the factorization.
        deterministic: sorted segmented reductions in the backward pass instead of fp32 atomics
            (bitwise reproducible). Default False.

    Returns:
        ``(n, prod(q_shapes))`` in the cores' dtype.

    Raises:
        ImportError: Triton is not installed.

    Example:
        >>> cores = [torch.randn(4, 1, 2, 3, device="cuda"), torch.randn(5, 3, 2, 1, device="cuda")]
        >>> tt_lookup(cores, torch.tensor([0, 7, 19], device="cuda"), (4, 5), (2, 2)).shape
        torch.Size([3, 4])
    """
    if not triton_available():
        raise ImportError(
            "tt_gnn.kernels.tt_lookup needs Triton (pip install 'tt-gnn[gpu]'); "
            "use tt_gnn.ops.tt_lookup without it"
        )
    from .lookup import tt_lookup as triton_tt_lookup

    return triton_tt_lookup(cores, ids, p_shapes, q_shapes, deterministic=deterministic)
