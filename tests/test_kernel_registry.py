"""The lookup-backend registry: resolution per device, errors, and TTEmbedding using it."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from tests.reference import dense_from_cores
from tt_gnn import TTEmbedding, kernels
from tt_gnn.kernels import registry
from tt_gnn.ops import tt_lookup


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the two built-in backends, during the test: what a test registers disappears after
    it (and leaves no cached resolution), and backends registered elsewhere do not interfere."""
    builtins = {name: registry._REGISTRY[name] for name in ("torch", "triton")}
    monkeypatch.setattr(registry, "_REGISTRY", builtins)
    monkeypatch.setattr(registry, "_AUTO_CACHE", {})


class RecordingLookup:
    """A fake backend: the torch lookup, recording each call's arguments."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, cores, ids, p_shapes, q_shapes, *, deterministic=False):
        self.calls.append(dict(ids=ids.tolist(), p_shapes=p_shapes, deterministic=deterministic))
        return tt_lookup(cores, ids, p_shapes, q_shapes)


def test_builtin_backends_and_auto_on_cpu_is_torch(isolated_registry):
    backends = kernels.lookup_backends()
    assert {"torch", "triton"} <= set(backends)
    assert backends["triton"].priority > backends["torch"].priority
    assert backends["triton"].auto_device_types == ("cuda",)
    # conftest sets TRITON_INTERPRET=1 without CUDA: triton could run here, yet "auto" on the
    # CPU must not pick the interpreter.
    assert kernels.resolve_lookup_backend("auto", "cpu").name == "torch"
    assert kernels.resolve_lookup_backend("torch", torch.device("cpu")).name == "torch"
    assert kernels.resolve_lookup_backend("auto", "cpu") is kernels.resolve_lookup_backend(
        "auto", torch.device("cpu")
    )


def test_unknown_name_lists_the_registered_backends(isolated_registry):
    with pytest.raises(ValueError, match=r"registered lookup backend \['torch', 'triton'\]"):
        kernels.resolve_lookup_backend("cuda", "cpu")
    with pytest.raises(ValueError, match=r"got 'nope'"):
        TTEmbedding(100, 8, backend="nope")


def test_unavailable_backend_says_why(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(RuntimeError, match=r"'triton' cannot run on cpu here: it needs .*CUDA"):
        kernels.resolve_lookup_backend("triton", "cpu")


def test_registered_fake_backend_is_used_by_ttembedding(isolated_registry):
    fake = RecordingLookup()
    kernels.register_lookup_backend(
        kernels.LookupBackend(
            name="fake",
            lookup=fake,
            available=kernels.available_on(("cpu",)),
            description="records calls",
        )
    )
    emb = TTEmbedding(100, 8, rank=3, seed=0, backend="fake", deterministic=True)
    ids = torch.tensor([[3, 99], [0, 3]])
    rows = emb(ids)
    assert fake.calls == [dict(ids=[3, 99, 0, 3], p_shapes=emb.p_shapes, deterministic=True)]
    dense = dense_from_cores([core.detach() for core in emb.cores])
    torch.testing.assert_close(rows.detach(), dense[ids])


def test_auto_prefers_priority_among_available_backends(isolated_registry):
    fast = RecordingLookup()
    kernels.register_lookup_backend(
        kernels.LookupBackend(
            name="fast_cpu",
            lookup=fast,
            available=kernels.available_on(("cpu",)),
            priority=50,
            auto_device_types=("cpu",),
        )
    )
    kernels.register_lookup_backend(
        kernels.LookupBackend(
            name="missing",
            lookup=fast,
            available=lambda device: False,  # e.g. its library is not installed
            priority=100,
        )
    )
    assert kernels.resolve_lookup_backend("auto", "cpu").name == "fast_cpu"
    TTEmbedding(50, 4, rank=2, seed=0)(torch.tensor([1, 2]))
    assert len(fast.calls) == 1
    with pytest.raises(RuntimeError, match="cannot run on cpu"):
        kernels.resolve_lookup_backend("missing", "cpu")
    assert kernels.resolve_lookup_backend("auto", "meta").name == "torch"  # not for "meta"


def test_registration_errors_and_replacement(isolated_registry):
    torch_backend = kernels.lookup_backends()["torch"]
    with pytest.raises(ValueError, match="already registered"):
        kernels.register_lookup_backend(torch_backend)
    with pytest.raises(ValueError, match="cannot be called 'auto'"):
        kernels.register_lookup_backend(
            kernels.LookupBackend(name="auto", lookup=tt_lookup, available=lambda d: True)
        )
    with pytest.raises(ValueError, match="must be a LookupBackend"):
        kernels.register_lookup_backend("torch")
    assert kernels.resolve_lookup_backend("auto", "cpu").name == "torch"
    preferred = kernels.LookupBackend(
        name="torch", lookup=tt_lookup, available=lambda d: True, priority=7
    )
    kernels.register_lookup_backend(preferred, replace=True)  # also clears the auto cache
    assert kernels.resolve_lookup_backend("auto", "cpu") is preferred


def test_lazy_functions_import_on_first_call():
    function = kernels.lazy_function("json:dumps")
    assert function([1]) == "[1]"
    with pytest.raises(ValueError, match="expected 'module:function'"):
        kernels.lazy_function("json.dumps")
    check = kernels.available_on(("cpu",), "tt_gnn.kernels.triton:installed")
    assert check(torch.device("cpu")) == kernels.lookup_backends()["triton"].available("cuda")
    assert not check(torch.device("meta"))


def test_importing_and_the_torch_backend_import_no_kernel_library():
    code = (
        "import sys, torch, tt_gnn, tt_gnn.kernels\n"
        "from tt_gnn import TTEmbedding\n"
        "TTEmbedding(30, 4, rank=2, seed=0, backend='torch')(torch.tensor([1]))\n"
        "loaded = sorted({'triton', 'numba'} & set(sys.modules))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
