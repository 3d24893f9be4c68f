"""tt_gnn.gnn.dropout.Dropout against nn.Dropout's contract: keep rate, scale, gradient."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tt_gnn.gnn.dropout import Dropout, dropout_mask


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_keep_rate_and_independence_match_bernoulli(p):
    """Over 2M elements the keep rate is within 5 standard errors of 1 - p (rounded to 2**-15),
    also separately on even and odd positions (the two halves of each random word), and
    neighbouring elements are uncorrelated."""
    torch.manual_seed(0)
    mask, scale = dropout_mask((1000, 2001), p)
    keep = 1 - round(p * 2**15) / 2**15
    assert scale == pytest.approx(1 / keep)
    flat = mask.flatten().double()
    error = 5 * math.sqrt(keep * (1 - keep) / (flat.numel() / 2))
    for part in (flat, flat[0::2], flat[1::2]):
        assert abs(part.mean().item() - keep) < error
    covariance = (flat[:-1] * flat[1:]).mean() - flat[:-1].mean() * flat[1:].mean()
    assert abs(covariance.item()) < 5 * keep * (1 - keep) / math.sqrt(flat.numel())


def test_output_is_input_times_mask_times_scale_and_unbiased():
    torch.manual_seed(1)
    x = torch.randn(300, 50, dtype=torch.float64, requires_grad=True)
    layer = Dropout(0.5)
    out = layer(x)
    kept = out != 0
    torch.testing.assert_close(out[kept], 2 * x[kept])
    out.backward(torch.ones_like(out))
    torch.testing.assert_close(x.grad, 2.0 * kept.double())
    ones = torch.ones(4_000_000)
    assert abs(layer(ones).mean().item() - 1.0) < 5 * math.sqrt(1 / ones.numel())


def test_gradcheck_for_a_fixed_mask():
    x = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)

    def function(values):
        torch.manual_seed(3)  # the same mask on every call
        return Dropout(0.3)(values)

    assert torch.autograd.gradcheck(function, (x,))


def test_eval_mode_zero_p_seed_and_errors():
    x = torch.randn(10, 10)
    assert Dropout(0.5).eval()(x) is x and Dropout(0.0)(x) is x
    torch.manual_seed(5)
    first = Dropout(0.5)(x)
    torch.manual_seed(5)
    assert torch.equal(Dropout(0.5)(x), first)
    assert Dropout(0.5)(torch.empty(0, 3)).shape == (0, 3)
    assert Dropout(0.999999)(torch.ones(1000)).abs().sum() < 1000  # no division by zero
    for bad in (1.0, -0.1, "0.5"):
        with pytest.raises(ValueError, match="dropout"):
            Dropout(bad)
    assert "p=0.25" in repr(Dropout(0.25)) and isinstance(Dropout(0.1), nn.Module)
