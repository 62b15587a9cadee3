"""Individual-Global-Max (IGM) and the two structural shortcuts to it, checked on value tables.

Introduced in book/02_igm. Everything here works on *tables*: a joint value (or payoff) table
``q_jt`` of shape ``[A] * N`` indexed by the agents' actions ``(u_1, ..., u_N)``, and per-agent
utilities ``q_i`` of shape ``[N, A]``. On a one-step game a table is the whole story, so we can
decide exactly what is and is not representable, with no learning noise in the way.

Definitions (Son et al. 2019, Sec. 2; VDN; QMIX):

- IGM: ``[Q_i]`` factorises ``Q_jt`` when the per-agent argmaxes, taken together, are a joint argmax.
- Additive (VDN): ``Q_jt(u) = sum_i Q_i(u_i)`` for some utilities.
- Monotonic (QMIX): ``Q_jt(u) = f(Q_1(u_1), ..., Q_N(u_N))`` with ``f`` non-decreasing in every argument.

additive => monotonic => IGM-factorisable; neither arrow reverses (book/02_igm shows tables that
break each one). All functions are pure and accept anything ``torch.as_tensor`` accepts.
"""
from __future__ import annotations

import itertools

import torch

__all__ = [
    "additive_fit",
    "classify",
    "decentralised_argmax",
    "describe",
    "is_additive",
    "is_monotonic",
    "joint_argmax",
    "igm_utilities",
    "max_marginal_utilities",
    "monotonic_violations",
    "satisfies_igm",
]


def _table(x) -> torch.Tensor:
    t = torch.as_tensor(x, dtype=torch.float64)
    if t.dim() < 2:
        raise ValueError(f"a joint table needs one dimension per agent (at least 2), got shape {list(t.shape)}")
    return t


def _argmax_set(values: torch.Tensor, atol: float) -> list[int]:
    """Indices within ``atol`` of the maximum of a 1-D tensor (the argmax *set*, ties included)."""
    return (values >= values.max() - atol).nonzero().flatten().tolist()


def joint_argmax(q_jt, atol: float = 1e-6) -> set[tuple[int, ...]]:
    """The set of joint actions within ``atol`` of max_u Q_jt(u).   q_jt: [A] * N."""
    t = _table(q_jt)
    best = t.max()
    return {tuple(int(i) for i in idx) for idx in (t >= best - atol).nonzero()}


def decentralised_argmax(q_i) -> tuple[int, ...]:
    """(argmax Q_1, ..., argmax Q_N): what the agents do at execution, each on its own.  q_i: [N, A].

    Ties break towards the lowest action index, as ``torch.argmax`` and the library's agents do.
    """
    q = torch.as_tensor(q_i)
    return tuple(int(a) for a in q.argmax(dim=-1))


def satisfies_igm(q_jt, q_i, atol: float = 1e-6, strict: bool = False) -> bool:
    """Does ``[Q_i]`` factorise ``Q_jt`` in the IGM sense?   q_jt: [A] * N, q_i: [N, A].

    Every combination of the agents' own argmaxes must be a joint argmax of Q_jt: then no matter
    how each agent breaks its ties, decentralised greedy execution is jointly optimal. With
    ``strict=True`` the two argmax sets must be equal (the literal set equality of the definition),
    which also rejects a Q_jt whose extra optima the agents cannot express.
    """
    t, q = _table(q_jt), torch.as_tensor(q_i, dtype=torch.float64)
    if q.shape != (t.dim(), t.shape[0]):
        raise ValueError(f"q_i must have shape [N, A] = {[t.dim(), t.shape[0]]} for a table of shape {list(t.shape)}, "
                         f"got {list(q.shape)}")
    decentral = set(itertools.product(*(_argmax_set(q[i], atol) for i in range(t.dim()))))
    central = joint_argmax(t, atol)
    return decentral == central if strict else decentral <= central


def additive_fit(payoff) -> tuple[torch.Tensor, torch.Tensor]:
    """The least-squares VDN fit of a table: utilities ``q_i`` [N, A] and their sum [A] * N.

    With every joint action weighted equally (uniform exploration, the paper's matrix-game protocol)
    the minimiser of sum_u (payoff(u) - sum_i Q_i(u_i))^2 has a closed form, the main effects of a
    two-way (N-way) ANOVA:  Q_i(a) = mean(payoff | u_i = a) - mean(payoff) * (N - 1) / N.
    Only the sum is unique (a constant can move between agents); we split the grand mean evenly.
    A VDN learner trained to convergence on uniform data should land on exactly this table.
    """
    t = _table(payoff)
    n = t.dim()
    grand = t.mean()
    dims = list(range(n))
    q_i = torch.stack([t.mean(dim=[d for d in dims if d != i]) for i in range(n)])  # [N, A] marginal means
    q_i = q_i - grand * (n - 1) / n
    fitted = sum(q_i[i].reshape([-1 if d == i else 1 for d in dims]) for i in range(n))  # [A] * N
    return q_i, fitted


def is_additive(table, atol: float = 1e-6) -> bool:
    """True when the table equals its best additive fit, i.e. VDN can represent it exactly."""
    t = _table(table)
    _, fitted = additive_fit(t)
    return bool((t - fitted).abs().max() <= atol)


def monotonic_violations(table, atol: float = 1e-6) -> list[tuple[int, int, int]]:
    """Pairs of actions that no monotonic mixer can order: ``(agent, a, b)`` with a < b.

    Along agent i's axis, take the slices ``table[..., a, ...]`` and ``table[..., b, ...]`` (all the
    other agents' actions). If ``f`` is non-decreasing in Q_i, then Q_i(a) <= Q_i(b) forces slice a
    <= slice b *everywhere*. So two slices where each beats the other somewhere cannot be ordered.
    """
    t = _table(table)
    out = []
    for i in range(t.dim()):
        slices = t.movedim(i, 0).reshape(t.shape[i], -1)  # [A, A^(N-1)]
        for a, b in itertools.combinations(range(t.shape[i]), 2):
            diff = slices[b] - slices[a]
            if bool((diff > atol).any()) and bool((diff < -atol).any()):
                out.append((i, a, b))
    return out


def is_monotonic(table, atol: float = 1e-6) -> bool:
    """True when some non-decreasing f and utilities Q_i reproduce the table exactly (QMIX can, in principle).

    Criterion: along every agent's axis its slices are pairwise comparable elementwise (they form a
    chain). Necessary by the argument in ``monotonic_violations``; sufficient because ranking each
    agent's slices along its chain gives utilities Q_i, and the table read on the grid of ranks is
    non-decreasing in each rank, so it extends to a monotone f on all of R^N.
    """
    return not monotonic_violations(table, atol)


def max_marginal_utilities(table) -> torch.Tensor:
    """Q_i(a) = max over the other agents' actions of table(u_i = a): utilities that satisfy IGM.  -> [N, A].

    Agent i's argmax of this is its action in a joint optimum, so every one-step table is
    IGM-factorisable (with a unique optimum; with several optima the agents' independent
    tie-breaking may combine parts of different optima, as in the penalty game).
    """
    t = _table(table)
    n = t.dim()
    return torch.stack([t.movedim(i, 0).reshape(t.shape[i], -1).max(dim=1).values for i in range(n)])  # [N, A]


def igm_utilities(table, atol: float = 1e-6) -> torch.Tensor:
    """The simplest utilities that satisfy IGM: Q_i = one-hot of agent i's part of the first optimum.  -> [N, A].

    IGM looks only at argmaxes, so on one table (one-step game, one history tau) a factorisation always
    exists. The hard part, which VDN and QMIX fail at, is *learning* utilities that are consistent
    with a Q_jt that is itself learned well, for every tau at once.
    """
    t = _table(table)
    best = min(joint_argmax(t, atol))
    q = torch.zeros(t.dim(), t.shape[0], dtype=torch.float64)
    for i, a in enumerate(best):
        q[i, a] = 1.0
    return q


def classify(table, atol: float = 1e-6) -> dict:
    """What each representation class can do for this table (used by the book's IGM widget)."""
    t = _table(table)
    q_add, fitted = additive_fit(t)
    opt = joint_argmax(t, atol)
    vdn_pick = decentralised_argmax(q_add)
    q_igm = igm_utilities(t, atol)
    return {
        "additive": is_additive(t, atol),
        "monotonic": is_monotonic(t, atol),
        "igm_factorisable": satisfies_igm(t, q_igm, atol),
        "igm_strict": _product_of_optima(t, atol),
        "optimal_actions": sorted(opt),
        "max_payoff": float(t.max()),
        "additive_fit": fitted,
        "additive_residual": float((t - fitted).abs().max()),
        "additive_greedy": vdn_pick,
        "additive_greedy_payoff": float(t[vdn_pick]),
        "violations": monotonic_violations(t, atol),
    }


def _product_of_optima(t: torch.Tensor, atol: float) -> bool:
    """Is the set of optima a product set (so that some utilities have exactly these argmaxes)?"""
    opt = joint_argmax(t, atol)
    axes = [sorted({u[i] for u in opt}) for i in range(t.dim())]
    return set(itertools.product(*axes)) == opt


def describe(table, atol: float = 1e-6, labels: str = "ABCDEFGHIJKLMNOPQRSTU") -> str:
    """A short plain-text verdict on a table: additive? monotonic? what does the VDN fit pick?"""
    c = classify(table, atol)
    name = lambda u: "(" + ",".join(labels[a] for a in u) + ")"  # noqa: E731
    yes = lambda b: "yes" if b else "no"  # noqa: E731
    lines = [
        f"optimal joint action(s): {', '.join(name(u) for u in c['optimal_actions'])} with payoff {c['max_payoff']:.4g}",
        f"additive (VDN can represent it exactly): {yes(c['additive'])}"
        f" (largest error of the best additive fit: {c['additive_residual']:.4g})",
        f"monotonic (a QMIX-style mixer can represent it exactly): {yes(c['monotonic'])}",
        f"IGM-factorisable (some utilities pick an optimum): {yes(c['igm_factorisable'])}"
        + ("" if c["igm_strict"] else " (but no utilities reproduce the whole set of optima)"),
        f"greedy action of the best additive fit: {name(c['additive_greedy'])}, "
        f"which pays {c['additive_greedy_payoff']:.4g}",
    ]
    for i, a, b in c["violations"][:6]:
        lines.append(f"  agent {i + 1}: actions {labels[a]} and {labels[b]} cannot be ordered "
                     f"(each one is better against some actions of the others)")
    return "\n".join(lines)
