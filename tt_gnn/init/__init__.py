"""Initializers for TT cores, selectable by name through ``TTEmbedding(init=...)``.

Registered names:

- ``"gaussian"`` (default): i.i.d. Gaussian cores, table entries of standard deviation ``std``
  (:func:`gaussian_cores`).
- ``"ortho"``: random orthogonal cores whose table has orthogonal columns,
  ``W^T W = gain^2 * prod(p) * I`` (:func:`orthogonal_cores`).
- ``"spectral"``: bottom eigenvectors of the normalized Laplacian of ``graph``, decomposed by
  TT-SVD, then rescaled to the Gaussian init's entry and per-core scale
  (:func:`spectral_cores`).
- ``"dense"``: a given ``N x D`` table ``weight``, decomposed by TT-SVD (:func:`dense_cores`).

Every initializer is a function ``(context: InitContext) -> list[Tensor]`` returning the cores,
core ``k`` of shape ``(p_k, r_{k-1}, q_k, r_k)``, registered under a name with
:func:`register_initializer`. :func:`initialize_cores` resolves a name (or a callable) and
checks what it returns, so a new initializer is one decorated function.

:func:`initialize_table` gives full ``N x D`` tables (``nn.Embedding``) from the same names,
with the same entry scale.

Example:
    >>> from tt_gnn.shapes import choose_shapes
    >>> shapes = choose_shapes(1000, 16)
    >>> cores = initialize_cores("gaussian", shapes.with_ranks((4, 4)), seed=0)
    >>> [tuple(c.shape) for c in cores]
    [(10, 1, 2, 4), (10, 4, 2, 4), (10, 4, 4, 1)]
"""

from tt_gnn.init.registry import (  # isort: skip (registration order: registry first)
    InitContext,
    Initializer,
    available_initializers,
    initialize_cores,
    register_initializer,
)
from tt_gnn.init.basic import dense_cores, gaussian_cores, orthogonal_cores  # isort: skip
from tt_gnn.init.spectral import spectral_cores, tt_frobenius_norm  # isort: skip
from tt_gnn.init.table import available_table_initializers, initialize_table  # isort: skip

__all__ = [
    "InitContext",
    "Initializer",
    "register_initializer",
    "available_initializers",
    "initialize_cores",
    "gaussian_cores",
    "orthogonal_cores",
    "spectral_cores",
    "dense_cores",
    "tt_frobenius_norm",
    "initialize_table",
    "available_table_initializers",
]
