"""The initializer registry: ``InitContext``, ``register_initializer``, ``initialize_cores``."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from tt_gnn.checks import non_negative_int
from tt_gnn.shapes import TTShapes

_LOGGER = logging.getLogger(__name__)


@dataclass
class InitContext:
    """Everything an initializer may use.

    Attributes:
        shapes: the factorization, ranks included (``shapes.core_shapes`` are the shapes to
            return).
        tt_ranks: ``shapes.tt_ranks``, ``(1, r_1, ..., r_{d-1}, 1)``.
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


def initialize_cores(
    init: str | Initializer,
    shapes: TTShapes,
    tt_ranks: Sequence[int] | None = None,
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
        shapes: the factorization, ranks included.
        tt_ranks: ``(1, r_1, ..., r_{d-1}, 1)`` to use instead of ``shapes.tt_ranks``.
        dtype, device: of the returned cores (default: torch's default dtype, CPU).
        seed: seeds the draws, an integer in ``[0, 2**64)`` (None: drawn from torch's global
            generator, so ``torch.manual_seed`` makes it reproducible).
        graph: passed to graph-aware initializers.
        **options: initializer-specific options.

    Returns:
        list of ``d`` tensors, core ``k`` of shape ``(p_k, r_{k-1}, q_k, r_k)``.
    """
    if tt_ranks is not None:
        shapes = dataclasses.replace(shapes, tt_ranks=tt_ranks)  # validated there
    if callable(init):
        function = init
    elif isinstance(init, str) and init in _REGISTRY:
        function = _REGISTRY[init]
    else:
        raise ValueError(
            f"unknown initializer {init!r}; expected one of {available_initializers()} or a "
            "callable(InitContext) -> list[Tensor]"
        )
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    elif non_negative_int(seed, "seed") >= 2**64:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed!r}")
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    context = InitContext(
        shapes=shapes,
        tt_ranks=shapes.tt_ranks,
        dtype=dtype or torch.get_default_dtype(),
        device=torch.device(device) if device is not None else torch.device("cpu"),
        generator=generator,
        graph=graph,
        options=dict(options),
    )
    cores = function(context)
    expected = shapes.core_shapes
    if len(cores) != len(expected) or any(
        tuple(core.shape) != shape for core, shape in zip(cores, expected, strict=True)
    ):
        raise ValueError(
            f"initializer {init!r} returned cores of shapes "
            f"{[tuple(c.shape) for c in cores]}, expected {expected}"
        )
    return [core.to(dtype=context.dtype, device=context.device) for core in cores]
