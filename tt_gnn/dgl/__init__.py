"""tt-gnn's door to DGL: the only package of tt-gnn that imports ``dgl``.

- :mod:`tt_gnn.dgl._compat`: makes ``import dgl`` work on current torch (GraphBolt placeholder);
- :mod:`tt_gnn.dgl.convert`: :class:`tt_gnn.graph.Graph` <-> ``DGLGraph`` and the DGL graph
  adapter (``reorder_graph`` and spectral init accept DGL graphs through it).

Everything else in tt-gnn that needs DGL imports it from here::

    from tt_gnn.dgl import dgl
"""

from tt_gnn.dgl._compat import dgl, graphbolt_available

__all__ = ["dgl", "graphbolt_available"]
