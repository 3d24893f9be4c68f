"""Initializers for TT cores, selectable by name through ``TTEmbedding(init=...)``.

Every initializer is a function ``(context: InitContext) -> list[Tensor]`` returning the cores,
core ``k`` of shape ``(p_k, r_{k-1}, q_k, r_k)``, registered under a name with
:func:`register_initializer`. :func:`initialize_cores` resolves a name (or a callable) and
checks what it returns, so a new initializer is one decorated function.

Example:
    >>> from tt_gnn.shapes import choose_shapes
    >>> shapes = choose_shapes(1000, 16)
    >>> cores = initialize_cores("gaussian", shapes, (1, 4, 4, 1), seed=0)
    >>> [tuple(c.shape) for c in cores]
    [(10, 1, 2, 4), (10, 4, 2, 4), (10, 4, 4, 1)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from tt_gnn.shapes import TTShapes

__all__ = [
    "InitContext",
    "Initializer",
    "register_initializer",
    "available_initializers",
    "initialize_cores",
    "gaussian_cores",
    "core_shapes",
]


@dataclass
class InitContext:
    """Everything an initializer may use.

    Attributes:
        shapes: the row/column factorization.
        tt_ranks: ``(1, r_1, ..., r_{d-1}, 1)``.
        dtype, device: of the cores to return.
        generator: seeded CPU generator for all random draws.
        graph: the (already reordered) graph, for graph-aware initializers; else None.
        options: initializer-specific keyword options (e.g. ``std`` for ``"gaussian"``).
    """

    shapes: TTShapes
    tt_ranks: tuple[int, ...]
    dtype: torch.dtype
    device: torch.device
    generator: torch.Generator
    graph: Any = None
    options: dict[str, Any] = field(default_factory=dict)


Initializer = Callable[[InitContext], list[torch.Tensor]]
_REGISTRY: dict[str, Initializer] = {}


def register_initializer(name: str) -> Callable[[Initializer], Initializer]:
    """Decorator registering ``function`` as the initializer called ``name``."""

    def decorate(function: Initializer) -> Initializer:
        if name in _REGISTRY:
            raise ValueError(f"an initializer named {name!r} is already registered")
        _REGISTRY[name] = function
        return function

    return decorate


def available_initializers() -> list[str]:
    return sorted(_REGISTRY)


def core_shapes(shapes: TTShapes, tt_ranks: Sequence[int]) -> list[tuple[int, int, int, int]]:
    """Shapes ``(p_k, r_{k-1}, q_k, r_k)`` of the cores."""
    return [
        (shapes.p_shapes[k], int(tt_ranks[k]), shapes.q_shapes[k], int(tt_ranks[k + 1]))
        for k in range(shapes.num_cores)
    ]


def initialize_cores(
    init: str | Initializer,
    shapes: TTShapes,
    tt_ranks: Sequence[int],
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    seed: int | None = None,
    graph: Any = None,
    **options: Any,
) -> list[torch.Tensor]:
    """Create cores with the initializer ``init`` (a registered name or a callable).

    Args:
        init: e.g. ``"gaussian"``; see :func:`available_initializers`.
        shapes: the factorization; ``tt_ranks``: ``(1, r_1, ..., r_{d-1}, 1)``.
        dtype, device: of the returned cores (default: torch's default dtype, CPU).
        seed: seeds the draws (None: drawn from torch's global generator, so
            ``torch.manual_seed`` makes it reproducible).
        graph: passed to graph-aware initializers.
        **options: initializer-specific options.

    Returns:
        list of ``d`` tensors, core ``k`` of shape ``(p_k, r_{k-1}, q_k, r_k)``.
    """
    tt_ranks = tuple(int(r) for r in tt_ranks)
    if len(tt_ranks) != shapes.num_cores + 1 or tt_ranks[0] != 1 or tt_ranks[-1] != 1:
        raise ValueError(
            f"tt_ranks must be (1, r_1, ..., r_{{d-1}}, 1) with d={shapes.num_cores}, got "
            f"{tt_ranks}"
        )
    if callable(init):
        function = init
    elif isinstance(init, str) and init in _REGISTRY:
        function = _REGISTRY[init]
    else:
        raise ValueError(
            f"unknown initializer {init!r}; expected one of {available_initializers()} or a "
            "callable(InitContext) -> list[Tensor]"
        )
    generator = torch.Generator()
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    generator.manual_seed(int(seed))
    context = InitContext(
        shapes=shapes,
        tt_ranks=tt_ranks,
        dtype=dtype or torch.get_default_dtype(),
        device=torch.device(device) if device is not None else torch.device("cpu"),
        generator=generator,
        graph=graph,
        options=dict(options),
    )
    cores = function(context)
    expected = core_shapes(shapes, tt_ranks)
    if len(cores) != len(expected) or any(
        tuple(core.shape) != shape for core, shape in zip(cores, expected)
    ):
        raise ValueError(
            f"initializer {init!r} returned cores of shapes "
            f"{[tuple(c.shape) for c in cores]}, expected {expected}"
        )
    return [core.to(dtype=context.dtype, device=context.device) for core in cores]


def gaussian_cores(context: InitContext, std: float = 1.0) -> list[torch.Tensor]:
    """Sampled-Gaussian cores (TT-Rec) whose materialized entries have standard deviation ``std``.

    Every core entry is drawn i.i.d. from ``N(0, s^2)``. An entry of the table is a sum of
    ``R = r_1 * ... * r_{d-1}`` products of ``d`` independent core entries, so its variance is
    ``R * s^(2d)``; choosing ``s = (std^2 / R) ** (1 / (2d))`` gives the table entries mean 0
    and standard deviation ``std`` exactly (they are not Gaussian: products have heavier tails).
    The default ``std=1.0`` matches ``torch.nn.Embedding``'s ``N(0, 1)`` rows.
    """
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std}")
    shapes = context.shapes
    rank_product = math.prod(context.tt_ranks[1:-1])
    core_std = (std**2 / rank_product) ** (1.0 / (2 * shapes.num_cores))
    return [
        torch.randn(shape, generator=context.generator, dtype=torch.float64).mul_(core_std)
        for shape in core_shapes(shapes, context.tt_ranks)
    ]


@register_initializer("gaussian")
def _gaussian(context: InitContext) -> list[torch.Tensor]:
    return gaussian_cores(context, **context.options)
