"""The ``>>>`` examples in the tt_gnn package's docstrings run and print what they claim."""

import doctest
import importlib
import pkgutil

import pytest

import tt_gnn

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(tt_gnn.__path__, prefix="tt_gnn.")
    if not info.name.startswith("tt_gnn.kernels.triton")  # their examples need CUDA
    and not info.name.endswith(".__main__")  # running it is the command itself
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
