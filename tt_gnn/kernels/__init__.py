"""TT lookup backends: a registry, the one prefix planner, Triton kernels and a cost model.

- :mod:`tt_gnn.kernels.registry` (re-exported here): :class:`LookupBackend` records by name,
  resolved per device; ``TTEmbedding(backend=...)`` runs what
  :func:`resolve_lookup_backend` returns.
- :mod:`tt_gnn.kernels.plan`: :func:`~tt_gnn.kernels.plan.plan_prefixes`, the distinct id
  prefixes of a batch, used by every backend.
- :mod:`tt_gnn.kernels.triton`: the Triton kernels (Triton is imported on their first call).
- :mod:`tt_gnn.kernels.cost`: flop and byte counts to judge kernels by.

Importing this package is cheap and imports neither Triton nor numba. See ``README.md`` here.

Example:
    >>> from tt_gnn import kernels
    >>> backend = kernels.resolve_lookup_backend("auto", "cpu")
    >>> backend is kernels.lookup_backends()[backend.name]
    True
"""

from tt_gnn.kernels.registry import (
    LookupBackend,
    LookupFunction,
    available_on,
    check_backend_name,
    lazy_function,
    lookup_backends,
    register_lookup_backend,
    resolve_lookup_backend,
)

__all__ = [
    "LookupBackend",
    "LookupFunction",
    "available_on",
    "check_backend_name",
    "lazy_function",
    "lookup_backends",
    "register_lookup_backend",
    "resolve_lookup_backend",
]
