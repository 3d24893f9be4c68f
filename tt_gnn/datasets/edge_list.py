"""CSV edge lists and label files, with errors that name the file, line and field."""

from __future__ import annotations

import gzip
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tt_gnn.checks import positive_int
from tt_gnn.datasets.base import NodeDataset
from tt_gnn.datasets.common import (
    DEFAULT_SPLIT_FRACTIONS,
    LOADER_BYTES_PER_NODE,
    check_fractions,
    check_node_count,
    check_regular_file,
    fraction_text,
    labeled_nodes,
    labels_tensor,
    make_graph,
    random_split,
    reject_options,
)

_INTEGER_FIELD = re.compile(r"[+-]?\d+")
_NUMBER_FIELD = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(nan|inf)", re.IGNORECASE)
# "utf-8-sig" reads UTF-8 and drops the byte-order mark that Excel and Notepad write first.
_ENCODING = "utf-8-sig"
_INT64_MAX = int(np.iinfo(np.int64).max)


def finish_labels(
    values: Any, source: str, num_nodes: int | None, largest_edge_id: int, edges_source: str
) -> tuple[torch.Tensor, bool, int]:
    """Labels as a tensor of ``num_nodes`` rows (default: the label count, or for a
    ``node,label`` CSV one past the largest id in edges and labels)."""
    if isinstance(values, SparseLabels):
        if num_nodes is None:
            largest_label_node = int(values.nodes.max(initial=-1))
            num_nodes = max(largest_edge_id, largest_label_node) + 1
            where = edges_source if largest_edge_id >= largest_label_node else str(values.path)
            description = f"{where}: node id {num_nodes - 1} (ids must be 0..N-1)"
        else:
            description = f"num_nodes={num_nodes}"
        check_node_count(num_nodes, LOADER_BYTES_PER_NODE, description)
        return values.to_tensor(num_nodes)
    labels, multilabel, num_classes = labels_tensor(values, source)
    if num_nodes is not None and labels.shape[0] != num_nodes:
        raise ValueError(
            f"{source}: labels have {labels.shape[0]} entries but the graph has {num_nodes} nodes"
        )
    return labels, multilabel, num_classes


def _strip_comment(line: str) -> str:
    return line.split("#", 1)[0].strip()


def _numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, content without comment)`` for every line; ``.gz`` files are
    decompressed; text that is not UTF-8 is a ``ValueError`` naming the file and byte."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding=_ENCODING) as handle:
            for line_number, line in enumerate(handle, start=1):
                yield line_number, _strip_comment(line)
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as error:
        raise ValueError(f"{path}: not a UTF-8 text file ({error})") from error


@dataclass
class _CsvLayout:
    """Where the two integer columns of a CSV file are."""

    path: Path
    columns: tuple[str, str]
    positions: tuple[int, int]
    header_line: int  # 1-based line of the header, 0 when there is none


def _csv_layout(path: Path, columns: tuple[str, str]) -> _CsvLayout:
    """Detect an optional header naming ``columns``; without one the first two columns hold them."""
    line_number, content = next(((n, c) for n, c in _numbered_lines(path) if c), (0, ""))
    if not content:
        raise ValueError(f"{path}: file is empty (expected {','.join(columns)} rows)")
    fields = [text.strip() for text in content.split(",")]
    if all(not text or _NUMBER_FIELD.fullmatch(text) for text in fields):
        # numbers (or empty fields) only: a data row, no header; _scan_csv reports bad fields
        return _CsvLayout(path, columns, (0, 1), 0)
    names = [text.lower() for text in fields]
    missing = [column for column in columns if column not in names]
    if missing:
        hint = " (is the file comma-separated?)" if len(fields) == 1 else ""
        raise ValueError(
            f"{path}, line {line_number}: header {fields} lacks column(s) {missing}{hint}; "
            f"expected a header naming {list(columns)}, or no header (then the first two "
            f"columns are {','.join(columns)})"
        )
    return _CsvLayout(
        path, columns, (names.index(columns[0]), names.index(columns[1])), line_number
    )


def _data_rows(layout: _CsvLayout):
    """Yield ``(line_number, content, fields)`` for every data row (blank/comment lines and
    the header skipped)."""
    for line_number, content in _numbered_lines(layout.path):
        if content and line_number != layout.header_line:
            yield line_number, content, [text.strip() for text in content.split(",")]


def _scan_csv(
    layout: _CsvLayout, id_columns: tuple[str, ...], id_limit: int | None, limit_reason: str
) -> None:
    """Walk the file line by line and raise ``ValueError`` at the first malformed row: too
    few fields, a non-integer, or a node id (in ``id_columns``) negative or >= ``id_limit``."""
    needed = max(layout.positions) + 1
    for line_number, content, fields in _data_rows(layout):
        where = f"{layout.path}, line {line_number}"
        if len(fields) < needed:
            raise ValueError(
                f"{where}: expected at least {needed} comma-separated fields "
                f"({','.join(layout.columns)}), got {len(fields)}: {content!r}"
            )
        for position, column in zip(layout.positions, layout.columns, strict=True):
            text = fields[position]
            if not _INTEGER_FIELD.fullmatch(text):
                what = (
                    "a number with a fraction or exponent"
                    if _NUMBER_FIELD.fullmatch(text)
                    else ("empty" if not text else "not a number")
                )
                raise ValueError(
                    f"{where}, field {column!r}: {text!r} is not an integer ({what}; ids and "
                    "labels are written as integers such as 42)"
                )
            value = int(text)
            if abs(value) > _INT64_MAX:
                raise ValueError(f"{where}, field {column!r}: {value} is larger than int64 allows")
            if column in id_columns:
                if value < 0:
                    raise ValueError(f"{where}, field {column!r}: negative node id {value}")
                if id_limit is not None and value >= id_limit:
                    raise ValueError(
                        f"{where}, field {column!r}: node id {value} out of range "
                        f"0..{id_limit - 1} ({limit_reason})"
                    )


def _read_two_int_columns(
    path: Path,
    columns: tuple[str, str],
    id_limit: int | None = None,
    limit_reason: str = "",
) -> tuple[np.ndarray, np.ndarray]:
    """Read two integer columns; ids (``src``/``dst`` or ``node``) must be in ``0..id_limit-1``.

    Parsed with ``np.loadtxt``; on any problem the file is re-walked line by line to report
    the exact line and field.
    """
    layout = _csv_layout(path, columns)
    id_columns = ("node",) if columns[0] == "node" else columns
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
            table = np.loadtxt(
                path,
                delimiter=",",
                comments="#",
                dtype=np.int64,
                skiprows=layout.header_line,
                usecols=layout.positions,
                ndmin=2,
                encoding=_ENCODING,
            )
    except ValueError as error:
        _scan_csv(layout, id_columns, id_limit, limit_reason)
        raise ValueError(
            f"{path}: cannot parse as {','.join(columns)} integers: {error}"
        ) from error
    first, second = table[:, 0].copy(), table[:, 1].copy()
    for values in [first, second] if len(id_columns) == 2 else [first]:
        too_large = id_limit is not None and values.size and int(values.max()) >= id_limit
        if values.size and (int(values.min()) < 0 or too_large):
            _scan_csv(layout, id_columns, id_limit, limit_reason)
    return first, second


def read_edge_list_csv(
    path: str | os.PathLike, num_nodes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read a CSV edge list: ``src,dst`` per line; header optional; ``#`` starts a comment.

    A header, when present, must name the columns ``src`` and ``dst`` (in any position; other
    columns are ignored). Without a header the first two columns are ``src, dst``.

    Args:
        path: the CSV file.
        num_nodes: when given, every id must be in ``0..num_nodes-1``.

    Returns:
        int64 ``src, dst`` arrays ``[E]``.

    Raises:
        ValueError: naming the file, the line and the field: missing columns, a non-integer
            field, a negative or out-of-range id.

    Example:
        >>> src, dst = read_edge_list_csv("edges.csv")  # doctest: +SKIP
    """
    return _read_two_int_columns(Path(path), ("src", "dst"), num_nodes, f"num_nodes={num_nodes}")


class SparseLabels:
    """Labels read from a ``node,label`` CSV, before the node count is known.

    Attributes:
        path: the CSV file (for error messages).
        nodes, values: int64 ``[L]`` node ids (distinct, >= 0) and their labels (>= -1).

    Example:
        >>> labels = SparseLabels(Path("l.csv"), np.array([2]), np.array([1]))
        >>> labels.to_tensor(3)[0].tolist()
        [-1, -1, 1]
    """

    def __init__(self, path: Path, nodes: np.ndarray, values: np.ndarray):
        self.path, self.nodes, self.values = path, nodes, values

    def to_tensor(self, num_nodes: int) -> tuple[torch.Tensor, bool, int]:
        """``(labels [num_nodes], False, num_classes)``; nodes not listed get -1."""
        if self.nodes.size and int(self.nodes.max()) >= num_nodes:
            layout = _csv_layout(self.path, ("node", "label"))
            _scan_csv(layout, ("node",), num_nodes, f"the graph has {num_nodes} nodes")
        if self.values.size and int(self.values.max()) >= num_nodes:
            row = int(np.argmax(self.values))
            line = _line_of_row(_csv_layout(self.path, ("node", "label")), row)
            raise ValueError(
                f"{self.path}, line {line}, field 'label': {int(self.values[row])} is not a class "
                f"id in 0..{num_nodes - 1} (below the node count {num_nodes}) or -1 for unknown; "
                "relabel the classes to 0..C-1"
            )
        labels = np.full(num_nodes, -1, dtype=np.int64)
        labels[self.nodes] = self.values
        return labels_tensor(labels, str(self.path))


def read_labels_file(path: str | os.PathLike) -> np.ndarray | SparseLabels:
    """Read labels from ``.npy`` (int ``[N]`` or 0/1 ``[N, C]``) or a ``node,label`` CSV.

    In a CSV, a header is optional (if present it must name ``node`` and ``label``); each node
    may appear once; nodes that do not appear get the unknown label ``-1``; labels are class ids
    ``>= 0`` (``-1`` allowed for unknown).

    Raises:
        ValueError: naming the file and line: non-integer fields, negative ids, duplicate nodes,
            labels below -1.

    Example:
        >>> labels = read_labels_file("labels.npy")  # doctest: +SKIP
    """
    path = Path(path).expanduser()
    check_regular_file(path, "labels file")
    if path.suffix == ".npy":
        return _read_npy(path)
    nodes, values = _read_two_int_columns(path, ("node", "label"))
    layout = _csv_layout(path, ("node", "label"))
    unique_nodes, counts = np.unique(nodes, return_counts=True)
    if unique_nodes.size != nodes.size:
        duplicate = int(unique_nodes[np.argmax(counts > 1)])
        line = _line_of_row(layout, int(np.flatnonzero(nodes == duplicate)[1]))
        raise ValueError(f"{path}, line {line}, field 'node': node {duplicate} is listed twice")
    if values.size and int(values.min()) < -1:
        line = _line_of_row(layout, int(np.argmin(values)))
        raise ValueError(
            f"{path}, line {line}, field 'label': {int(values.min())} is not a class id >= 0 "
            "(or -1 for unknown)"
        )
    return SparseLabels(path, nodes, values)


def _read_npy(path: Path) -> np.ndarray:
    """An ``.npy`` array, never unpickled; unreadable files are a ``ValueError`` naming them."""
    with open(path, "rb") as stream:
        head = stream.read(6)
    cannot = f"{path}: cannot read as .npy"
    if not head:
        raise ValueError(f"{cannot}: the file is empty")
    if head != b"\x93NUMPY":
        raise ValueError(f"{cannot}: not an .npy array file (first bytes {head[:4]!r})")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise ValueError(
                f"{cannot}: an object (pickled) array; tt-gnn reads numeric arrays only and "
                "never unpickles"
            ) from error
        raise ValueError(f"{cannot}: truncated or corrupt ({error})") from error
    except (OSError, EOFError) as error:
        raise ValueError(f"{cannot}: truncated or corrupt ({error})") from error


def _line_of_row(layout: _CsvLayout, row: int) -> int:
    """1-based line number of data row ``row`` (0-based)."""
    for index, (line_number, _, _) in enumerate(_data_rows(layout)):
        if index == row:
            return line_number
    raise IndexError(f"{layout.path} has no data row {row}")


def load_edge_list(
    path: Path, split: int, split_seed: int, use_features: bool, options: dict[str, Any]
) -> NodeDataset:
    """Load a CSV edge list with ``labels=<path>`` (see :func:`tt_gnn.data.load_dataset`).

    ``num_nodes`` is the ``num_nodes`` option, else the length of a ``.npy`` label array,
    else one past the largest id in the edges and the label CSV. The split is a seeded random
    split of the labeled nodes.

    Example:
        >>> options = {"labels": "labels.npy"}
        >>> dataset = load_edge_list(Path("edges.csv"), 0, 0, False, options)  # doctest: +SKIP
    """
    reject_options(options, ("labels", "num_nodes", "split_fractions"), f"edge list {path}")
    if options.get("labels") is None:
        raise ValueError(
            f"edge list {path} needs labels: pass labels=<path to a node,label CSV or .npy>"
        )
    if split != 0:
        raise ValueError(f"edge list {path} has no standard split; split={split} (use split_seed)")
    fractions = check_fractions(options.get("split_fractions", DEFAULT_SPLIT_FRACTIONS))
    labels_path = Path(options["labels"]).expanduser()
    label_values = read_labels_file(labels_path)
    num_nodes = options.get("num_nodes")
    if num_nodes is not None:
        num_nodes = positive_int(num_nodes, "num_nodes")
    id_limit, limit_reason = num_nodes, f"num_nodes={num_nodes}"
    if not isinstance(label_values, SparseLabels) and np.ndim(label_values) >= 1:
        label_count = int(np.shape(label_values)[0])
        if num_nodes is not None and label_count != num_nodes:
            raise ValueError(
                f"{labels_path}: labels have {label_count} entries but num_nodes={num_nodes}"
            )
        id_limit, limit_reason = label_count, f"{labels_path.name} has {label_count} labels"
    src, dst = _read_two_int_columns(path, ("src", "dst"), id_limit, limit_reason)
    largest_id = max(int(src.max(initial=-1)), int(dst.max(initial=-1)))
    labels, multilabel, num_classes = finish_labels(
        label_values, str(labels_path), num_nodes, largest_id, str(path)
    )
    num_nodes = labels.shape[0]
    labeled = labeled_nodes(labels, multilabel)
    train_idx, val_idx, test_idx = random_split(labeled, fractions=fractions, seed=split_seed)
    if use_features:
        warnings.warn(f"edge list {path} has no node features; features=None", stacklevel=3)
    what = "labeled nodes" if not bool(labeled.all()) else "nodes"
    name = path.name.removesuffix(".gz").removesuffix(".csv").removesuffix(".txt")
    return NodeDataset(
        name=name,
        graph=make_graph(src, dst, num_nodes),
        labels=labels,
        num_classes=num_classes,
        multilabel=multilabel,
        train_idx=train_idx,
        val_idx=val_idx,
        test_idx=test_idx,
        features=None,
        metric="micro_f1" if multilabel else "accuracy",
        split_description=f"random {fraction_text(fractions)} split of {what}, seed {split_seed}",
    )
