import numpy as np
import pytest

from tt_gnn.synthetic import planted_partition_graph


def test_edges_are_canonical_and_mostly_inside_communities():
    graph = planted_partition_graph(3000, 30, average_degree=10, mixing=0.2, seed=1)
    assert np.all(graph.src < graph.dst)
    keys = graph.src * graph.num_nodes + graph.dst
    assert np.unique(keys).size == keys.size  # no duplicates
    inside = (graph.community[graph.src] == graph.community[graph.dst]).mean()
    assert 0.7 < inside < 0.9  # 80% of draws stay inside, a few % of outside draws land inside
    assert graph.labels.shape == (3000,) and graph.labels.max() < 30


def test_seeded_and_degenerate_sizes():
    first = planted_partition_graph(500, 5, seed=3)
    again = planted_partition_graph(500, 5, seed=3)
    assert np.array_equal(first.src, again.src) and np.array_equal(first.dst, again.dst)
    empty = planted_partition_graph(10, 2, average_degree=0)
    assert empty.num_edges == 0 and empty.src.dtype == np.int64


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_nodes=0, num_communities=1), "num_nodes"),
        (dict(num_nodes=5, num_communities=6), "num_communities"),
        (dict(num_nodes=5, num_communities=2, mixing=1.5), "mixing"),
        (dict(num_nodes=5, num_communities=2, average_degree=-1), "average_degree"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        planted_partition_graph(**kwargs)
