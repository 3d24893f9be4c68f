"""GraphSAGE and GAT built from ``torch_geometric.nn`` layers, on the torch-native blocks.

Each :class:`~tt_gnn.gnn.blocks.Block` is handed to the PyG layer as a bipartite graph:
``x = (h, h[:num_dst])``, ``edge_index = block.edge_index()``, ``size = (num_src, num_dst)``.
GAT layers use ``concat=True`` and the model averages the output layer's heads itself, and
``add_self_loops=False`` (the backend adds self-loops to the graph, as for the other
backends), so the parameters are exactly those of the torch-native and DGL models (translated
by :func:`state_to_pyg` and :func:`state_from_pyg`, layer by layer with
:func:`tt_gnn.gnn.layers.sage_state_to_pyg` / :func:`~tt_gnn.gnn.layers.gat_state_to_pyg`).
Layers are also initialized as theirs: with the same seed, all three backends start from the
same weights.

The input is any node-input module (a ``TTEmbedding``, an ``nn.Embedding``, ``NodeFeatures``).

Example:
    >>> model = build_model("sage", torch.nn.Embedding(10, 8), 8, 16, 3)
    >>> [type(layer).__name__ for layer in model.layers]
    ['SAGEConv', 'SAGEConv']
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch_geometric.nn import GATConv as PygGATConv
from torch_geometric.nn import SAGEConv as PygSAGEConv

from tt_gnn.gnn import layers as native
from tt_gnn.gnn.blocks import Block
from tt_gnn.gnn.classifier import MODEL_NAMES, GATBase, GraphSAGEBase, LayerFactory, ModelFamily

__all__ = [
    "PygLayers",
    "GraphSAGE",
    "GAT",
    "MODELS",
    "build_model",
    "state_to_pyg",
    "state_from_pyg",
    "MODEL_NAMES",
]


def _initialized_like_native(
    make_layer: Callable[[], nn.Module],
    make_native: Callable[[], nn.Module],
    to_pyg: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]],
) -> nn.Module:
    """A PyG layer holding the weights a torch-native (= DGL) layer draws at this point of the
    global random stream; the PyG layer's own initialization does not advance the stream."""
    with torch.random.fork_rng(devices=[]):
        layer = make_layer()
    layer.load_state_dict(to_pyg(make_native().state_dict()))
    return layer


class PygLayers(LayerFactory):
    """``torch_geometric.nn.SAGEConv`` (mean) and ``GATConv`` (``concat=True``,
    ``add_self_loops=False``), initialized as the torch-native layers and fed each
    :class:`~tt_gnn.gnn.blocks.Block` as a bipartite graph.

    Example:
        >>> PygLayers().gat(8, 3, 2, 0.0)
        GATConv(8, 3, heads=2)
    """

    def sage(self, in_width: int, out_width: int) -> nn.Module:
        return _initialized_like_native(
            lambda: PygSAGEConv(in_width, out_width, aggr="mean"),
            lambda: native.SAGEConv(in_width, out_width),
            native.sage_state_to_pyg,
        )

    def gat(
        self, in_width: int, head_width: int, heads: int, attention_dropout: float
    ) -> nn.Module:
        return _initialized_like_native(
            lambda: PygGATConv(
                in_width,
                head_width,
                heads=heads,
                concat=True,
                dropout=attention_dropout,
                add_self_loops=False,
            ),
            lambda: native.GATConv(
                in_width, head_width, heads, attention_dropout=attention_dropout
            ),
            native.gat_state_to_pyg,
        )

    def convolve(self, layer: nn.Module, block: Block, h: torch.Tensor) -> torch.Tensor:
        return layer(
            (h, h[: block.num_dst]), block.edge_index(), size=(block.num_src, block.num_dst)
        )


class GraphSAGE(GraphSAGEBase):
    """GraphSAGE (``torch_geometric.nn.SAGEConv``, mean) on an embedding/feature input;
    arguments and shapes as :class:`~tt_gnn.gnn.classifier.GraphSAGEBase`.

    Example:
        >>> model = GraphSAGE(torch.nn.Embedding(10, 8), 8, 16, 3, num_layers=2)
        >>> model.layers[0]
        SAGEConv(8, 16, aggr=mean)
    """

    layer_factory = PygLayers()


class GAT(GATBase):
    """GAT (``torch_geometric.nn.GATConv``) on an embedding/feature input; arguments and
    shapes as :class:`~tt_gnn.gnn.classifier.GATBase`.

    Example:
        >>> model = GAT(torch.nn.Embedding(10, 8), 8, 4, 3, heads=2)
        >>> model.layers[1]
        GATConv(8, 3, heads=2)
    """

    layer_factory = PygLayers()


MODELS = ModelFamily(GraphSAGE, GAT)

build_model = MODELS.build
"""Build ``"sage"`` (:class:`GraphSAGE`) or ``"gat"`` (:class:`GAT`) by name (see
:meth:`~tt_gnn.gnn.classifier.ModelFamily.build`)."""


_LAYER_TRANSLATIONS = {
    "sage": (native.sage_state_to_pyg, native.sage_state_from_pyg),
    "gat": (native.gat_state_to_pyg, native.gat_state_from_pyg),
}


def _translate_layers(
    state: dict[str, torch.Tensor], model: str, direction: int
) -> dict[str, torch.Tensor]:
    if model not in _LAYER_TRANSLATIONS:
        raise ValueError(f"unknown model {model!r}; expected one of {MODEL_NAMES}")
    translate = _LAYER_TRANSLATIONS[model][direction]
    result: dict[str, torch.Tensor] = {}
    layer_states: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if key.startswith("layers."):
            index, name = key[len("layers.") :].split(".", 1)
            layer_states.setdefault(index, {})[name] = value
        else:
            result[key] = value
    for index, layer_state in layer_states.items():
        for name, value in translate(layer_state).items():
            result[f"layers.{index}.{name}"] = value
    return result


def state_to_pyg(state: dict[str, torch.Tensor], model: str) -> dict[str, torch.Tensor]:
    """A torch-native or DGL classifier's state dict for the PyG classifier ``model``.

    Layer parameters (``layers.<i>.*``) are renamed; everything else (``node_input.*``) is
    kept.

    Example:
        >>> from tt_gnn.gnn.models import build_model as build_native
        >>> native_model = build_native("sage", torch.nn.Embedding(10, 8), 8, 4, 3)
        >>> pyg_model = build_model("sage", torch.nn.Embedding(10, 8), 8, 4, 3)
        >>> pyg_model.load_state_dict(state_to_pyg(native_model.state_dict(), "sage"))
        <All keys matched successfully>
    """
    return _translate_layers(state, model, 0)


def state_from_pyg(state: dict[str, torch.Tensor], model: str) -> dict[str, torch.Tensor]:
    """Inverse of :func:`state_to_pyg`: a PyG classifier's state dict for the torch-native
    (or DGL) classifier ``model``.

    Example:
        >>> pyg_model = build_model("gat", torch.nn.Embedding(10, 8), 8, 4, 3, heads=2)
        >>> sorted(state_from_pyg(pyg_model.state_dict(), "gat"))[:2]
        ['layers.0.attn_l', 'layers.0.attn_r']
    """
    return _translate_layers(state, model, 1)
