"""Individual action-value networks Q_i(tau_i, .), shared by all agents (paper Sec. 3.2, f_q).

Introduced in book/01_dec_pomdp. Agents share parameters and tell themselves apart by an
agent-id one-hot in the input (``mlp_separate`` instead gives each agent its own weights).
Besides Q_i the network returns its hidden feature h_i, which QTRAN's joint networks read
(the paper's shared lower layers).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def agent_inputs(obs: torch.Tensor, last_actions: torch.Tensor | None, n_actions: int,
                 last_action: bool = True, agent_id: bool = True) -> torch.Tensor:
    """Build the network input [obs, one-hot last action, one-hot agent id].

    obs: [..., N, O]; last_actions: [..., N] int (or None at t = 0) -> [..., N, O (+A) (+N)].
    """
    parts = [obs]
    n = obs.shape[-2]
    if last_action:
        if last_actions is None:
            parts.append(obs.new_zeros(*obs.shape[:-1], n_actions))
        else:
            parts.append(F.one_hot(last_actions.long(), n_actions).to(obs.dtype))
    if agent_id:
        parts.append(torch.eye(n, dtype=obs.dtype, device=obs.device).expand(*obs.shape[:-1], n))
    return torch.cat(parts, dim=-1)


def input_dim(obs_dim: int, n_actions: int, n_agents: int, last_action: bool, agent_id: bool) -> int:
    """Size of an agent's input: its observation, plus its previous action and its id as one-hots when enabled."""
    return obs_dim + (n_actions if last_action else 0) + (n_agents if agent_id else 0)


class RNNAgent(nn.Module):
    """FC -> ReLU -> GRUCell -> FC, as in pymarl's DRQN agent; the hidden state carries tau_i."""

    def __init__(self, in_dim: int, n_actions: int, hidden_dim: int = 64):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.fc1 = nn.Linear(in_dim, hidden_dim)
        self.rnn = nn.GRUCell(hidden_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, n_actions)

    def init_hidden(self, *batch: int, device=None) -> torch.Tensor:
        return torch.zeros(*batch, self.hidden_dim, device=device or self.fc1.weight.device)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: [..., in], h: [..., H] -> q [..., A], h' [..., H] (h' is also the feature h_i)."""
        lead = x.shape[:-1]
        z = F.relu(self.fc1(x.reshape(-1, x.shape[-1])))
        h = self.rnn(z, h.reshape(-1, self.hidden_dim))  # [B*N, H]
        q = self.fc2(h)
        return q.reshape(*lead, -1), h.reshape(*lead, self.hidden_dim)


class MLPAgent(nn.Module):
    """A feed-forward agent for one-step and fully observed tasks; the hidden state is unused."""

    def __init__(self, in_dim: int, n_actions: int, hidden_dim: int = 64):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.body = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, hidden_dim), nn.ReLU())
        self.head = nn.Linear(hidden_dim, n_actions)

    def init_hidden(self, *batch: int, device=None) -> torch.Tensor:
        return torch.zeros(*batch, self.hidden_dim, device=device or self.head.weight.device)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat = self.body(x)  # [..., H]
        return self.head(feat), feat


class PerAgentLinear(nn.Module):
    """N independent Linear layers applied in one einsum: agent i's input only meets agent i's weights."""

    def __init__(self, n_agents: int, in_dim: int, out_dim: int):
        super().__init__()
        bound = in_dim ** -0.5  # nn.Linear's default uniform range, per agent
        self.weight = nn.Parameter(torch.empty(n_agents, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_agents, out_dim).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [..., N, in] -> [..., N, out]."""
        if x.shape[-2] != self.weight.shape[0]:
            raise ValueError(f"per-agent layer built for {self.weight.shape[0]} agents got input for {x.shape[-2]} "
                             f"(shape {tuple(x.shape)})")
        return torch.einsum("...ni,nio->...no", x, self.weight) + self.bias


class SeparateMLPAgent(MLPAgent):
    """The MLP agent with one set of weights per agent, as in the authors' matrix-game and Gaussian-squeeze code.

    Nothing is shared, so an agent id in the input is unnecessary (harmless if present).
    """

    def __init__(self, in_dim: int, n_actions: int, hidden_dim: int = 64, n_agents: int = 1):
        nn.Module.__init__(self)
        self.hidden_dim = hidden_dim
        self.body = nn.Sequential(PerAgentLinear(n_agents, in_dim, hidden_dim), nn.ReLU(),
                                  PerAgentLinear(n_agents, hidden_dim, hidden_dim), nn.ReLU())
        self.head = PerAgentLinear(n_agents, hidden_dim, n_actions)

    def init_hidden(self, *batch: int, device=None) -> torch.Tensor:
        return torch.zeros(*batch, self.hidden_dim, device=device or self.head.weight.device)


AGENTS = {"rnn": RNNAgent, "mlp": MLPAgent, "mlp_separate": SeparateMLPAgent}


def make_agent(kind: str, in_dim: int, n_actions: int, hidden_dim: int, n_agents: int = 1) -> nn.Module:
    """Build the shared agent network named in the config (rnn, mlp or mlp_separate); unknown names are refused."""
    if kind not in AGENTS:
        raise ValueError(f"unknown agent network {kind!r}; known: {', '.join(AGENTS)}")
    if kind == "mlp_separate":
        return SeparateMLPAgent(in_dim, n_actions, hidden_dim, n_agents)
    return AGENTS[kind](in_dim, n_actions, hidden_dim)


def unroll(agent: nn.Module, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the agent over whole episodes from a zero hidden state.

    inputs: [B, T, N, in] -> q [B, T, N, A], h [B, T, N, H] (time-major loop, batch-major output).
    """
    b, t, n, _ = inputs.shape
    h = agent.init_hidden(b, n, device=inputs.device)  # [B, N, H]
    qs, hs = [], []
    for step in range(t):
        q, h = agent(inputs[:, step], h)
        qs.append(q)
        hs.append(h)
    return torch.stack(qs, dim=1), torch.stack(hs, dim=1)
