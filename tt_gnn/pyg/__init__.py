"""tt-gnn's door to PyG: the only package of tt-gnn that imports ``torch_geometric``.

- :mod:`tt_gnn.pyg.convert`: :class:`tt_gnn.graph.Graph` <-> ``torch_geometric.data.Data`` and
  the PyG graph adapter (``reorder_graph`` and spectral init accept a ``Data`` through it);
- :mod:`tt_gnn.pyg.models`: GraphSAGE and GAT from ``torch_geometric.nn`` layers, on the
  torch-native sampler's blocks;
- :mod:`tt_gnn.pyg.backend`: the ``"pyg"`` graph backend.

A ``TTEmbedding`` needs none of this to be used in a PyG model: it is a ``torch.nn.Module``
mapping node ids to rows, so ``conv(embedding(torch.arange(N)), data.edge_index)`` works.
"""

from tt_gnn.pyg.convert import from_pyg, to_pyg

__all__ = ["to_pyg", "from_pyg"]
