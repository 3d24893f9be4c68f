"""The TT lookup on Triton kernels (the ``"triton"`` lookup backend).

Importing this package does not import Triton: :func:`tt_lookup` imports
:mod:`tt_gnn.kernels.triton.lookup` (and Triton) on its first call. The kernels run on CUDA
tensors, or on CPU tensors through Triton's interpreter when ``TRITON_INTERPRET=1`` is set
before that first call. See ``tt_gnn/kernels/README.md`` for the design.

Example:
    >>> from tt_gnn.kernels import triton as triton_kernels
    >>> isinstance(triton_kernels.installed(), bool)
    True
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Sequence

import torch

__all__ = ["installed", "available", "tt_lookup"]


@functools.cache
def installed() -> bool:
    """Whether Triton can be imported.

    Example:
        >>> isinstance(installed(), bool)
        True
    """
    if importlib.util.find_spec("triton") is None:
        return False
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def available(device: torch.device | str) -> bool:
    """Whether the kernels can run on tensors of ``device``: Triton is installed, and the
    device is CUDA, or CPU with ``TRITON_INTERPRET=1`` set.

    Example:
        >>> available("meta")
        False
    """
    device = torch.device(device)
    if device.type == "cuda":
        return installed()
    return device.type == "cpu" and os.environ.get("TRITON_INTERPRET") == "1" and installed()


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
        >>> cores = [torch.randn(4, 1, 2, 3), torch.randn(5, 3, 2, 1)]  # CUDA tensors on a GPU
        >>> ids = torch.tensor([0, 7, 19])
        >>> tt_lookup(cores, ids, (4, 5), (2, 2)).shape  # doctest: +SKIP
        torch.Size([3, 4])
    """
    if not installed():
        raise ImportError(
            "tt_gnn.kernels.triton.tt_lookup needs Triton (pip install 'tt-gnn[gpu]'); "
            "use tt_gnn.ops.tt_lookup without it"
        )
    from tt_gnn.kernels.triton.lookup import tt_lookup as triton_tt_lookup

    return triton_tt_lookup(cores, ids, p_shapes, q_shapes, deterministic=deterministic)
