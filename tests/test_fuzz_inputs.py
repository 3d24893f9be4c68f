"""Crafted inputs shared by the fuzz suites (``test_fuzz_cli.py``, ``test_fuzz_api.py``), and
the positive controls: the good files and the harmless variants (a BOM, a trailing comma, a
symbolic link) load to the same dataset, so the suites' errors come from the damage alone.

Everything is small and written under a pytest temporary folder: a 50-node two-class graph in
the shared ``graph.npz`` format (with masks and CSR features), CSV edge lists and label files,
and files that are damaged in every way the reliability report (issue 12) found or that we
thought of since. Malicious pickles would create ``PWNED`` beside them if anything unpickled
them with code execution; the suites assert it never appears.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from tt_gnn.data import load_dataset

NUM_NODES = 50
PWNED = "PWNED"


def tiny_arrays(num_nodes: int = NUM_NODES) -> dict[str, np.ndarray]:
    """A ``graph.npz``-format graph: two planted halves (the two classes), a public-style
    split of 10/10/20 labeled nodes, and 6 CSR features per node."""
    rng = np.random.default_rng(0)
    labels = (np.arange(num_nodes) >= num_nodes // 2).astype(np.int64)
    src = rng.integers(0, num_nodes, 4 * num_nodes)
    near = (src + rng.integers(1, 5, src.size)) % num_nodes
    dst = np.where(rng.random(src.size) < 0.9, near, rng.integers(0, num_nodes, src.size))
    half = num_nodes // 2
    train = np.zeros(num_nodes, dtype=bool)
    train[[0, 1, 2, 3, 4, half, half + 1, half + 2, half + 3, half + 4]] = True
    val = np.roll(train, 5)
    test = np.zeros(num_nodes, dtype=bool)
    test[10:20] = True
    test[half + 10 : half + 20] = True
    features = sp.csr_matrix(rng.random((num_nodes, 6)).astype(np.float32))
    return {
        "num_nodes": np.int64(num_nodes),
        "edges": np.stack([src, dst], axis=1).astype(np.int64),
        "labels": labels,
        "train_mask": train,
        "val_mask": val,
        "test_mask": test,
        "x_data": features.data,
        "x_indices": features.indices,
        "x_indptr": features.indptr,
        "x_shape": np.array(features.shape),
    }


class Malicious:
    """Unpickling this runs ``touch <folder>/PWNED``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __reduce__(self):
        return (os.system, (f"touch {self.folder / PWNED}",))


def object_array(folder: Path, shape: tuple[int, ...] = (1,)) -> np.ndarray:
    array = np.empty(shape, dtype=object)
    array.reshape(-1)[:] = [Malicious(folder)] * array.size
    return array


def npy_bytes(array: np.ndarray) -> bytes:
    stream = io.BytesIO()
    np.save(stream, array, allow_pickle=True)
    return stream.getvalue()


def write_npz(path: Path, **overrides: object) -> Path:
    """The tiny graph with ``overrides`` (None removes an array)."""
    arrays: dict[str, object] = dict(tiny_arrays())
    arrays.update(overrides)
    np.savez(path, **{key: value for key, value in arrays.items() if value is not None})
    return path


def flip_middle(data: bytes, count: int = 64) -> bytes:
    flipped = bytearray(data)
    middle = len(flipped) // 2
    for index in range(middle, middle + count):
        flipped[index] ^= 0xFF
    return bytes(flipped)


def build_files(root: Path) -> Path:
    """Write every crafted dataset, CSV and label file under ``root``; returns ``root``."""
    arrays = tiny_arrays()
    good = write_npz(root / "good.npz")
    raw = good.read_bytes()
    (root / "empty.npz").write_bytes(b"")
    (root / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    (root / "truncated_tail.npz").write_bytes(raw[:-10])
    (root / "garbage.npz").write_bytes(np.random.default_rng(1).bytes(3000))
    (root / "pickle.npz").write_bytes(pickle.dumps(Malicious(root)))
    (root / "npy_as.npz").write_bytes(npy_bytes(object_array(root)))
    write_npz(root / "object_extra.npz", extra=object_array(root))
    write_npz(root / "object_edges.npz", edges=object_array(root, (2, 2)))
    write_npz(root / "object_labels.npz", labels=object_array(root, (NUM_NODES,)))
    np.savez(root / "single.npz", edges=arrays["edges"])
    (root / "bad_crc.npz").write_bytes(flip_middle((root / "single.npz").read_bytes(), 8))
    with zipfile.ZipFile(root / "text_member.npz", "w") as archive:
        archive.writestr("edges.npy", b"just text, not an array")
    (root / "no_graph").mkdir()
    (root / "graph_is_dir" / "graph.npz").mkdir(parents=True)
    (root / "link.npz").symlink_to(good)
    (root / "dangling.npz").symlink_to(root / "nowhere.npz")
    os.mkfifo(root / "fifo.npz")

    labels = arrays["labels"]
    none = np.zeros(NUM_NODES, dtype=bool)
    unlabeled_train = labels.copy()
    unlabeled_train[arrays["train_mask"]] = -1
    uint64_edges = arrays["edges"].astype(np.uint64)
    uint64_edges[0, 0] = 2**63 + 5
    nan_features = arrays["x_data"].copy()
    nan_features[0] = np.nan
    npz_variants: dict[str, dict[str, object]] = {
        "no_edges": {"edges": None},
        "edges_float": {"edges": arrays["edges"].astype(np.float64)},
        "edges_1d": {"edges": arrays["edges"].reshape(-1)},
        "edges_3cols": {"edges": np.hstack([arrays["edges"], arrays["edges"][:, :1]])},
        "edges_bool": {"edges": arrays["edges"].astype(bool)},
        "edges_out_of_range": {"edges": np.vstack([arrays["edges"], [[3, 50]]])},
        "edges_negative": {"edges": np.vstack([arrays["edges"], [[-1, 3]]])},
        "edges_uint64": {"edges": uint64_edges},
        "labels_huge": {"labels": np.where(np.arange(NUM_NODES) == 0, 10**9, labels)},
        "labels_negative": {"labels": np.where(np.arange(NUM_NODES) == 3, -5, labels)},
        "labels_nan": {"labels": np.where(np.arange(NUM_NODES) == 3, np.nan, labels)},
        "labels_strings": {"labels": labels.astype(str)},
        "labels_short": {"labels": labels[:10]},
        "labels_2d_bad": {"labels": None, "labels_multi": np.full((NUM_NODES, 2), 2)},
        "no_labels": {"labels": None},
        "num_nodes_zero": {"num_nodes": np.int64(0)},
        "num_nodes_negative": {"num_nodes": np.int64(-5)},
        "num_nodes_float": {"num_nodes": np.float64(50.5)},
        "num_nodes_array": {"num_nodes": np.array([50])},
        "num_nodes_small": {"num_nodes": np.int64(10)},
        "train_empty": {"train_mask": none},
        "val_empty": {"val_mask": none},
        "test_empty": {"test_mask": none},
        "masks_empty": {"train_mask": none, "val_mask": none, "test_mask": none},
        "train_unlabeled": {"labels": unlabeled_train},
        "masks_int": {
            key: arrays[key].astype(np.int64) for key in ("train_mask", "val_mask", "test_mask")
        },  # fmt: skip
        "masks_short": {key: arrays[key][:10] for key in ("train_mask", "val_mask", "test_mask")},
        "only_train_mask": {"val_mask": None, "test_mask": None},
        "masks_3d": {
            key: arrays[key][None, None] for key in ("train_mask", "val_mask", "test_mask")
        },  # fmt: skip
        "features_nan": {"x_data": nan_features},
        "features_shape": {"x_shape": np.array([10, 6])},
        "features_shape_text": {"x_shape": np.array(["a", "b"])},
        "features_indptr": {"x_indptr": arrays["x_indptr"][::-1].copy()},
        "features_none": {"x_data": None, "x_indices": None, "x_indptr": None, "x_shape": None},
    }
    for name, overrides in npz_variants.items():
        write_npz(root / f"{name}.npz", **overrides)

    edges = arrays["edges"]
    body = "".join(f"{a},{b}\n" for a, b in edges)
    label_rows = "".join(f"{node},{label}\n" for node, label in enumerate(labels))
    texts = {
        "edges.csv": "src,dst\n" + body,
        "bom.csv": "\ufeffsrc,dst\n" + body,
        "bom_no_header.csv": "\ufeff" + body,
        "trailing_comma.csv": "".join(f"{a},{b},\n" for a, b in edges),
        "float_ids.csv": "".join(f"{a}.0,{b}.0\n" for a, b in edges),
        "exponent_ids.csv": "".join(f"{a}e0,{b}\n" for a, b in edges),
        "empty.csv": "",
        "comments.csv": "# nothing\n# here\n",
        "header_wrong.csv": "source,target\n" + body,
        "tabs.csv": "".join(f"{a}\t{b}\n" for a, b in edges),
        "short_row.csv": body + "17\n",
        "empty_field.csv": body + "3,\n",
        "negative.csv": body + "-4,5\n",
        "beyond_int64.csv": body + "0,99999999999999999999\n",
        "huge_id.csv": body + f"0,{10**15}\n",
        "labels.csv": "node,label\n" + label_rows,
        "labels_dup.csv": "node,label\n" + label_rows + "3,1\n",
        "labels_negative.csv": "node,label\n" + label_rows.replace("5,0\n", "5,-5\n", 1),
        "labels_huge.csv": "node,label\n" + label_rows.replace("5,0\n", "5,1000000000\n", 1),
        "labels_float.csv": "node,label\n" + label_rows.replace("5,0\n", "5,0.5\n", 1),
        "labels_header.csv": "id,class\n" + label_rows,
    }
    for name, text in texts.items():
        (root / name).write_text(text, encoding="utf-8")
    (root / "latin1.csv").write_bytes(body[:40].encode() + b"\xff\xfe garbage \x80\n")
    np.save(root / "labels.npy", labels)
    np.save(root / "labels_short.npy", labels[:10])
    np.save(root / "labels_nan.npy", np.where(np.arange(NUM_NODES) == 0, np.nan, labels))
    (root / "labels_pickle.npy").write_bytes(npy_bytes(object_array(root, (NUM_NODES,))))
    (root / "labels_garbage.npy").write_bytes(np.random.default_rng(2).bytes(100))
    (root / "labels_empty.npy").write_bytes(b"")
    (root / "a_file").write_text("not a folder")
    return root


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_files(tmp_path_factory.mktemp("fuzz_inputs"))


def _same_dataset(first, second) -> None:
    assert first.num_nodes == second.num_nodes and first.num_classes == second.num_classes
    assert torch.equal(first.labels, second.labels)
    assert torch.equal(first.graph.indptr, second.graph.indptr)
    assert torch.equal(first.graph.indices, second.graph.indices)
    for split in ("train_idx", "val_idx", "test_idx"):
        assert torch.equal(getattr(first, split), getattr(second, split))


def test_the_tiny_graph_loads_with_its_split_and_features(files: Path) -> None:
    dataset = load_dataset(files / "good.npz", use_features=True)
    arrays = tiny_arrays()
    assert (dataset.num_nodes, dataset.num_classes) == (NUM_NODES, 2)
    assert dataset.train_idx.tolist() == np.flatnonzero(arrays["train_mask"]).tolist()
    assert dataset.features is not None and dataset.features.shape == (NUM_NODES, 6)
    assert not (files / PWNED).exists()


@pytest.mark.parametrize(
    "variant", ["bom.csv", "bom_no_header.csv", "trailing_comma.csv", "edges.csv"]
)
def test_harmless_csv_variants_load_like_the_plain_csv(files: Path, variant: str) -> None:
    """A UTF-8 byte-order mark (Excel) and a trailing comma (an empty extra column, ignored
    like any column after src,dst) change nothing."""
    reference = load_dataset(files / "edges.csv", labels=files / "labels.csv")
    _same_dataset(load_dataset(files / variant, labels=files / "labels.csv"), reference)
    _same_dataset(load_dataset(files / variant, labels=files / "labels.npy"), reference)


def test_a_symbolic_link_to_a_dataset_loads_it(files: Path) -> None:
    _same_dataset(load_dataset(files / "link.npz"), load_dataset(files / "good.npz"))
