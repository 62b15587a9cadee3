"""On the full uniform batch VDN must converge to the least-squares additive fit, which we can
compute by hand; payoffs are reported in their own units even when learning rescales them."""
import pytest
import torch

from qtran_lib.analysis import q_tables
from qtran_lib.config import load_yaml, make_config
from qtran_lib.train import train


def additive_least_squares(payoff: torch.Tensor) -> torch.Tensor:
    """Best sum Q_1(a) + Q_2(b) under uniform weights: row mean + column mean - grand mean."""
    return payoff.mean(1, keepdim=True) + payoff.mean(0, keepdim=True) - payoff.mean()


def _vdn(env, **kw):
    result = train(make_config(load_yaml("matrix"), algo="vdn", env=env, max_updates=1500, **kw), progress=False)
    return q_tables(result.learner, result.env)


def test_vdn_reaches_the_least_squares_fit_on_the_paper_game():
    t = _vdn("matrix:paper")
    fit = additive_least_squares(t.payoff)
    assert fit[0, 0].item() == pytest.approx(-6.2222, abs=1e-3)  # the spec's hand-computed value
    assert torch.allclose(t.q_jt, fit, atol=0.05), t.q_jt
    assert t.greedy_payoff == 0.0  # the fit's argmax is a 0-payoff cell, not (A, A) = 8


def test_large_payoffs_are_learned_scaled_and_reported_unscaled():
    t = _vdn("matrix:80,-120,-120;-120,0,0;-120,0,0")  # the paper's game x 10: auto scale 30/120
    fit = additive_least_squares(t.payoff)
    assert torch.allclose(t.q_jt, fit, atol=0.5), t.q_jt
    assert torch.allclose(t.q_sum, t.q_jt, atol=1e-4)  # VDN's Q_jt is the sum itself
