"""Ground-unit collisions: a per-tick projection that keeps units from overlapping.

SC2 (and SMAClite's RVO2) never lets two ground units overlap; air units (medivacs) fly over
everything. Here every tick ends with a few Jacobi passes that push each overlapping pair
apart along the line joining their centres until they touch (centre distance r_i + r_j, with
r half the unit's footprint). A unit standing still (attacking within reach, or idle) is not
moved by a unit that walks into it: the walker takes the whole correction and slides along
it, as SC2 units flow around a unit that holds; two walkers, or two standing units, share it.
Units that a tick leaves pressed into a crowd wait a tick (``battle.CROWDED``). Issue 22's
overlap statistic (``overlap_share``) measures how well this holds.
"""
from __future__ import annotations

import torch

OVERLAP_FRACTION = 0.8
"""Issue 22's overlap statistic: a pair overlaps if its centre distance < 0.8 (r_i + r_j)."""


PAIRWISE_MAX = 1 << 18
"""Largest U * U * B for which ``separate`` works on unit-major [U, U, B] pair tables (with at most
``PAIRWISE_UNITS`` units); bigger batches and maps use the batched-matmul form, whose [B, U, U] products are
cheaper there. Measured one pass against the other on battle states (one thread, 2-core EPYC): 0.35x the matmul
form's time on 3m at B = 1024, 0.62x on 2s3z at 1024, 0.80x on MMM2 at 256, 0.9x on 8m and 3s5z at 1024, but
1.07x on 27m_vs_30m already at B = 16 (long sums over 57 units) and 1.42x at 64."""
PAIRWISE_UNITS = 32


def _pairwise(U: int, B: int) -> bool:
    """Whether ``separate`` takes the unit-major form for U units in batches of B."""
    return U * U * B <= PAIRWISE_MAX and U <= PAIRWISE_UNITS


def separate(x: torch.Tensor, y: torch.Tensor, alive: torch.Tensor, walking: torch.Tensor, touch: torch.Tensor,
             mobile: torch.Tensor, iters: int, centre=(16.0, 16.0), confine=None,
             buffers: dict | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Push overlapping live units apart with ``iters`` Jacobi passes.

    Returns the new x, y [B, U] and each unit's overlap before the last pass, sum_j w_ij [B, U].

    x, y [B, U] positions after this tick's walk; alive, walking [B, U] bool; touch [U, U]
    r_i + r_j for pairs that collide (same plane, i != j), else 0; mobile [U] 1.0 for units that
    can move (0: a spine crawler is never pushed); centre: a point near the units (the map's
    centre), subtracted so that the matmul form of d^2 stays accurate in float32.
    ``confine(new_x, new_y, old_x, old_y)``, if given, keeps each pass's result on walkable ground.
    Per pair the standing unit's share of the correction is 0, the walker's 1, else 1/2:
    share_ij = (1 + k_i - k_j) / 2 with k = walking. With w_ij = relu(touch_ij / sqrt(d_ij^2 + eps) - 1),
    unit i moves by -sum_j w_ij share_ij a_j (p_j - p_i) (a = alive).

    Two evaluation orders of that sum, equal up to float rounding: for small battles and batches
    (``PAIRWISE_MAX``, ``PAIRWISE_UNITS``) the pair tables are built unit-major, [U, U, B], so that every op runs
    along the batch in contiguous memory (``_pushes_pairwise``; ``buffers``, from ``pair_buffers``, lets it reuse
    such tables instead of allocating them every tick); above, one batched matmul of w with
    a_j [x_j, y_j, 1, k_j x_j, k_j y_j, k_j] (``_pushes_matmul``). The two differ by about 1e-5 of a unit, so a
    battle stepped in batches on either side of the limits can part ways after enough ticks; within one batch size
    every run is reproducible.
    """
    B, U = x.shape
    pairwise = _pairwise(U, B)
    if pairwise:  # every [B, U] input is turned unit-major once, the outputs back at the end
        if buffers is None or buffers["coef"].shape != (U, U, B):
            buffers = pair_buffers(U, B, x.device)
        x, y, alive, walking = (v.t().contiguous() for v in (x, y, alive, walking))  # [U, B]
        mobile = mobile[:, None]  # [U, 1]
        confine = _unit_major(confine) if confine is not None else None
    a = alive.to(x.dtype)
    k = walking.to(x.dtype) * a  # [B, U] (unit-major: [U, B])
    own = 0.5 * (1.0 + k)  # the (1 + k_i) / 2 part of the share
    movable = mobile * a
    pushes = _pushes_pairwise(a, k, own, touch, buffers) if pairwise else _pushes_matmul(a, k, own, touch, centre)
    crowd = torch.zeros_like(x)
    for _ in range(iters):
        push_x, push_y, crowd = pushes(x, y)
        nx, ny = torch.addcmul(x, push_x, movable, value=-1.0), torch.addcmul(y, push_y, movable, value=-1.0)
        x, y = confine(nx, ny, x, y) if confine is not None else (nx, ny)
    if pairwise:
        return x.t().contiguous(), y.t().contiguous(), crowd.t().contiguous()
    return x, y, crowd


def _unit_major(confine):
    """``confine`` for [U, B] positions: it reads per-unit tables laid out along the last axis, so it sees [B, U]
    views."""

    def fit(x1, y1, x0, y0):
        nx, ny = confine(x1.t(), y1.t(), x0.t(), y0.t())
        return nx.t(), ny.t()

    return fit


def pair_buffers(U: int, B: int, device=None) -> dict | None:
    """The [U, U, B] tables of ``separate``'s unit-major form (None where it uses the matmul form).

    Fresh tables of a few hundred KB come from the OS page by page on every allocation, which costs more
    than the arithmetic on them: an env keeps one set and passes it every tick.
    """
    if not _pairwise(U, B):
        return None
    return {"terms": torch.empty(3, U, U, B, device=device), "coef": torch.empty(U, U, B, device=device)}


def _pushes_pairwise(a, k, own, touch, buf):
    """The pushes from [U, U, B] pair tables; a, k, own [U, B]. Returns pushes(x, y [U, B]) -> push_x, push_y,
    crowd [U, B]."""
    terms, coef = buf["terms"], buf["coef"]  # terms [3, U, U, B]: w_ij a_j, and (x_j - x_i), (y_j - y_i) times it
    w, dx, dy = terms[0], terms[1], terms[2]
    # share_ij a_j = a_j (own_i - k_j / 2), since k_j = 0 wherever a_j = 0: a_j is in w's term already
    torch.sub(own[:, None, :], 0.5 * k[None, :, :], out=coef)
    tt = touch[:, :, None]  # [U, U, 1]

    def pushes(x, y):
        torch.sub(x[None, :, :], x[:, None, :], out=dx)  # [U, U, B]: x_j - x_i
        torch.sub(y[None, :, :], y[:, None, :], out=dy)
        torch.mul(dx, dx, out=w)
        w.addcmul_(dy, dy).add_(1e-4).rsqrt_().mul_(tt).sub_(1.0).clamp_min_(0.0).mul_(a[None, :, :])
        terms[1:].mul_(w).mul_(coef)
        # the three sums over j in float64, so that the float32 result does not depend on the order the
        # reduction takes, which changes with B (at B = 1 it runs along contiguous memory, in vector lanes)
        crowd, push_x, push_y = terms.sum(2, dtype=torch.float64).float()  # [U, B] each
        return push_x, push_y, crowd

    return pushes


def _pushes_matmul(a, k, own, touch, centre):
    """The pushes as batched matmuls over [B, U, U]: returns pushes(x, y [B, U]) -> push_x, push_y, crowd [B, U]."""

    def pushes(x, y):
        px, py = x - centre[0], y - centre[1]
        w = _overlap_weights(px, py, touch)  # [B, U, U]
        cols = torch.stack([a * px, a * py, a, k * px, k * py, k], -1)  # [B, U, 6]
        m = torch.bmm(w, cols)  # [B, U, 6]: sums over j of w_ij * cols_j
        push_x = own * (m[..., 0] - px * m[..., 2]) - 0.5 * (m[..., 3] - px * m[..., 5])
        push_y = own * (m[..., 1] - py * m[..., 2]) - 0.5 * (m[..., 4] - py * m[..., 5])
        return push_x, push_y, m[..., 2]

    return pushes


def _overlap_weights(px: torch.Tensor, py: torch.Tensor, touch: torch.Tensor) -> torch.Tensor:
    """[B, U, U] relu(touch_ij / d_ij - 1): 0 for pairs apart, overlap / distance otherwise.

    d_ij^2 + eps = [p_i, |p_i|^2 + eps, 1] . [-2 p_j, 1, |p_j|^2] is one batched matmul, then four
    in-place ops: far cheaper on CPU than broadcasting differences, which allocate several
    [B, U, U] tensors (the eps keeps coincident units finite).
    """
    n = torch.addcmul(px * px, py, py)  # [B, U]
    one = torch.ones_like(px)
    left = torch.stack([px, py, n + 1e-4, one], -1)  # [B, U, 4]
    right = torch.stack([-2.0 * px, -2.0 * py, one, n], 1)  # [B, 4, U]
    d2 = torch.bmm(left, right).clamp_min_(1e-4)  # [B, U, U]
    return d2.rsqrt_().mul_(touch).sub_(1.0).clamp_min_(0.0)


def overlap_share(x: torch.Tensor, y: torch.Tensor, alive: torch.Tensor, radius: torch.Tensor,
                  ground: torch.Tensor) -> torch.Tensor:
    """[B] share of pairs of live ground units (both sides) closer than 0.8 (r_i + r_j).

    x, y, alive [B, U]; radius [U] half footprints; ground [U] bool. Battles with fewer than two
    live ground units give 0.
    """
    live = alive & ground  # [B, U]
    d = torch.hypot(x[:, None, :] - x[:, :, None], y[:, None, :] - y[:, :, None])  # [B, U, U]
    close = d < OVERLAP_FRACTION * (radius[:, None] + radius[None, :])
    pair = live[:, None, :] & live[:, :, None]
    pair = torch.triu(pair, diagonal=1)
    n = pair.sum((1, 2))
    return (close & pair).sum((1, 2)) / n.clamp_min(1)
