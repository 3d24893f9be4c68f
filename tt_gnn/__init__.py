"""tt-gnn: Tensor-Train compressed node embeddings for graph neural networks."""

from tt_gnn.embedding import TTEmbedding
from tt_gnn.reorder import ReorderReport, reorder_graph
from tt_gnn.shapes import TTShapes, choose_shapes

__version__ = "0.1.0"

__all__ = [
    "ReorderReport",
    "TTEmbedding",
    "TTShapes",
    "reorder_graph",
    "choose_shapes",
    "__version__",
]
