"""Lookup backends by name: one record per backend, resolved per device.

A backend is a :class:`LookupBackend`: a ``lookup(cores, ids, p_shapes, q_shapes, *,
deterministic) -> rows`` function, an ``available(device) -> bool`` test, a priority for
``"auto"`` and the device types ``"auto"`` may pick it for. ``TTEmbedding(backend=name)`` calls
:func:`resolve_lookup_backend` and runs what it returns; adding a backend is one
:func:`register_lookup_backend` call. Three are built in:

- ``"torch"``: :func:`tt_gnn.ops.tt_lookup`, any device, always available (priority 0);
- ``"triton"``: :func:`tt_gnn.kernels.triton.tt_lookup`, CUDA tensors (or CPU tensors under
  ``TRITON_INTERPRET=1`` when asked for by name), when Triton is installed (priority 10; picked
  by ``"auto"`` on CUDA only);
- ``"cpu_fused"``: :func:`tt_gnn.kernels.cpu_fused.tt_lookup`, CPU tensors, when numba is
  installed (priority 20: ``"auto"``'s choice on CPU; the torch path otherwise).

Functions are named as ``"module:function"`` strings and imported on first use
(:func:`lazy_function`), so importing this registry imports neither Triton nor numba.

Example:
    >>> resolve_lookup_backend("torch", torch.device("cpu")).name
    'torch'
    >>> {"torch", "triton"} <= set(lookup_backends())
    True
    >>> register_lookup_backend(LookupBackend(  # doctest: +SKIP
    ...     name="cpu_fused",
    ...     lookup=lazy_function("tt_gnn.kernels.cpu_fused:tt_lookup"),
    ...     available=available_on(("cpu",), "tt_gnn.kernels.cpu_fused:available"),
    ...     priority=20,
    ...     auto_device_types=("cpu",),
    ...     description="numba kernel computing each row's chain of core slices in one pass",
    ...     requirement="CPU tensors and numba installed",
    ... ))
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

__all__ = [
    "LookupBackend",
    "LookupFunction",
    "register_lookup_backend",
    "lookup_backends",
    "resolve_lookup_backend",
    "check_backend_name",
    "lazy_function",
    "available_on",
]


class LookupFunction(Protocol):
    """``(cores, ids, p_shapes, q_shapes, *, deterministic) -> rows``: rows ``ids`` of the TT
    table, ``(n, prod(q_shapes))`` in the cores' dtype, differentiable w.r.t. the cores; ``ids``
    are flat int64 in ``[0, prod(p_shapes))``, validated by the caller."""

    def __call__(
        self,
        cores: Sequence[torch.Tensor],
        ids: torch.Tensor,
        p_shapes: Sequence[int],
        q_shapes: Sequence[int],
        *,
        deterministic: bool = False,
    ) -> torch.Tensor: ...


@dataclass(frozen=True)
class LookupBackend:
    """One way to look rows up.

    Attributes:
        name: what ``TTEmbedding(backend=...)`` calls it.
        lookup: the :class:`LookupFunction`.
        available: ``(device) -> bool``: can it run on tensors of this device here.
        priority: ``"auto"`` picks the available backend of highest priority (ties: by name).
        auto_device_types: device types (``"cpu"``, ``"cuda"``) ``"auto"`` may pick it for;
            None for every type. A backend can run elsewhere when asked for by name.
        description: one line, what it is.
        requirement: one line, what ``available`` needs (shown when it is not available).
    """

    name: str
    lookup: LookupFunction
    available: Callable[[torch.device], bool]
    priority: int = 0
    auto_device_types: tuple[str, ...] | None = None
    description: str = ""
    requirement: str = ""


_REGISTRY: dict[str, LookupBackend] = {}
_AUTO_CACHE: dict[torch.device, LookupBackend] = {}


def register_lookup_backend(backend: LookupBackend, *, replace: bool = False) -> LookupBackend:
    """Add ``backend`` under ``backend.name`` (``"auto"`` is reserved).

    Raises:
        ValueError: the name is taken (and ``replace`` is False) or is ``"auto"``.
    """
    if not isinstance(backend, LookupBackend):
        raise ValueError(f"backend must be a LookupBackend, got {type(backend).__name__}")
    if backend.name == "auto" or not backend.name:
        raise ValueError(f"a lookup backend cannot be called {backend.name!r}")
    if backend.name in _REGISTRY and not replace:
        raise ValueError(
            f"a lookup backend named {backend.name!r} is already registered; pass replace=True"
        )
    _REGISTRY[backend.name] = backend
    _AUTO_CACHE.clear()
    return backend


def lookup_backends() -> dict[str, LookupBackend]:
    """The registered backends by name (a copy)."""
    return dict(_REGISTRY)


def check_backend_name(name: object) -> str:
    """``name`` when it is ``"auto"`` or a registered backend, else ``ValueError`` listing them.

    Example:
        >>> check_backend_name("torch")
        'torch'
    """
    if not isinstance(name, str) or (name != "auto" and name not in _REGISTRY):
        raise ValueError(
            f"backend must be 'auto' or a registered lookup backend {sorted(_REGISTRY)}, "
            f"got {name!r}"
        )
    return name


def resolve_lookup_backend(name: str, device: torch.device | str) -> LookupBackend:
    """The backend to run for tensors on ``device``.

    Args:
        name: ``"auto"`` (cached per device: the available backend of highest priority among
            those whose ``auto_device_types`` include the device's type) or a registered name.
        device: where the cores and ids are.

    Raises:
        ValueError: an unknown name (the message lists the registered ones).
        RuntimeError: the named backend cannot run on ``device`` here (the message says what
            it needs).
    """
    device = torch.device(device)
    if name == "auto":
        backend = _AUTO_CACHE.get(device)
        if backend is None:
            candidates = [
                candidate
                for candidate in _REGISTRY.values()
                if candidate.auto_device_types is None or device.type in candidate.auto_device_types
            ]
            candidates.sort(key=lambda candidate: (-candidate.priority, candidate.name))
            backend = next((c for c in candidates if c.available(device)), None)
            if backend is None:
                raise RuntimeError(
                    f"no lookup backend can run on {device}; registered: {sorted(_REGISTRY)}"
                )
            _AUTO_CACHE[device] = backend
        return backend
    backend = _REGISTRY[check_backend_name(name)]
    if not backend.available(device):
        raise RuntimeError(
            f"lookup backend {name!r} cannot run on {device} here: it needs "
            f"{backend.requirement or 'another device'}"
        )
    return backend


class _LazyFunction:
    """A function named ``"module:attribute"``, imported on its first call."""

    def __init__(self, path: str) -> None:
        module, separator, attribute = path.partition(":")
        if not separator or not module or not attribute:
            raise ValueError(f"expected 'module:function', got {path!r}")
        self.path = path
        self._function: Callable[..., Any] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._function is None:
            module, _, attribute = self.path.partition(":")
            self._function = getattr(importlib.import_module(module), attribute)
        return self._function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"lazy_function({self.path!r})"


def lazy_function(path: str) -> Callable[..., Any]:
    """The function ``"package.module:name"``, imported when first called.

    Example:
        >>> lazy_function("math:sqrt")(16.0)
        4.0
    """
    return _LazyFunction(path)


class _AvailableOn:
    def __init__(self, device_types: tuple[str, ...], check: str | None) -> None:
        self.device_types = device_types
        self.check = None if check is None else lazy_function(check)

    def __call__(self, device: torch.device) -> bool:
        if torch.device(device).type not in self.device_types:
            return False
        return True if self.check is None else bool(self.check())

    def __repr__(self) -> str:
        return f"available_on({self.device_types!r}, {self.check!r})"


def available_on(
    device_types: Sequence[str], check: str | None = None
) -> Callable[[torch.device], bool]:
    """An ``available(device)`` test: the device type is one of ``device_types`` and the
    no-argument function ``check`` (``"module:function"``, imported lazily) returns True.

    Example:
        >>> available_on(("cpu",))(torch.device("cpu"))
        True
    """
    return _AvailableOn(tuple(device_types), check)


def _any_device(device: torch.device) -> bool:
    return True


register_lookup_backend(
    LookupBackend(
        name="torch",
        lookup=lazy_function("tt_gnn.ops:tt_lookup"),
        available=_any_device,
        priority=0,
        description="prefix-sharing autograd.Function in plain torch ops (tt_gnn.ops)",
        requirement="a device torch runs on",
    )
)
register_lookup_backend(
    LookupBackend(
        name="triton",
        lookup=lazy_function("tt_gnn.kernels.triton:tt_lookup"),
        available=lazy_function("tt_gnn.kernels.triton:available"),
        priority=10,
        auto_device_types=("cuda",),
        description="Triton gathered-matmul kernels, fp32 accumulation (tt_gnn.kernels.triton)",
        requirement=(
            "Triton installed and CUDA tensors, or TRITON_INTERPRET=1 set before the first "
            "kernel call to run CPU tensors through Triton's interpreter"
        ),
    )
)
register_lookup_backend(
    LookupBackend(
        name="cpu_fused",
        lookup=lazy_function("tt_gnn.kernels.cpu_fused:tt_lookup"),
        available=available_on(("cpu",), "tt_gnn.kernels.cpu_fused:available"),
        priority=20,
        auto_device_types=("cpu",),
        description=(
            "numba kernel for every level (terms grouped by parent prefix, explicit SIMD, "
            "deterministic reduction) (tt_gnn.kernels.cpu_fused)"
        ),
        requirement="CPU tensors and numba installed",
    )
)
