"""Loaders behind :func:`tt_gnn.data.load_dataset` (import from ``tt_gnn.data``).

- :mod:`~tt_gnn.datasets.base`: :class:`NodeDataset`, the type every loader returns.
- :mod:`~tt_gnn.datasets.common`: canonical undirected graphs, splits, label checks.
- :mod:`~tt_gnn.datasets.npz`: the shared ``graph.npz`` format and npz edge lists.
- :mod:`~tt_gnn.datasets.edge_list`: CSV edge lists and label files.
- :mod:`~tt_gnn.datasets.ogb`: OGB node-property datasets.
"""
