"""The training losses of VDN/QMIX and QTRAN as small pure functions of tensors.

Introduced in book/04_qtran. Every function averages over the valid time steps given by
``mask`` (1 for real transitions, 0 for padding after an episode ended). The stop-gradient
of the paper (the hat on Q^_jt) is applied *inside* these functions, so the placement that
the paper prescribes cannot be forgotten by a caller.

Symbol | Shape | Meaning
------ | ----- | -------
q_taken | [B, T] (or [B, T, N]) | Q_jt(tau, u) at the buffer's joint action (per agent for IQL / alt heads)
target | same as q_taken | the TD target y, treated as a constant
q_sum | [B, T] | Q'_jt = sum_i Q_i(tau_i, u_i) at the joint action in question
q_jt | [B, T] (or [B, T, N]) | Q_jt at the same joint action (detached here: Q^_jt)
v_jt | [B, T] | V_jt(tau)
mask | [B, T] | valid-step mask
"""
from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over the entries where ``mask`` is 1; extra trailing dims of x share the mask."""
    m = mask
    while m.dim() < x.dim():
        m = m.unsqueeze(-1)
    m = m.expand_as(x).to(x.dtype)
    return (x * m).sum() / m.sum().clamp(min=1.0)


def td_targets(reward: torch.Tensor, terminated: torch.Tensor, mask: torch.Tensor, next_value: torch.Tensor,
               gamma: float, lam: float = 0.0) -> torch.Tensor:
    """The TD(lambda) target y_t = r_t + gamma (1 - d_t) [(1 - lambda) Q^-_{t+1} + lambda y_{t+1}].

    ``next_value`` [B, T] (or [B, T, N]) is the bootstrap value Q^-(tau_{t+1}, u_{t+1}) of each
    transition. lambda = 0 gives the one-step target r + gamma (1 - d) Q^- of the paper; larger
    lambda mixes in longer returns (pymarl2 uses 0.6 on SMAC), which propagates a win's reward
    back through a battle in fewer updates. Where the next transition is padding (the episode
    was cut at the time limit) the recursion falls back to the bootstrap value.
    """
    one_step = reward + gamma * (1.0 - terminated) * next_value
    if lam == 0.0:
        return one_step
    m = mask
    while m.dim() < reward.dim():  # IQL / alt heads: [B, T] -> [B, T, 1]
        m = m.unsqueeze(-1)
    y = torch.empty_like(one_step)
    y[:, -1] = one_step[:, -1]
    for t in range(reward.shape[1] - 2, -1, -1):
        later = m[:, t + 1] * y[:, t + 1] + (1.0 - m[:, t + 1]) * next_value[:, t]  # y_{t+1}, or Q^- at the end
        y[:, t] = reward[:, t] + gamma * (1.0 - terminated[:, t]) * ((1.0 - lam) * next_value[:, t] + lam * later)
    return y


def td_loss(q_taken: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L_td = (Q(tau, u) - y)^2 with y = r + gamma * Q^-(tau', u'), y held constant."""
    return masked_mean((q_taken - target.detach()) ** 2, mask)


def opt_loss(q_sum_greedy: torch.Tensor, q_jt_greedy: torch.Tensor, v_jt: torch.Tensor,
             mask: torch.Tensor) -> torch.Tensor:
    """L_opt = (Q'_jt(tau, u_bar) - Q^_jt(tau, u_bar) + V_jt(tau))^2, condition (4a) at the greedy u_bar.

    Q_jt is detached: L_opt moves the Q_i (inside Q'_jt) and V_jt towards Q_jt, never the reverse.
    """
    return masked_mean((q_sum_greedy - q_jt_greedy.detach() + v_jt) ** 2, mask)


def nopt_loss(q_sum_taken: torch.Tensor, q_jt_taken: torch.Tensor, v_jt: torch.Tensor,
              mask: torch.Tensor) -> torch.Tensor:
    """L_nopt = (min[Q'_jt(tau, u) - Q^_jt(tau, u) + V_jt(tau), 0])^2, condition (4b) as a one-sided hinge.

    Zero wherever Q'_jt already upper-bounds Q_jt - V_jt; only violations are penalised.
    """
    gap = q_sum_taken - q_jt_taken.detach() + v_jt
    return masked_mean(gap.clamp(max=0.0) ** 2, mask)


def nopt_min_loss(q_transformed_cf: torch.Tensor, q_jt_cf: torch.Tensor, v_jt: torch.Tensor,
                  avail: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L_nopt-min = 1/N sum_i (min_{u_i} [Q'_jt(tau, u_i, u_-i) - Q^_jt(tau, u_i, u_-i) + V_jt(tau)])^2.

    QTRAN-alt's condition (7): along every agent's counterfactual actions the smallest gap must be
    exactly zero (no clipping). Unavailable actions never win the min.

    q_transformed_cf, q_jt_cf, avail: [B, T, N, A]; v_jt: [B, T]; mask: [B, T].
    """
    gap = q_transformed_cf - q_jt_cf.detach() + v_jt[..., None, None]  # [B, T, N, A]
    gap = gap.masked_fill(avail <= 0, float("inf"))
    smallest = gap.min(dim=-1).values  # [B, T, N]; inf at padded steps, where no action is available
    smallest = smallest.masked_fill(~torch.isfinite(smallest), 0.0)  # else inf * mask 0 = NaN
    return masked_mean(smallest ** 2, mask)  # mean over B, T (valid) and N


# ---- after QTRAN: weighted QMIX (Rashid et al. 2020), introduced in book/07_after_qtran ----------------

def weighted_td_loss(q_taken: torch.Tensor, target: torch.Tensor, weights: torch.Tensor,
                     mask: torch.Tensor) -> torch.Tensor:
    """L_w = sum_b w(s, u) (Q_tot(tau, u) - y)^2 / sum_b 1: the weighted QMIX projection of the target y.

    The paper's weighted operator Pi_w (Sec. 4) turned into a TD loss (Sec. 5, the loss of Q_tot). y and
    the weights are constants; w = 1 everywhere is ``td_loss``. The mean is over the valid steps (as
    pymarl2's ``max_q_learner``), not over the weights, so a smaller alpha also shrinks the loss.

    Symbol | Shape | Meaning
    ------ | ----- | -------
    q_taken | [B, T] | Q_tot(tau, u) at the buffer's joint action
    target | [B, T] | y = r + gamma Q^*^-(s', u_hat') (detached here)
    weights | [B, T] | w(s, u) in {alpha, 1} (detached here)
    mask | [B, T] | valid-step mask
    """
    return masked_mean(weights.detach() * (q_taken - target.detach()) ** 2, mask)


def central_weights(actions: torch.Tensor, greedy: torch.Tensor, target: torch.Tensor,
                    central_at_greedy: torch.Tensor, alpha: float) -> torch.Tensor:
    """CW-QMIX: w(s, u) = 1 if u = u_hat or y > Q^*(s, u_hat), alpha otherwise.

    u_hat = (argmax Q_1, ..., argmax Q_N) is Q_tot's greedy joint action (the agents' utilities' argmax,
    which for a monotonic mixer is argmax_u Q_tot). It approximates the idealised central weighting
    (w = 1 only at argmax_u Q^*, Sec. 4, Theorem 1): a transition whose target beats the central critic's
    value of the current greedy action may belong to a better joint action, so it keeps full weight.

    Symbol | Shape | Meaning
    ------ | ----- | -------
    actions | [B, T, N] | the buffer's joint action u
    greedy | [B, T, N] | u_hat, the agents' greedy actions at the same step
    target | [B, T] | y
    central_at_greedy | [B, T] | Q^*(s, u_hat) (pymarl2 evaluates it with the target networks)
    return | [B, T] | w in {alpha, 1}
    """
    full = (actions == greedy).all(-1) | (target > central_at_greedy)  # [B, T]
    return torch.where(full, torch.ones_like(target), torch.full_like(target, alpha))


def optimistic_weights(q_taken: torch.Tensor, target: torch.Tensor, alpha: float) -> torch.Tensor:
    """OW-QMIX: w(s, u) = 1 if Q_tot(tau, u) < y, alpha otherwise (Sec. 4, optimistic weighting, Theorem 2).

    Underestimated joint actions could be the optimum, so they keep full weight; overestimates are
    fitted only with weight alpha.

    Symbol | Shape | Meaning
    ------ | ----- | -------
    q_taken | [B, T] | Q_tot(tau, u) (read as a value; no gradient flows through the weights)
    target | [B, T] | y
    return | [B, T] | w in {alpha, 1}
    """
    under = q_taken.detach() < target  # [B, T]
    return torch.where(under, torch.ones_like(target), torch.full_like(target, alpha))
