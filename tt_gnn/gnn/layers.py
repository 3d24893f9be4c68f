r"""GraphSAGE (mean) and GAT convolutions on a :class:`~tt_gnn.gnn.blocks.Block`, in plain torch.

Messages are gathered per edge (``index_select``) and summed per destination with
``index_add_``; GAT's edge softmax subtracts each destination's maximum score
(``scatter_reduce`` ``amax``) before exponentiating. Both run on CPU and CUDA with no extension.

Parameters carry the names and shapes of DGL's ``SAGEConv``/``GATConv`` (``fc_self``,
``fc_neigh``; ``fc``, ``attn_l``, ``attn_r``, ``bias``) and are initialized the same way, so a
state dict moves between these layers and DGL's unchanged; the ``*_state_from_pyg`` /
``*_state_to_pyg`` functions translate to and from PyG's ``SAGEConv``/``GATConv`` names (used by
:mod:`tt_gnn.pyg` and by the equivalence tests). They are pure functions on state dicts, so this
module imports neither framework.

Example:
    >>> from tt_gnn.gnn.blocks import Block
    >>> block = Block(torch.arange(3), torch.tensor([1, 2]), torch.tensor([0, 0]), 1)
    >>> h = torch.randn(3, 4)
    >>> SAGEConv(4, 2)(block, h).shape, GATConv(4, 2, num_heads=3)(block, h).shape
    (torch.Size([1, 2]), torch.Size([1, 3, 2]))
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tt_gnn.checks import positive_int, probability
from tt_gnn.gnn.blocks import Block

__all__ = [
    "SAGEConv",
    "GATConv",
    "segment_softmax",
    "sage_state_to_pyg",
    "sage_state_from_pyg",
    "gat_state_to_pyg",
    "gat_state_from_pyg",
]


def _sum_into_destinations(block: Block, messages: torch.Tensor) -> torch.Tensor:
    """``out[v] = sum of messages[e] over edges e into v``: ``[E, ...] -> [num_dst, ...]``."""
    out = messages.new_zeros((block.num_dst, *messages.shape[1:]))
    return out.index_add_(0, block.dst, messages)


def segment_softmax(
    scores: torch.Tensor, segments: torch.Tensor, num_segments: int
) -> torch.Tensor:
    """Softmax of ``scores`` over the entries of each segment (edges into each destination).

    Shapes:
        scores: ``[E, H]``; segments: int64 ``[E]`` in ``[0, num_segments)``. Output: ``[E, H]``,
        summing to 1 over each non-empty segment.

    Example:
        >>> segment_softmax(torch.tensor([[0.0], [0.0], [5.0]]), torch.tensor([0, 0, 1]), 2)
        tensor([[0.5000],
                [0.5000],
                [1.0000]])
    """
    index = segments.unsqueeze(1).expand_as(scores)
    maxima = scores.new_full((num_segments, scores.shape[1]), -math.inf)
    # Shifting by the (constant) maximum does not change the softmax or its gradient.
    maxima = maxima.scatter_reduce(0, index, scores.detach(), "amax", include_self=False)
    exponentials = torch.exp(scores - torch.index_select(maxima, 0, segments))
    totals = scores.new_zeros((num_segments, scores.shape[1])).index_add_(0, segments, exponentials)
    return exponentials / torch.index_select(totals, 0, segments)


class SAGEConv(nn.Module):
    r"""GraphSAGE convolution with the mean aggregator.

    .. math::
        h_v' = W_{self} h_v + b + W_{neigh} \frac{1}{|N(v)|} \sum_{u \in N(v)} h_u

    A destination without in-edges gets a zero neighbour term. When ``in_features >
    out_features`` the neighbour projection runs before aggregation (fewer values to move).

    Args:
        in_features: input width.
        out_features: output width.

    Shapes:
        block: a :class:`Block`; h: ``[num_src, in_features]``. Output:
        ``[num_dst, out_features]``.

    Example:
        >>> layer = SAGEConv(8, 4)
        >>> sorted(name for name, _ in layer.named_parameters())
        ['fc_neigh.weight', 'fc_self.bias', 'fc_self.weight']
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features = positive_int(in_features, "in_features")
        self.out_features = positive_int(out_features, "out_features")
        # Created and initialized in DGL's order, so the same seed gives DGL's weights.
        self.fc_neigh = nn.Linear(in_features, out_features, bias=False)
        self.fc_self = nn.Linear(in_features, out_features, bias=True)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform weights with ReLU gain (as DGL); the bias keeps ``nn.Linear``'s."""
        gain = nn.init.calculate_gain("relu")
        nn.init.xavier_uniform_(self.fc_self.weight, gain=gain)
        nn.init.xavier_uniform_(self.fc_neigh.weight, gain=gain)

    def forward(self, block: Block, h: torch.Tensor) -> torch.Tensor:
        project_first = self.in_features > self.out_features
        values = self.fc_neigh(h) if project_first else h
        messages = torch.index_select(values, 0, block.src)
        degrees = block.in_degrees().clamp(min=1).to(values.dtype).unsqueeze(1)
        neighbors = _sum_into_destinations(block, messages) / degrees
        if not project_first:
            neighbors = self.fc_neigh(neighbors)
        own = h[: block.num_dst]
        if not project_first and block.num_dst < h.shape[0]:
            # A copy: fc_self saves its input for the weight gradient, and a view would keep
            # all of h (e.g. 614k dropped-out input rows where num_dst is 61k) until backward.
            own = own.clone()
        return self.fc_self(own) + neighbors

    def __repr__(self) -> str:
        return f"SAGEConv({self.in_features}, {self.out_features}, aggregator='mean')"


class GATConv(nn.Module):
    r"""Graph attention convolution (Velickovic et al.), multi-head.

    .. math::
        z_u = W h_u,\quad
        \alpha_{uv} = \mathrm{softmax}_{u \in N(v)}\big(\mathrm{LeakyReLU}_{0.2}
            (a_l^\top z_u + a_r^\top z_v)\big),\quad
        h_v' = \sum_{u \in N(v)} \alpha_{uv} z_u + b

    per head. A destination without in-edges gets ``b`` (a zero message sum), as DGL's
    ``allow_zero_in_degree=True``; add self-loops to let every node attend to itself.

    Args:
        in_features: input width.
        out_features: width per head.
        num_heads: heads ``H``.
        attention_dropout: dropout on the attention coefficients (default 0).
        negative_slope: of the LeakyReLU (default 0.2).

    Shapes:
        block: a :class:`Block`; h: ``[num_src, in_features]``. Output:
        ``[num_dst, H, out_features]``.

    Example:
        >>> layer = GATConv(8, 4, num_heads=2)
        >>> [(name, tuple(p.shape)) for name, p in layer.named_parameters()]
        [('attn_l', (1, 2, 4)), ('attn_r', (1, 2, 4)), ('bias', (8,)), ('fc.weight', (8, 8))]
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        num_heads: int,
        *,
        attention_dropout: float = 0.0,
        negative_slope: float = 0.2,
    ) -> None:
        super().__init__()
        self.in_features = positive_int(in_features, "in_features")
        self.out_features = positive_int(out_features, "out_features")
        self.num_heads = positive_int(num_heads, "num_heads")
        self.negative_slope = float(negative_slope)
        # Created and initialized in DGL's order, so the same seed gives DGL's weights.
        self.fc = nn.Linear(in_features, num_heads * out_features, bias=False)
        self.attn_l = nn.Parameter(torch.empty(1, num_heads, out_features))
        self.attn_r = nn.Parameter(torch.empty(1, num_heads, out_features))
        self.bias = nn.Parameter(torch.empty(num_heads * out_features))
        self.attention_dropout = nn.Dropout(
            probability(attention_dropout, "attention_dropout", allow_one=False)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-normal weights and attention vectors with ReLU gain, zero bias (as DGL)."""
        gain = nn.init.calculate_gain("relu")
        nn.init.xavier_normal_(self.fc.weight, gain=gain)
        nn.init.xavier_normal_(self.attn_l, gain=gain)
        nn.init.xavier_normal_(self.attn_r, gain=gain)
        nn.init.zeros_(self.bias)

    def forward(self, block: Block, h: torch.Tensor) -> torch.Tensor:
        heads, width = self.num_heads, self.out_features
        projected = self.fc(h).view(-1, heads, width)
        # a . (W h) = (W^T a) . h: fold the attention vectors into the weight, [in, H], instead
        # of multiplying the [num_src, H, width] projection elementwise.
        weight = self.fc.weight.view(heads, width, self.in_features)
        source_scores = h @ torch.einsum("hwi,hw->ih", weight, self.attn_l[0])
        destination_scores = h[: block.num_dst] @ torch.einsum("hwi,hw->ih", weight, self.attn_r[0])
        scores = nn.functional.leaky_relu(
            torch.index_select(source_scores, 0, block.src)
            + torch.index_select(destination_scores, 0, block.dst),
            self.negative_slope,
        )
        attention = self.attention_dropout(segment_softmax(scores, block.dst, block.num_dst))
        messages = torch.index_select(projected, 0, block.src) * attention.unsqueeze(-1)
        return _sum_into_destinations(block, messages) + self.bias.view(heads, width)

    def __repr__(self) -> str:
        return f"GATConv({self.in_features}, {self.out_features}, num_heads={self.num_heads})"


def sage_state_to_pyg(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A :class:`SAGEConv` (or DGL ``SAGEConv``, mean) state dict in PyG ``SAGEConv`` names.

    PyG's ``lin_l`` is the neighbour projection and carries the bias; ``lin_r`` is the root
    (self) projection.

    Example:
        >>> sorted(sage_state_to_pyg(SAGEConv(3, 2).state_dict()))
        ['lin_l.bias', 'lin_l.weight', 'lin_r.weight']
    """
    return {
        "lin_l.weight": state["fc_neigh.weight"],
        "lin_l.bias": state["fc_self.bias"],
        "lin_r.weight": state["fc_self.weight"],
    }


def sage_state_from_pyg(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`sage_state_to_pyg` (a PyG ``SAGEConv(aggr="mean")`` with
    ``root_weight=True`` and a bias).

    Example:
        >>> state = SAGEConv(3, 2).state_dict()
        >>> back = sage_state_from_pyg(sage_state_to_pyg(state))
        >>> all(torch.equal(state[name], value) for name, value in back.items())
        True
    """
    return {
        "fc_neigh.weight": state["lin_l.weight"],
        "fc_self.bias": state["lin_l.bias"],
        "fc_self.weight": state["lin_r.weight"],
    }


def gat_state_to_pyg(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A :class:`GATConv` (or DGL ``GATConv``) state dict in PyG ``GATConv`` names.

    For a PyG ``GATConv(..., concat=True)``: ``lin.weight``, ``att_src``, ``att_dst`` and the
    per-head ``bias`` ``[H * out]`` have the same shapes.

    Example:
        >>> sorted(gat_state_to_pyg(GATConv(3, 2, 2).state_dict()))
        ['att_dst', 'att_src', 'bias', 'lin.weight']
    """
    return {
        "lin.weight": state["fc.weight"],
        "att_src": state["attn_l"],
        "att_dst": state["attn_r"],
        "bias": state["bias"],
    }


def gat_state_from_pyg(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`gat_state_to_pyg` (a PyG ``GATConv`` with one shared ``lin``,
    ``concat=True`` and a bias).

    Example:
        >>> state = GATConv(3, 2, 2).state_dict()
        >>> back = gat_state_from_pyg(gat_state_to_pyg(state))
        >>> all(torch.equal(state[name], value) for name, value in back.items())
        True
    """
    return {
        "fc.weight": state["lin.weight"],
        "attn_l": state["att_src"],
        "attn_r": state["att_dst"],
        "bias": state["bias"],
    }
