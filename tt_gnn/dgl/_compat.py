"""The GraphBolt compatibility shim behind ``import tt_gnn.dgl``.

DGL 2.1 (the newest DGL wheel on PyPI for CPU) eagerly imports its GraphBolt sub-package,
whose C++ library is built only for torch <= 2.2.1, so ``import dgl`` fails on newer torch.
tt-gnn does not use GraphBolt. When the GraphBolt library for the running torch is missing,
this module registers a placeholder ``dgl.graphbolt`` whose attribute access raises
``AttributeError`` (not ``ImportError``: torch's DDP and dynamo probe modules with
``hasattr``), then imports DGL normally. Everything else in tt-gnn imports DGL from here::

    from tt_gnn.dgl import dgl
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types

import torch

__all__ = ["dgl", "graphbolt_available"]


def _graphbolt_library_path() -> str | None:
    """Path where DGL looks for the GraphBolt library for the running torch, or None."""
    spec = importlib.util.find_spec("dgl")
    if spec is None or not spec.submodule_search_locations:
        return None
    torch_version = torch.__version__.split("+", maxsplit=1)[0]
    package_dir = list(spec.submodule_search_locations)[0]
    return os.path.join(package_dir, "graphbolt", f"libgraphbolt_pytorch_{torch_version}.so")


class _MissingGraphBolt(types.ModuleType):
    """Stands in for ``dgl.graphbolt`` when its C++ library is not built for this torch."""

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"dgl.graphbolt.{name} is unavailable: DGL's GraphBolt library is not built for "
            f"torch {torch.__version__} (tt-gnn does not use GraphBolt)"
        )


def _install_graphbolt_placeholder() -> bool:
    """Register the placeholder if needed; return True when the real GraphBolt can load."""
    if "dgl.graphbolt" in sys.modules:
        return not isinstance(sys.modules["dgl.graphbolt"], _MissingGraphBolt)
    path = _graphbolt_library_path()
    if path is not None and os.path.exists(path):
        return True
    placeholder = _MissingGraphBolt("dgl.graphbolt")
    placeholder.__file__ = None
    placeholder.__path__ = []
    sys.modules["dgl.graphbolt"] = placeholder
    return False


graphbolt_available: bool = _install_graphbolt_placeholder()

try:
    import dgl  # noqa: E402
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError(
        "tt-gnn needs DGL (pip install 'dgl>=2.1' packaging pandas); importing it failed: "
        f"{error}"
    ) from error

if not graphbolt_available:
    dgl.graphbolt = sys.modules["dgl.graphbolt"]
