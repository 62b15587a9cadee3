"""Loss functions against values computed by hand, and which tensors each loss sends gradients to."""
import pytest
import torch

from qtran_lib.losses import masked_mean, nopt_loss, nopt_min_loss, opt_loss, td_loss, td_targets
from qtran_lib.transformation import (
    counterfactual_transformed_q,
    satisfies_theorem1,
    theorem1_gap,
    transformed_q,
    v_jt_from_definition,
)


def test_masked_mean_ignores_padding():
    x = torch.tensor([[1.0, 2.0, 100.0]])
    assert masked_mean(x, torch.tensor([[1.0, 1.0, 0.0]])).item() == pytest.approx(1.5)
    # a trailing agent dimension shares the [B, T] mask
    x = torch.tensor([[[1.0, 3.0], [50.0, 50.0]]])
    assert masked_mean(x, torch.tensor([[1.0, 0.0]])).item() == pytest.approx(2.0)


def test_td_loss_by_hand():
    q = torch.tensor([[1.0, 2.0]])
    y = torch.tensor([[0.0, 4.0]])
    assert td_loss(q, y, torch.ones(1, 2)).item() == pytest.approx((1 + 4) / 2)
    assert td_loss(q, y, torch.tensor([[1.0, 0.0]])).item() == pytest.approx(1.0)


def test_td_targets_lambda_zero_is_the_one_step_target():
    r, d = torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[0.0, 0.0, 1.0]])
    nxt, m = torch.tensor([[10.0, 20.0, 30.0]]), torch.ones(1, 3)
    assert torch.equal(td_targets(r, d, m, nxt, 0.5), r + 0.5 * (1 - d) * nxt)


def test_td_targets_lambda_one_is_the_discounted_return():
    r, d = torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[0.0, 0.0, 1.0]])
    nxt, m = torch.tensor([[10.0, 20.0, 30.0]]), torch.ones(1, 3)
    y = td_targets(r, d, m, nxt, 0.5, lam=1.0)
    assert y.tolist() == [[1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3.0]]  # Monte Carlo: no bootstrap at all


def test_td_targets_by_hand_with_padding_and_truncation():
    # episode 0 is cut by the time limit after 2 steps (not terminal: bootstrap), then padding
    r, d = torch.tensor([[1.0, 2.0, 99.0]]), torch.zeros(1, 3)
    nxt, m = torch.tensor([[4.0, 6.0, 99.0]]), torch.tensor([[1.0, 1.0, 0.0]])
    y = td_targets(r, d, m, nxt, 0.5, lam=0.5)
    y1 = 2 + 0.5 * 6  # last real step: one-step target, the padded step is ignored
    y0 = 1 + 0.5 * (0.5 * 4 + 0.5 * y1)
    assert y[0, :2].tolist() == pytest.approx([y0, y1])
    # a trailing agent dimension (IQL) shares the [B, T] mask
    y_iql = td_targets(r.unsqueeze(-1).expand(1, 3, 2), d.unsqueeze(-1).expand(1, 3, 2), m,
                       nxt.unsqueeze(-1).expand(1, 3, 2), 0.5, lam=0.5)
    assert torch.allclose(y_iql[..., 1], y) and torch.allclose(y_iql[..., 0], y)


def test_opt_loss_by_hand():
    # (Q' - Q_jt + V)^2 = (3 - 5 + 1)^2 = 1 and (0 - 2 + 0)^2 = 4
    loss = opt_loss(torch.tensor([[3.0, 0.0]]), torch.tensor([[5.0, 2.0]]), torch.tensor([[1.0, 0.0]]), torch.ones(1, 2))
    assert loss.item() == pytest.approx(2.5)


def test_nopt_loss_is_a_one_sided_hinge():
    q_sum = torch.tensor([[0.0, 5.0, 1.0]])
    q_jt = torch.tensor([[3.0, 1.0, 1.0]])
    v = torch.tensor([[1.0, 1.0, 0.0]])
    # gaps: -2 (violates 4b), 5 (fine), 0 (fine) -> (4 + 0 + 0) / 3
    assert nopt_loss(q_sum, q_jt, v, torch.ones(1, 3)).item() == pytest.approx(4 / 3)


def test_nopt_min_loss_by_hand():
    # one step, N = 2 agents, A = 2 actions
    q_cf = torch.tensor([[[[1.0, 4.0], [2.0, 0.0]]]])  # Q'_jt(tau, ., u_-i)  [1, 1, 2, 2]
    q_jt_cf = torch.tensor([[[[2.0, 1.0], [1.0, 3.0]]]])
    v = torch.tensor([[0.5]])
    avail = torch.ones(1, 1, 2, 2)
    # agent 1 gaps: -0.5, 3.5 -> min -0.5 -> 0.25 ; agent 2 gaps: 1.5, -2.5 -> min -2.5 -> 6.25
    assert nopt_min_loss(q_cf, q_jt_cf, v, avail, torch.ones(1, 1)).item() == pytest.approx((0.25 + 6.25) / 2)
    # an unavailable action never wins the min: hide agent 2's second action -> min 1.5 -> 2.25
    avail[0, 0, 1, 1] = 0.0
    assert nopt_min_loss(q_cf, q_jt_cf, v, avail, torch.ones(1, 1)).item() == pytest.approx((0.25 + 2.25) / 2)


def test_nopt_min_loss_is_not_clipped():
    """Unlike L_nopt, a positive minimum gap is also pushed to zero (condition 7)."""
    q_cf = torch.full((1, 1, 1, 2), 3.0)
    zero = torch.zeros(1, 1, 1, 2)
    assert nopt_min_loss(q_cf, zero, torch.zeros(1, 1), torch.ones(1, 1, 1, 2), torch.ones(1, 1)).item() == pytest.approx(9.0)


def _leaves(*shape_values):
    return [torch.tensor(v, requires_grad=True) for v in shape_values]


def test_stop_gradient_placement():
    """Q_jt is frozen inside L_opt and L_nopt (the paper's hat); Q_i sum and V_jt are trained."""
    q_sum, q_jt, v = _leaves([[1.0]], [[5.0]], [[0.5]])
    opt_loss(q_sum, q_jt, v, torch.ones(1, 1)).backward()
    assert q_jt.grad is None and q_sum.grad.abs().sum() > 0 and v.grad.abs().sum() > 0

    q_sum, q_jt, v = _leaves([[1.0]], [[5.0]], [[0.5]])
    nopt_loss(q_sum, q_jt, v, torch.ones(1, 1)).backward()
    assert q_jt.grad is None and q_sum.grad.abs().sum() > 0 and v.grad.abs().sum() > 0

    q_cf, q_jt_cf, v = _leaves([[[[1.0, 2.0]]]], [[[[3.0, 3.0]]]], [[0.0]])
    nopt_min_loss(q_cf, q_jt_cf, v, torch.ones(1, 1, 1, 2), torch.ones(1, 1)).backward()
    assert q_jt_cf.grad is None and q_cf.grad.abs().sum() > 0 and v.grad.abs().sum() > 0

    q, y = _leaves([[1.0]], [[3.0]])
    td_loss(q, y, torch.ones(1, 1)).backward()
    assert y.grad is None and q.grad.abs().sum() > 0


def test_no_gradient_when_condition_4b_holds():
    q_sum, q_jt, v = _leaves([[9.0]], [[5.0]], [[0.0]])
    nopt_loss(q_sum, q_jt, v, torch.ones(1, 1)).backward()
    assert q_sum.grad.abs().sum() == 0


def test_transformation_helpers():
    q_i_all = torch.tensor([[1.0, 2.0], [10.0, 20.0]])  # [N=2, A=2]
    q_i_taken = torch.tensor([2.0, 10.0])  # agent 1 took action 1, agent 2 action 0
    assert transformed_q(q_i_taken).item() == 12.0
    cf = counterfactual_transformed_q(q_i_all, q_i_taken)
    assert cf.tolist() == [[11.0, 12.0], [12.0, 22.0]]
    assert v_jt_from_definition(torch.tensor(30.0), torch.tensor([2.0, 20.0])).item() == 8.0


def test_theorem1_on_the_papers_tables():
    """The paper's learned QTRAN tables (Table 1) satisfy conditions (4a) and (4b)."""
    q1, q2 = torch.tensor([3.84, -2.06, -2.25]), torch.tensor([4.16, 2.29, 2.29])
    q_sum = q1[:, None] + q2[None, :]
    payoff = torch.tensor([[8.0, -12.0, -12.0], [-12.0, 0.0, 0.0], [-12.0, 0.0, 0.0]])
    v = v_jt_from_definition(payoff.max(), torch.stack([q1.max(), q2.max()]))
    gap = theorem1_gap(q_sum, payoff, v)
    assert satisfies_theorem1(gap, (0, 0), atol=1e-4)
    assert not satisfies_theorem1(theorem1_gap(q_sum, payoff, v + 3.0), (0, 0))
