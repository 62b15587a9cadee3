"""Every learner's losses and gradients against an independent per-episode, per-step loop (issue 21, item 11).

The reference below walks each episode one step at a time with the learner's own networks (the agent
with its recurrent state carried by hand, the mixers called on one step), builds every target and loss
term from the papers' formulas with Python loops, and averages over the real transitions only. The
batch has episodes of different lengths, true terminals, a time-limit truncation (bootstrapped), action
masks that change every step, and padding filled with garbage that must not matter. Also: QMIX's mixing
formula and its monotonicity (dQ_tot/dQ_i >= 0), and a learner test on an env whose episodes end at
different steps.
"""
import pytest
import torch
from torch.nn import functional as F

from qtran_lib.config import ALGORITHMS, make_config
from qtran_lib.envs.base import EnvInfo, MultiAgentEnv
from qtran_lib.learners import make_learner
from qtran_lib.runner import run_episodes

N, A, OBS, S, LIMIT = 3, 4, 5, 6, 6
# The algorithms this per-step reference implements. QPLEX and weighted QMIX (chapter 7) have their losses
# checked by hand, term by term, in tests/test_after_qtran.py.
REFERENCED = ("iql", "vdn", "qmix", "qtran_base", "qtran_alt")
assert set(REFERENCED) <= set(ALGORITHMS)
INFO = EnvInfo(n_agents=N, n_actions=A, obs_dim=OBS, state_dim=S, episode_limit=LIMIT)
# (length, ends in a true terminal): truncated at the limit, terminal at 3, terminal at 1, terminal at the limit, 4
EPISODES = [(6, False), (3, True), (1, True), (6, True), (4, True)]


def garbage_batch(seed: int = 0) -> dict[str, torch.Tensor]:
    """Episodes {field: [B, T+1, ...]} with changing masks; every padded entry is random garbage."""
    g = torch.Generator().manual_seed(seed)
    b, t1 = len(EPISODES), LIMIT + 1
    avail = (torch.rand(b, t1, N, A, generator=g) < 0.6).float()
    avail[..., 0] = torch.where(avail[..., 1:].sum(-1) == 0, 1.0, avail[..., 0])  # >= 1 legal action everywhere
    batch = {"obs": torch.randn(b, t1, N, OBS, generator=g), "state": torch.randn(b, t1, S, generator=g),
             "avail": avail, "reward": torch.randn(b, t1, generator=g),
             "actions": torch.randint(0, A, (b, t1, N), generator=g),  # legal below at real steps, garbage after
             "terminated": (torch.rand(b, t1, generator=g) < 0.5).float(), "filled": torch.zeros(b, t1)}
    for i, (length, terminal) in enumerate(EPISODES):
        for t in range(length):
            legal = avail[i, t].nonzero()
            for n in range(N):
                choices = legal[legal[:, 0] == n, 1]
                batch["actions"][i, t, n] = choices[torch.randint(len(choices), (1,), generator=g)]
        batch["filled"][i, :length] = 1.0
        batch["terminated"][i, :length] = 0.0
        batch["terminated"][i, length - 1] = float(terminal)
    return batch


# ---- the reference: one episode, one step at a time ------------------------------------------------------
def step_input(batch, b, t, cfg) -> torch.Tensor:
    """[N, in]: obs, one-hot of the previous action (zeros at t = 0), one-hot agent id."""
    parts = [batch["obs"][b, t]]
    if cfg.obs_last_action:
        parts.append(F.one_hot(batch["actions"][b, t - 1], A).float() if t > 0 else torch.zeros(N, A))
    if cfg.obs_agent_id:
        parts.append(torch.eye(N))
    return torch.cat(parts, -1)


def walk(agent, batch, b, steps, cfg) -> tuple[list, list]:
    """Q_i [N, A] and h_i [N, H] at steps 0..steps-1 of episode b, carrying the recurrent state by hand."""
    qs, hs, h = [], [], agent.init_hidden(1, N)
    for t in range(steps):
        q, h_new = agent(step_input(batch, b, t, cfg).unsqueeze(0), h if cfg.agent == "rnn" else None)
        qs.append(q[0])
        hs.append(h_new[0])
        h = h_new
    return qs, hs


def argmax_legal(q: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
    """[N]: each agent's highest-valued legal action, by a loop over its actions."""
    best = []
    for n in range(N):
        legal = [a for a in range(A) if avail[n, a] > 0]
        best.append(max(legal, key=lambda a: (q[n, a].item(), -a)))  # ties: the lowest index, as argmax
    return torch.tensor(best)


def one(x):  # [..] -> [1, 1, ..] for the mixers, which take [B, T, ...]
    return x.reshape(1, 1, *x.shape)


def reference_losses(learner, batch) -> dict[str, torch.Tensor]:
    cfg, algo = learner.cfg, learner.cfg.algo
    gamma, lam = cfg.gamma, cfg.td_lambda
    sums = {"td": [], "opt": [], "nopt": []}
    for b, (length, _) in enumerate(EPISODES):
        qs, hs = walk(learner.agent, batch, b, length + 1, cfg)
        with torch.no_grad():
            tq, th = walk(learner.target_agent, batch, b, length + 1, cfg)
        s_, u_, r_, d_, av = batch["state"][b], batch["actions"][b], batch["reward"][b], batch["terminated"][b], batch["avail"][b]
        # bootstrap values Q^-(tau_{t+1}, u'_{t+1}) with u' the online greedy action (double Q)
        boot = []
        for t in range(length):
            with torch.no_grad():
                u_next = argmax_legal(qs[t + 1].detach(), av[t + 1])
                picked = tq[t + 1][torch.arange(N), u_next]  # [N]
                if algo == "iql":
                    boot.append(picked)
                elif algo == "vdn":
                    boot.append(picked.sum())
                elif algo == "qmix":
                    boot.append(learner.target_mixer(one(picked), one(s_[t + 1]))[0, 0])
                elif algo == "qtran_base":
                    boot.append(learner.target_mixer(one(th[t + 1]), one(F.one_hot(u_next, A).float()),
                                                     one(s_[t + 1]))[0, 0])
                else:
                    heads = learner.target_mixer(one(th[t + 1]), one(F.one_hot(u_next, A).float()), one(s_[t + 1]))[0, 0]
                    boot.append(heads[torch.arange(N), u_next].mean())
        ys = [None] * length  # TD(lambda), backwards; the last real step bootstraps
        for t in reversed(range(length)):
            later = boot[t] if t == length - 1 else ys[t + 1]
            ys[t] = r_[t] + gamma * (1 - d_[t]) * ((1 - lam) * boot[t] + lam * later)
        for t in range(length):
            q, h, u, y = qs[t], hs[t], u_[t], ys[t].detach()
            taken = q[torch.arange(N), u]  # [N]
            if algo == "iql":
                sums["td"] += [((taken[n] - y[n]) ** 2) for n in range(N)]
                continue
            if algo in ("vdn", "qmix"):
                q_tot = taken.sum() if algo == "vdn" else learner.mixer(one(taken), one(s_[t]))[0, 0]
                sums["td"].append((q_tot - y) ** 2)
                continue
            u_bar = argmax_legal(q.detach(), av[t])
            v = learner.mixer.v(one(h), one(s_[t]))[0, 0]
            q_bar_sum = q[torch.arange(N), u_bar].sum()
            if algo == "qtran_base":
                q_jt = learner.mixer(one(h), one(F.one_hot(u, A).float()), one(s_[t]))[0, 0]
                q_jt_bar = learner.mixer(one(h), one(F.one_hot(u_bar, A).float()), one(s_[t]))[0, 0]
                sums["td"].append((q_jt - y) ** 2)
                sums["opt"].append((q_bar_sum - q_jt_bar.detach() + v) ** 2)
                sums["nopt"].append(torch.clamp(taken.sum() - q_jt.detach() + v, max=0.0) ** 2)
            else:  # qtran_alt: head i holds Q_jt(tau, a, u_-i) for every action a of agent i
                cf = learner.mixer(one(h), one(F.one_hot(u, A).float()), one(s_[t]))[0, 0]  # [N, A]
                cf_bar = learner.mixer(one(h), one(F.one_hot(u_bar, A).float()), one(s_[t]))[0, 0]
                for i in range(N):
                    sums["td"].append((cf[i, u[i]] - y) ** 2)
                    sums["opt"].append((q_bar_sum - cf_bar[i, u_bar[i]].detach() + v) ** 2)
                    others = taken.sum() - taken[i]
                    gaps = [others + q[i, a] - cf[i, a].detach() + v for a in range(A) if av[t, i, a] > 0]
                    sums["nopt"].append(torch.stack(gaps).min() ** 2)
    out = {k: torch.stack(v).mean() for k, v in sums.items() if v}
    out["loss"] = out["td"] + cfg.lambda_opt * out.get("opt", 0.0) + cfg.lambda_nopt * out.get("nopt", 0.0)
    return out


def grads(learner, loss) -> dict[str, torch.Tensor]:
    learner.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    named = [(f"agent.{n}", p) for n, p in learner.agent.named_parameters()]
    named += [(f"mixer.{n}", p) for n, p in learner.mixer.named_parameters()]
    return {n: (p.grad.clone() if p.grad is not None else torch.zeros_like(p)) for n, p in named}


@pytest.mark.parametrize("td_lambda", [0.0, 0.6])
@pytest.mark.parametrize("agent", ["rnn", "mlp"])
@pytest.mark.parametrize("algo", REFERENCED)
def test_losses_and_gradients_match_the_per_step_reference(algo, agent, td_lambda):
    cfg = make_config(algo=algo, agent=agent, hidden_dim=8, qtran_embed_dim=8, mixing_embed_dim=4, hypernet_embed=8,
                      gamma=0.9, td_lambda=td_lambda, lambda_opt=0.7, lambda_nopt=1.3, device="cpu")
    torch.manual_seed(0)
    learner = make_learner(cfg, INFO)
    with torch.no_grad():  # targets that differ from the online networks, so mixing them up shows
        for p in list(learner.target_agent.parameters()) + list(learner.target_mixer.parameters()):
            p.add_(0.1 * torch.randn_like(p))
    batch = garbage_batch()
    lib = learner.losses(batch)
    ref = reference_losses(learner, batch)
    for k, v in ref.items():
        torch.testing.assert_close(lib[k], v, rtol=1e-5, atol=2e-6, msg=f"{algo} {k}")
    g_lib, g_ref = grads(learner, lib["loss"]), grads(learner, ref["loss"])
    for n in g_ref:
        torch.testing.assert_close(g_lib[n], g_ref[n], rtol=1e-4, atol=1e-6, msg=f"{algo} gradient of {n}")
    # the garbage really is ignored: new garbage, same losses
    other = garbage_batch(seed=0)
    pad = other["filled"] == 0
    g = torch.Generator().manual_seed(7)
    for k in ("reward", "terminated"):
        other[k] = torch.where(pad, torch.randn(other[k].shape, generator=g), other[k])
    other["actions"] = torch.where(pad.unsqueeze(-1), torch.randint(0, A, other["actions"].shape, generator=g),
                                   other["actions"])
    torch.testing.assert_close(learner.losses(other)["loss"], lib["loss"].detach(), rtol=1e-6, atol=1e-7)


# ---- QMIX: the mixing formula and monotonicity ----------------------------------------------------------------
def test_qmix_formula_and_monotonicity():
    from qtran_lib.mixers import QMixer

    torch.manual_seed(1)
    for layers in (1, 2):
        mixer = QMixer(N, S, 4, 8, layers)
        q = torch.randn(7, 5, N, requires_grad=True)
        s = torch.randn(7, 5, S)
        out = mixer(q, s)  # [7, 5]
        # by hand: Q_tot = elu(sum_i Q_i |W1(s)|_i + b1(s)) . |W2(s)| + V(s), the weights from the hypernetworks
        w1 = mixer.hyper_w1(s).abs().view(7, 5, N, 4)
        hidden = F.elu(torch.einsum("btn,btne->bte", q, w1) + mixer.hyper_b1(s))
        manual = (hidden * mixer.hyper_w2(s).abs()).sum(-1) + mixer.v(s).squeeze(-1)
        torch.testing.assert_close(out, manual)
        (grad,) = torch.autograd.grad(out.sum(), q)
        assert bool((grad >= 0).all()), "Q_tot must be monotonic in every Q_i"
        # and along random directions: raising any Q_i never lowers Q_tot
        bump = mixer(q + torch.rand(7, 5, N), s)
        assert bool((bump >= out - 1e-6).all())


# ---- a learner on an env whose episodes end at different steps ----------------------------------------------
class UnevenRace(MultiAgentEnv):
    """2 agents, 3 actions; episode b ends (terminal) when the agents' summed actions reach a goal that differs by
    row, else at the limit of 5: rows end at different steps, some truncated."""

    def env_info(self):
        return EnvInfo(n_agents=2, n_actions=3, obs_dim=2, state_dim=2, episode_limit=5)

    def _reset(self):
        self.total = torch.zeros(self.batch_size)
        self.goal = torch.arange(self.batch_size).float() % 6 * 3 + 1  # 1, 4, ..., 16

    def _step(self, actions):
        self.total = torch.where(self.active, self.total + actions.sum(-1).float(), self.total)
        done = self.total >= self.goal
        return done.float(), done, {}

    def get_obs(self):
        x = torch.stack([self.total / 16, self.goal / 16], -1)
        return x.unsqueeze(1).expand(-1, 2, -1).clone()

    def get_state(self):
        return torch.stack([self.total / 16, self.goal / 16], -1)

    def get_avail_actions(self):
        return torch.ones(self.batch_size, 2, 3)


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_learner_on_episodes_of_different_lengths(algo):
    env = UnevenRace(batch_size=12, seed=0)
    cfg = make_config(algo=algo, hidden_dim=8, qtran_embed_dim=8, mixing_embed_dim=4, hypernet_embed=8, device="cpu")
    torch.manual_seed(0)
    learner = make_learner(cfg, env.env_info())
    batch, stats = run_episodes(env, learner, epsilon=1.0, generator=torch.Generator().manual_seed(0))
    lengths = batch["filled"].sum(1)
    assert len(set(lengths.tolist())) >= 3 and bool((batch["terminated"].sum(1) < 1).any())  # uneven, some truncated
    out = [learner.train_step(batch) for _ in range(3)]
    assert all(torch.isfinite(torch.tensor(list(o.values()))).all() for o in out)
