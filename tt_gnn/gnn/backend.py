"""Graph backends: what the trainer needs from a GNN framework, behind one small interface.

A backend prepares the graph on the training device, builds the model and yields sampled
mini-batches. Three are known:

- ``"torch"``: :mod:`tt_gnn.gnn` alone: the vectorized sampler of :mod:`tt_gnn.gnn.sampler`
  and the plain-torch layers of :mod:`tt_gnn.gnn.layers`. Needs nothing beyond torch and runs
  wherever torch runs, CPU or CUDA.
- ``"pyg"``: the same sampler with ``torch_geometric.nn`` layers (:mod:`tt_gnn.pyg.backend`).
- ``"dgl"``: DGL's ``NeighborSampler`` and ``dgl.nn`` layers (:mod:`tt_gnn.dgl.backend`); the
  DGL wheels on PyPI are CPU-only, so it is available on CPU only.

``resolve_graph_backend("auto", device)`` picks ``"torch"``: it is the one backend that works on
every device and installation, samples on the device itself, and gives the same samples on
CPU and CUDA for a seed; on CPU it samples as fast as DGL (see the report in
``tests/test_gnn_sampler.py``). Ask for ``"dgl"`` or ``"pyg"`` by name to use those
frameworks' layers.

The trainer's side, for one epoch::

    backend = resolve_graph_backend(config.backend, device)
    prepared = backend.prepare(graph, device, self_loops=config.model == "gat")
    model = backend.build_model("sage", node_input, input_dim, hidden, num_classes,
                                num_layers=2, heads=4, dropout=0.5).to(device)
    for input_ids, output_ids, blocks in backend.batches(prepared, seeds, [10, 10], 1024,
                                                         seed=epoch_seed):
        logits = model(blocks, input_ids)                 # everything already on device
    model.layerwise_inference(prepared.graph, output_nodes=eval_nodes, device=device)

Example:
    >>> from tt_gnn.graph import Graph
    >>> backend = resolve_graph_backend("auto", "cpu")
    >>> backend.name
    'torch'
    >>> prepared = backend.prepare(Graph.from_edges([0, 1, 2], [1, 2, 0]), "cpu", self_loops=True)
    >>> prepared.graph.num_edges(), len(backend.batches(prepared, torch.arange(3), [2], 2, seed=0))
    (6, 2)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import torch
from torch import nn

from tt_gnn.gnn.classifier import ModelFamily, NodeClassifier
from tt_gnn.gnn.models import MODELS
from tt_gnn.gnn.sampler import NeighborBatches
from tt_gnn.graph import Graph

__all__ = [
    "PreparedGraph",
    "Batches",
    "GraphBackend",
    "TorchBackend",
    "BACKEND_NAMES",
    "graph_backends",
    "resolve_graph_backend",
]

# Backend name -> module defining ``BACKEND``; imported on first use, so that this module
# imports neither DGL nor PyG.
_BACKEND_MODULES = {
    "torch": "tt_gnn.gnn.backend",
    "dgl": "tt_gnn.dgl.backend",
    "pyg": "tt_gnn.pyg.backend",
}
BACKEND_NAMES = (*_BACKEND_MODULES, "auto")


@dataclass
class PreparedGraph:
    """A graph made ready for one backend on one device.

    Attributes:
        graph: the framework-free :class:`~tt_gnn.graph.Graph` on the device, with self-loops
            when asked; give it to :meth:`NodeClassifier.layerwise_inference`.
        native: what the backend samples from (the same ``Graph`` for torch and PyG, a
            ``DGLGraph`` for DGL).
        device: the device both live on.
    """

    graph: Graph
    native: Any
    device: torch.device


class Batches(Protocol):
    """A sized iterable of ``(input_ids, output_ids, blocks)``, everything on the device."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Any: ...


class GraphBackend:
    """What the trainer needs from a GNN framework, and what the backends share.

    A backend subclasses this, sets ``name`` and ``models``, implements :meth:`available`,
    and overrides the hooks where it differs: :meth:`native_graph` (what it samples from;
    default the :class:`~tt_gnn.graph.Graph` itself) and ``batch_sampler`` (default the
    torch-native :class:`~tt_gnn.gnn.sampler.NeighborBatches`).

    Attributes:
        name: ``"torch"``, ``"dgl"`` or ``"pyg"``.
        models: the backend's :class:`~tt_gnn.gnn.classifier.ModelFamily`.
        batch_sampler: ``batch_sampler(native, seeds, fanouts, batch_size, seed=seed)`` ->
            :class:`Batches`.
    """

    name: ClassVar[str]
    models: ClassVar[ModelFamily]
    batch_sampler: ClassVar[Callable[..., Batches]] = NeighborBatches

    def available(self, device: torch.device | str) -> tuple[bool, str]:
        """``(True, description)`` when this backend can train on ``device``, else
        ``(False, reason)``."""
        raise NotImplementedError

    def native_graph(self, graph: Graph) -> Any:
        """What :meth:`batches` samples from, made from ``graph`` (already on the device and
        with its self-loops); default: ``graph`` itself."""
        return graph

    def prepare(
        self, graph: Graph, device: torch.device | str, *, self_loops: bool
    ) -> PreparedGraph:
        """``graph`` on ``device`` in the backend's form; ``self_loops=True`` gives every node
        exactly one self-loop (GAT).

        Example:
            >>> graph = Graph.from_edges([0, 0], [0, 1])
            >>> prepared = TorchBackend().prepare(graph, "cpu", self_loops=True)
            >>> prepared.graph, prepared.native is prepared.graph
            (Graph(num_nodes=2, num_edges=3), True)
        """
        if not isinstance(graph, Graph):
            raise TypeError(f"graph must be a tt_gnn.graph.Graph, got {type(graph).__name__}")
        device = torch.device(device)
        if self_loops:
            graph = graph.with_self_loops()
        graph = graph.to(device)
        return PreparedGraph(graph, self.native_graph(graph), device)

    def build_model(
        self,
        name: str,
        node_input: nn.Module,
        input_dim: int,
        hidden: int,
        num_classes: int,
        *,
        num_layers: int,
        heads: int,
        dropout: float,
    ) -> NodeClassifier:
        """``"sage"`` or ``"gat"`` with this backend's layers, on CPU (move it with ``.to``);
        see :meth:`~tt_gnn.gnn.classifier.ModelFamily.build`."""
        architecture = (node_input, input_dim, hidden, num_classes)
        options = {"num_layers": num_layers, "heads": heads, "dropout": dropout}
        return self.models.build(name, *architecture, **options)

    def batches(
        self,
        prepared: PreparedGraph,
        seeds: torch.Tensor,
        fanouts: Sequence[int],
        batch_size: int,
        *,
        seed: int,
    ) -> Batches:
        """Sampled mini-batches over ``seeds`` in the given order (the caller shuffles and
        shards them), ``fanouts`` first layer first (-1: all neighbours); ``seed`` fixes the
        sample (pass a new one every epoch). Everything yielded is on ``prepared.device``."""
        return self.batch_sampler(prepared.native, seeds, fanouts, batch_size, seed=seed)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class TorchBackend(GraphBackend):
    """The torch-native backend: :mod:`tt_gnn.gnn` sampler and layers.

    Example:
        >>> TorchBackend().available("cpu")
        (True, 'torch-native sampler and layers')
    """

    name = "torch"
    models = MODELS

    def available(self, device: torch.device | str) -> tuple[bool, str]:
        return True, "torch-native sampler and layers"


BACKEND = TorchBackend()


def _load(name: str) -> GraphBackend:
    return importlib.import_module(_BACKEND_MODULES[name]).BACKEND


def graph_backends(device: torch.device | str = "cpu") -> dict[str, tuple[bool, str]]:
    """Every known backend -> ``(available on device, description or reason)``.

    Example:
        >>> graph_backends("cpu")["torch"]
        (True, 'torch-native sampler and layers')
    """
    device = torch.device(device)
    result: dict[str, tuple[bool, str]] = {}
    for name in _BACKEND_MODULES:
        try:
            backend = _load(name)
        except ImportError as error:
            result[name] = (False, f"cannot import {_BACKEND_MODULES[name]}: {error}")
            continue
        result[name] = backend.available(device)
    return result


def resolve_graph_backend(name: str, device: torch.device | str = "cpu") -> GraphBackend:
    """The backend called ``name`` (``"torch"``, ``"dgl"``, ``"pyg"`` or ``"auto"``), checked
    to work on ``device``.

    ``"auto"`` is ``"torch"`` (see the module docstring for why).

    Raises:
        ValueError: an unknown name, or a backend that is not installed or cannot run on
            ``device`` (the message says why).

    Example:
        >>> resolve_graph_backend("torch", "cpu")
        TorchBackend()
    """
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown graph backend {name!r}; expected one of {BACKEND_NAMES}")
    if name == "auto":
        name = "torch"
    device = torch.device(device)
    try:
        backend = _load(name)
    except ImportError as error:
        raise ValueError(f"graph backend {name!r} is not installed: {error}") from error
    usable, reason = backend.available(device)
    if not usable:
        raise ValueError(f"graph backend {name!r} cannot run on {device}: {reason}")
    return backend
