"""qtran_lib.igm on hand-checked tables (book/02_igm)."""
from __future__ import annotations

import pytest
import torch

from qtran_lib.envs.matrix_game import parse_payoff
from qtran_lib.igm import (
    additive_fit,
    classify,
    decentralised_argmax,
    describe,
    igm_utilities,
    is_additive,
    is_monotonic,
    joint_argmax,
    max_marginal_utilities,
    monotonic_violations,
    satisfies_igm,
)

PAPER = parse_payoff("paper")


def test_joint_argmax_and_ties():
    assert joint_argmax(PAPER) == {(0, 0)}
    assert joint_argmax(torch.tensor([[0.0, 1.0], [1.0, 0.0]])) == {(0, 1), (1, 0)}


def test_satisfies_igm_hand_tables():
    good = torch.tensor([[4.0, 0.0, 0.0], [4.0, 0.0, 0.0]])
    bad = torch.tensor([[0.0, 1.0, 0.0], [4.0, 0.0, 0.0]])
    assert satisfies_igm(PAPER, good)
    assert not satisfies_igm(PAPER, bad)  # (B, A) pays -12
    # tied utilities: (A or B) x (A) must all be optimal
    tie = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    assert not satisfies_igm(PAPER, tie)
    assert satisfies_igm(torch.tensor([[2.0, 0.0], [2.0, 0.0]]), torch.tensor([[1.0, 1.0], [1.0, 0.0]]))


def test_satisfies_igm_strict_needs_set_equality():
    two_optima = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # picks (A, B), one of the two optima
    assert satisfies_igm(two_optima, q)
    assert not satisfies_igm(two_optima, q, strict=True)


def test_satisfies_igm_checks_shapes():
    with pytest.raises(ValueError, match=r"\[N, A\]"):
        satisfies_igm(PAPER, torch.zeros(3, 3))


def test_additive_fit_paper_numbers():
    q_i, fit = additive_fit(PAPER)
    # hand: grand mean -40/9; row A mean -16/3, row B mean -4; Q_i(a) = row mean - grand/2
    assert torch.allclose(q_i[0], torch.tensor([-16 / 3 + 20 / 9, -4 + 20 / 9, -4 + 20 / 9], dtype=torch.float64))
    assert abs(float(fit[0, 0]) - (-56 / 9)) < 1e-9  # -6.2222
    assert abs(float(fit[0, 1]) - (-44 / 9)) < 1e-9  # -4.8889
    assert abs(float(fit[1, 1]) - (-32 / 9)) < 1e-9  # -3.5556
    assert abs(float(fit.sum()) - float(PAPER.sum())) < 1e-9  # residuals sum to zero


def test_additive_fit_is_least_squares_for_three_agents():
    g = torch.Generator().manual_seed(0)
    t = torch.randn(3, 3, 3, generator=g, dtype=torch.float64)
    _, fit = additive_fit(t)
    # least squares: the residual is orthogonal to every one-agent indicator
    res = t - fit
    for axis in range(3):
        others = [d for d in range(3) if d != axis]
        assert torch.allclose(res.sum(dim=others), torch.zeros(3, dtype=torch.float64), atol=1e-9)


def test_is_additive():
    assert is_additive([[1.0, 2.0], [3.0, 4.0]])
    assert not is_additive([[1.0, 2.0], [3.0, 10.0]])
    assert is_additive(torch.arange(8.0).reshape(2, 2, 2))  # 4a + 2b + c
    assert not is_additive(PAPER)


def test_is_monotonic_hand_tables():
    assert is_monotonic([[1.0, 2.0], [3.0, 10.0]])  # rows and columns ordered
    assert not is_monotonic(PAPER)
    assert monotonic_violations(PAPER) == [(0, 0, 1), (0, 0, 2), (1, 0, 1), (1, 0, 2)]
    assert not is_monotonic([[0.0, 1.0], [1.0, 0.0]])
    # rows ordered but columns cross: agent 2's actions cannot be ordered
    t = [[0.0, 1.0], [2.0, 1.5]]
    assert monotonic_violations(t) == [(1, 0, 1)]
    assert is_monotonic([[5.0, 5.0], [5.0, 5.0]])


def test_monotone_mixtures_are_monotonic():
    g = torch.Generator().manual_seed(1)
    for _ in range(30):
        q = torch.randn(3, 3, generator=g, dtype=torch.float64)
        q1, q2, q3 = q[0][:, None, None], q[1][None, :, None], q[2][None, None, :]
        t = torch.exp(q1) * torch.exp(q2) + torch.maximum(q2, q3)  # non-decreasing in every utility
        assert is_monotonic(t)
        assert satisfies_igm(t, q)


def test_max_marginal_and_igm_utilities():
    assert decentralised_argmax(max_marginal_utilities(PAPER)) == (0, 0)
    u = igm_utilities(PAPER)
    assert u.tolist() == [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
    assert satisfies_igm(PAPER, u)


def test_classify_and_describe():
    c = classify(PAPER)
    assert (c["additive"], c["monotonic"], c["igm_factorisable"]) == (False, False, True)
    assert c["additive_greedy_payoff"] == 0.0
    assert abs(c["additive_residual"] - (8 + 56 / 9)) < 1e-6
    assert not classify(parse_payoff("penalty"))["igm_strict"]
    text = describe(PAPER)
    assert "optimal joint action(s): (A,A) with payoff 8" in text
    assert "agent 1: actions A and B cannot be ordered" in text


def test_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        is_additive([1.0, 2.0])
