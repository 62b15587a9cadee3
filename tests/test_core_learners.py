"""Every algorithm x a tiny config: updates run, every parameter receives a gradient, and each
QTRAN loss term reaches exactly the networks the paper says it should."""
import itertools

import pytest
import torch

from qtran_lib.config import ALGORITHMS, make_config
from qtran_lib.envs import make_env
from qtran_lib.envs.base import EnvInfo
from qtran_lib.learners import LEARNERS, make_learner
from qtran_lib.learners.base import step_slices
from qtran_lib.losses import td_targets
from qtran_lib.runner import run_episodes
from toy_envs import CoordinationChain


def _batch(algo, env, agent="rnn", **kw):
    cfg = make_config(algo=algo, agent=agent, hidden_dim=16, qtran_embed_dim=16, mixing_embed_dim=8, hypernet_embed=16, **kw)
    torch.manual_seed(0)
    learner = make_learner(cfg, env.env_info())
    episodes, _ = run_episodes(env, learner, epsilon=1.0, generator=torch.Generator().manual_seed(0))
    return learner, episodes


def test_registry_matches_config_choices():
    assert set(LEARNERS) == set(ALGORITHMS)


@pytest.mark.parametrize("algo", ALGORITHMS)
@pytest.mark.parametrize("agent", ["rnn", "mlp", "mlp_separate"])
def test_every_parameter_gets_a_gradient(algo, agent):
    learner, batch = _batch(algo, CoordinationChain(batch_size=4, seed=0), agent=agent)
    terms = learner.losses(batch)
    terms["loss"].backward()
    missing = [n for mod in ("agent", "mixer") for n, p in getattr(learner, mod).named_parameters()
               if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing, f"{algo}: no gradient reaches {missing}"
    assert all(p.grad is None for p in learner.target_agent.parameters())
    # and the optimiser really holds every trainable parameter
    held = {id(p) for g in learner.optimizer.param_groups for p in g["params"]}
    assert all(id(p) in held for p in list(learner.agent.parameters()) + list(learner.mixer.parameters()))


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_updates_run_and_change_parameters(algo):
    learner, batch = _batch(algo, CoordinationChain(batch_size=4, seed=0), target_update_interval=2)
    before = [p.detach().clone() for p in learner.agent.parameters()]
    for _ in range(3):
        out = learner.train_step(batch)
    assert all(torch.isfinite(torch.tensor(v)) for v in out.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, learner.agent.parameters()))
    assert learner.n_updates == 3
    # target networks were copied at update 2, so they differ from the online ones after update 3
    tgt = dict(learner.target_agent.named_parameters())
    assert any(not torch.equal(p, tgt[n]) for n, p in learner.agent.named_parameters())


def _grad_owners(learner, term):
    learner.optimizer.zero_grad(set_to_none=True)
    learner.losses(learner._batch)[term].backward()
    owners = set()
    for name, p in learner.mixer.named_parameters():
        if p.grad is not None and p.grad.abs().sum() > 0:
            owners.add(name.split(".")[0])
    if any(p.grad is not None and p.grad.abs().sum() > 0 for p in learner.agent.parameters()):
        owners.add("agent")
    return owners


@pytest.mark.parametrize("algo", ["qtran_base", "qtran_alt"])
def test_qtran_gradient_routing(algo):
    """L_td trains Q_jt (and the shared agent trunk); L_opt and L_nopt never train Q_jt's head."""
    learner, batch = _batch(algo, CoordinationChain(batch_size=8, seed=1))
    learner._batch = batch
    td = _grad_owners(learner, "td")
    assert {"q_head", "action_encoder", "agent"} <= td and "v_head" not in td
    for term in ("opt", "nopt"):
        owners = _grad_owners(learner, term)
        assert "q_head" not in owners and "action_encoder" not in owners, (term, owners)
        assert {"agent", "v_head"} <= owners, (term, owners)


@pytest.mark.parametrize("algo", ["qtran_base", "qtran_alt"])
def test_qtran_detached_features_keep_td_out_of_the_agents(algo):
    learner, batch = _batch(algo, CoordinationChain(batch_size=8, seed=1), qtran_detach_features=True)
    learner._batch = batch
    td = _grad_owners(learner, "td")
    assert {"q_head", "action_encoder"} <= td and "agent" not in td
    assert "agent" in _grad_owners(learner, "nopt")  # the utilities still learn from the transformation


@pytest.mark.parametrize("algo", ["qtran_base", "qtran_alt"])
def test_qtran_joint_networks_on_raw_inputs(algo):
    """qtran_joint_input=inputs: Q_jt and V_jt read the agents' inputs, so L_td reaches only the joint
    networks, the agents learn from L_opt/L_nopt, and the joint networks are sized for those inputs."""
    learner, batch = _batch(algo, CoordinationChain(batch_size=8, seed=1), qtran_joint_input="inputs")
    learner._batch = batch
    td = _grad_owners(learner, "td")
    assert {"q_head", "action_encoder"} <= td and "agent" not in td
    assert {"agent", "v_head"} <= _grad_owners(learner, "opt")
    with torch.no_grad():
        q, feats = learner.unroll(batch)
        x = learner.episode_inputs(batch)  # [B, T+1, N, in]
        torch.testing.assert_close(feats, x)
        assert learner.mixer.action_encoder[0].in_features == x.shape[-1] + learner.info.n_actions
        assert learner.unroll(batch, next_step=False)[1].shape[1] == x.shape[1] - 1
    with pytest.raises(ValueError, match="qtran_joint_input must be features or inputs"):
        make_config(algo="qtran_base", qtran_joint_input="state").validate()


def test_qtran_without_v_network():
    learner, batch = _batch("qtran_base", CoordinationChain(batch_size=4), qtran_use_v=False)
    assert not hasattr(learner.mixer, "v_head")
    assert learner.losses(batch)["loss"].isfinite()


@pytest.mark.parametrize("target", ["joint", "individual"])
@pytest.mark.parametrize("double_q", [True, False])
def test_qtran_td_target_variants(target, double_q):
    learner, batch = _batch("qtran_alt", CoordinationChain(batch_size=4), qtran_td_target=target, double_q=double_q)
    assert learner.losses(batch)["td"].isfinite()


def test_one_step_batches_skip_bootstrapping():
    """For one-step games the target is the reward alone, whatever the target network says."""
    env = make_env("matrix:paper", batch_size=9)
    learner, batch = _batch("vdn", env, agent="mlp")
    with torch.no_grad():
        for p in learner.target_agent.parameters():
            p.add_(100.0)
    q, _ = learner.unroll(batch, next_step=False)
    chosen = q[:, :1].gather(-1, batch["actions"][:, :1].unsqueeze(-1)).squeeze(-1).sum(-1)
    expected = ((chosen - batch["reward"][:, :1]) ** 2).mean()
    assert learner.losses(batch)["td"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_unknown_algorithm_is_rejected():
    with pytest.raises(ValueError, match="unknown algorithm 'qtran'"):
        make_config(algo="qtran")


def test_separate_agents_share_nothing():
    """mlp_separate: perturbing agent 1's weights changes only agent 1's utilities."""
    from qtran_lib.agent_network import make_agent
    torch.manual_seed(0)
    agent = make_agent("mlp_separate", in_dim=5, n_actions=4, hidden_dim=8, n_agents=3)
    x = torch.randn(6, 3, 5)  # [B, N, in]
    q0, h0 = agent(x, None)
    assert q0.shape == (6, 3, 4) and h0.shape == (6, 3, 8)
    with torch.no_grad():
        agent.head.weight[1] += 1.0
    q1, _ = agent(x, None)
    assert torch.equal(q0[:, [0, 2]], q1[:, [0, 2]]) and not torch.allclose(q0[:, 1], q1[:, 1])
    with pytest.raises(ValueError, match="built for 3 agents"):
        agent(torch.randn(6, 4, 5), None)


def test_per_episode_epsilon_keeps_a_uniform_share_of_the_episodes():
    """epsilon_uniform_fraction: the first episodes explore uniformly, the rest follow the schedule."""
    from qtran_lib.exploration import episode_epsilons, epsilon_greedy

    assert episode_epsilons(0.1, 8, 0.0) == 0.1  # no uniform share: the scalar path, unchanged
    eps = episode_epsilons(0.0, 8, 0.5)
    assert eps.tolist() == [1.0] * 4 + [0.0] * 4
    q = torch.zeros(8, 3, 5)  # [B, N, A]
    q[..., 2] = 1.0  # greedy action 2 for everyone
    u = epsilon_greedy(q, torch.ones_like(q), eps, torch.Generator().manual_seed(0))  # [B, N]
    assert (u[4:] == 2).all()  # epsilon 0: greedy
    assert (u[:4] != 2).any()  # epsilon 1: uniform over the 5 actions
    with pytest.raises(ValueError, match="per-episode epsilon"):
        epsilon_greedy(q, torch.ones_like(q), torch.ones(3))
    with pytest.raises(ValueError, match="epsilon_uniform_fraction"):
        make_config(epsilon_uniform_fraction=1.5)


def test_scheduled_lr_falls_linearly_to_the_final_fraction():
    from qtran_lib.config import load_yaml
    from qtran_lib.train import scheduled_lr

    cfg = make_config(load_yaml("gaussian_squeeze_long"), algo="qtran_base", t_max=20_480_000)
    assert scheduled_lr(cfg, 0, 0) == pytest.approx(5e-4)
    assert scheduled_lr(cfg, 10_240_000, 40_000) == pytest.approx(5e-4 * (1 - 0.95 / 2))
    assert scheduled_lr(cfg, 20_480_000, 80_000) == pytest.approx(2.5e-5)
    assert scheduled_lr(cfg, 30_000_000, 90_000) == pytest.approx(2.5e-5)  # stays at the floor past t_max
    by_updates = make_config(cfg.to_dict(), max_updates=100)
    assert scheduled_lr(by_updates, 0, 50) == pytest.approx(5e-4 * (1 - 0.95 / 2))


def test_qtran_nopt_at_all_joint_actions_by_hand():
    """qtran_nopt_actions=all is the mean of L_nopt's hinge over every (step, joint action), counted by hand."""
    from qtran_lib.losses import nopt_loss

    env = CoordinationChain(batch_size=4, seed=0)
    learner, batch = _batch("qtran_base", env, qtran_nopt_actions="all")
    s = step_slices(batch)
    steps = s["mask"].shape[1]
    with torch.no_grad():
        q, h = learner.unroll(batch)
        q, h = q[:, :steps], h[:, :steps]  # [B, T, N, A], [B, T, N, H]
        v = learner.mixer.v(h, s["state"])
        n, a = learner.info.n_agents, learner.info.n_actions
        gaps, weights = [], []
        for u in itertools.product(range(a), repeat=n):
            u = torch.tensor(u).expand(*q.shape[:2], n)  # [B, T, N]
            ok = s["avail"].gather(-1, u.unsqueeze(-1)).squeeze(-1).prod(-1)  # [B, T]
            w = s["mask"] * ok
            gaps.append(nopt_loss(q.gather(-1, u.unsqueeze(-1)).squeeze(-1).sum(-1),
                                  learner.mixer(h, learner.one_hot(u), s["state"]), v, w) * w.sum())
            weights.append(w.sum())
        expected = sum(gaps) / sum(weights)
        got = learner.nopt_all_actions(q, h, v, s["state"], s["avail"], s["mask"])
    assert float(expected) > 0 and float(got) == pytest.approx(float(expected), rel=1e-5)
    assert float(learner.losses(batch)["nopt"].detach()) == pytest.approx(float(expected), rel=1e-4)
    with pytest.raises(ValueError, match="QTRAN-base option"):
        make_config(algo="qtran_alt", qtran_nopt_actions="all").validate()
    with pytest.raises(ValueError, match="taken or all"):
        make_config(algo="qtran_base", qtran_nopt_actions="some").validate()
    with pytest.raises(ValueError, match="A\\^N <= 4096"):  # 3 agents x 17 actions: caught when the learner is built
        make_learner(make_config(algo="qtran_base", qtran_nopt_actions="all"), EnvInfo(3, 17, 4, 4, 5))


@pytest.mark.parametrize("double_q", [True, False])
def test_qtran_joint_max_target_by_hand(double_q):
    """qtran_td_target=joint_max bootstraps from Q_jt^- at the best available joint action, found by looping
    over every joint action (the online Q_jt picks it under double Q)."""
    env = CoordinationChain(batch_size=4, seed=0)
    learner, batch = _batch("qtran_base", env, qtran_td_target="joint_max", double_q=double_q)
    for p in learner.target_mixer.parameters():  # make the target differ from the online network
        p.data.add_(0.05 * torch.randn_like(p))
    s = step_slices(batch)
    with torch.no_grad():
        q, h = learner.unroll(batch, next_step=True)
        _, h_tgt = learner.unroll(batch, target=True)
        h_next, h_tgt_next = h[:, 1:], h_tgt[:, 1:]  # [B, T, N, H]
        n, a = learner.info.n_agents, learner.info.n_actions
        best_pick = best_val = None
        for u in itertools.product(range(a), repeat=n):
            u = torch.tensor(u).expand(*h_next.shape[:2], n)  # [B, T, N]
            ok = s["next_avail"].gather(-1, u.unsqueeze(-1)).squeeze(-1).prod(-1).bool()  # [B, T]
            tgt = learner.target_mixer(h_tgt_next, learner.one_hot(u), s["next_state"])  # [B, T]
            pick = learner.mixer(h_next, learner.one_hot(u), s["next_state"]) if double_q else tgt
            pick = pick.masked_fill(~ok, float("-inf"))
            if best_pick is None:
                best_pick, best_val = pick, tgt
            else:
                better = pick > best_pick
                best_pick, best_val = torch.where(better, pick, best_pick), torch.where(better, tgt, best_val)
        expected = td_targets(s["reward"], s["terminated"], s["mask"], best_val, learner.cfg.gamma, 0.0)
        got = learner.td_target(s, q, h, batch)
    torch.testing.assert_close(got, expected)
    with pytest.raises(ValueError, match="QTRAN-base option"):
        make_config(algo="qtran_alt", qtran_td_target="joint_max").validate()
    with pytest.raises(ValueError, match="A\\^N <= 4096"):
        make_learner(make_config(algo="qtran_base", qtran_td_target="joint_max"), EnvInfo(3, 17, 4, 4, 5))
