"""Baseline for benchmarks/starcraft_speed.py: the same battle rules, one battle at a time.

A plain per-battle, per-unit Python/NumPy implementation of the rules of
``qtran_lib/envs/starcraft`` (orders, sticky closest-threat enemy AI, shields, armor,
medivac healing, chasing, one overlap pass per step, SMAC obs/state/avail). It reads the
same static unit tables so the work per step matches; splash units are left out because
the benchmark maps (3m, MMM2) have none. Written for clarity, as such envs usually are.
"""
from __future__ import annotations

import math

import numpy as np

from qtran_lib.envs.starcraft import StarCraftEnv

ATTACK, MOVE, IDLE = 2, 1, 0
DIRS = {2: (0.0, 1.0), 3: (0.0, -1.0), 4: (1.0, 0.0), 5: (-1.0, 0.0)}


class NumpyBattle:
    """One battle of a scenario; ``step(actions)`` loops over ticks and units in Python."""

    def __init__(self, scenario: str, seed: int = 0):
        env = StarCraftEnv(scenario, batch_size=1)
        T, self.cfg = env.tables, env.config
        self.N, self.E, self.U = T.n_agents, T.n_enemies, T.n_units
        self.n_actions = 6 + self.E
        self.limit = env.scenario.episode_limit
        g = {k: getattr(T, k).cpu().numpy() for k in ("hp_max", "shield_max", "radius", "speed", "cooldown", "scan",
                                                    "heal_rate", "healer", "raw_dmg", "hp_dmg", "range_plus_radius",
                                                    "type_onehot", "cooldown_norm", "is_ally", "start_pos")}
        self.__dict__.update(g)
        self.box, self.attack_point = T.box, T.attack_point.cpu().numpy()
        self.reward_norm = T.max_reward / 20.0
        self.rng = np.random.default_rng(seed)
        self.reset()

    def reset(self):
        self.pos = self.start_pos.copy()
        self.hp, self.shield = self.hp_max.copy(), self.shield_max.copy()
        self.energy = np.where(self.healer, 50.0, 0.0)
        self.cd = np.zeros(self.U)
        self.alive = np.ones(self.U, bool)
        self.mode = np.zeros(self.U, int)
        self.target = np.arange(self.U)
        self.goal = self.pos.copy()
        self.last_action = np.zeros(self.N, int)
        self.t = 0

    def dist(self, i, j):
        return math.hypot(self.pos[j, 0] - self.pos[i, 0], self.pos[j, 1] - self.pos[i, 1])

    def step(self, actions):
        N, U = self.N, self.U
        for i, a in enumerate(actions):
            self.mode[i] = IDLE
            if not self.alive[i]:
                continue
            if a in DIRS:
                self.mode[i] = MOVE
                self.goal[i] = self.pos[i] + 2.0 * np.array(DIRS[a])
            elif a >= 6:
                self.mode[i] = ATTACK
                self.target[i] = a - 6 if self.healer[i] else N + a - 6
        self.last_action = np.array(actions)
        prev = (self.hp + self.shield)[N:].sum()
        prev_dead = (~self.alive[N:]).sum()
        dt = self.cfg.dt
        for k in range(self.cfg.ticks_per_step):
            if k % self.cfg.ai_every == 0:
                self.enemy_ai()
            raw_in, hp_in, heal_in = np.zeros(U), np.zeros(U), np.zeros(U)
            fire = np.zeros(U, bool)
            for u in range(U):
                if not self.alive[u] or self.mode[u] != ATTACK or not self.alive[self.target[u]]:
                    continue
                t = self.target[u]
                if self.dist(u, t) <= self.range_plus_radius[u] + self.radius[t]:
                    if self.healer[u]:
                        amount = min(self.heal_rate[u] * dt, self.energy[u] * 3, self.hp_max[t] - self.hp[t])
                        heal_in[t] += amount
                        self.energy[u] -= amount / 3
                    elif self.cd[u] <= 0:
                        fire[u] = True
                        raw_in[t] += self.raw_dmg[u, t]
                        hp_in[t] += self.hp_dmg[u, t]
            for u in range(U):
                absorb = min(self.shield[u], raw_in[u])
                if raw_in[u] > 0:
                    self.hp[u] -= hp_in[u] * (raw_in[u] - absorb) / raw_in[u]
                    self.shield[u] -= absorb
                if self.hp[u] > 0:
                    self.hp[u] = min(self.hp[u] + heal_in[u], self.hp_max[u])
                self.energy[u] = min(self.energy[u] + 0.5625 * dt * self.healer[u], 200.0)
                self.cd[u] = max((self.cooldown[u] if fire[u] else self.cd[u]) - dt, 0.0)
                if self.hp[u] <= 0:
                    self.hp[u], self.shield[u], self.alive[u] = 0.0, 0.0, False
            for u in range(U):
                self.move(u, dt)
        self.collide()
        self.t += 1
        allies_up = any(self.alive[i] and not self.healer[i] for i in range(N))
        enemies_up = any(self.alive[j] and not self.healer[j] for j in range(N, U))
        won = allies_up and not enemies_up
        r = abs(prev - (self.hp + self.shield)[N:].sum() + 10 * ((~self.alive[N:]).sum() - prev_dead)) + 200 * won
        done = not (allies_up and enemies_up) or self.t >= self.limit
        return r / self.reward_norm, done, won

    def enemy_ai(self):
        N, U = self.N, self.U
        for e in range(N, U):
            if not self.alive[e]:
                continue
            best, best_cost = -1, math.inf
            for a in range(N):
                if not self.alive[a]:
                    continue
                d = self.dist(e, a)
                threat = self.mode[a] == ATTACK and self.target[a] == e
                if d <= self.scan[e] + self.radius[a] or threat:
                    cost = d - 1000.0 * self.healer[a]
                    if cost < best_cost:
                        best, best_cost = a, cost
            t = self.target[e]
            keep = (self.mode[e] == ATTACK and t < N and self.alive[t]
                    and (self.dist(e, t) <= self.range_plus_radius[e] + self.radius[t]
                         or (self.mode[t] == ATTACK and self.target[t] == e)))
            if keep:
                continue
            if best >= 0:
                self.mode[e], self.target[e] = ATTACK, best
            else:
                self.mode[e] = MOVE
                self.goal[e] = self.attack_point

    def move(self, u, dt):
        if not self.alive[u]:
            return
        t = self.target[u]
        if self.mode[u] == ATTACK and self.alive[t]:
            reach = self.range_plus_radius[u] + self.radius[t]
            d = self.dist(u, t)
            if d <= reach:
                return
            goal, room = self.pos[t], d - reach + 0.01
        elif self.mode[u] == MOVE:
            goal = self.goal[u]
            room = math.hypot(*(goal - self.pos[u]))
        else:
            return
        v = goal - self.pos[u]
        n = max(math.hypot(*v), 1e-6)
        self.pos[u] += v / n * min(self.speed[u] * dt, room)
        x0, y0, x1, y1 = self.box
        self.pos[u] = np.clip(self.pos[u], [x0 + 0.01, y0 + 0.01], [x1 - 0.01, y1 - 0.01])

    def collide(self):
        push = np.zeros_like(self.pos)
        for i in range(self.U):
            for j in range(self.U):
                if i == j or not (self.alive[i] and self.alive[j]) or self.healer[i] != self.healer[j]:
                    continue
                d = self.dist(i, j)
                overlap = self.radius[i] + self.radius[j] - d
                if overlap > 0:
                    push[i] -= 0.5 * (self.pos[j] - self.pos[i]) / max(d, 1e-6) * overlap
        self.pos += push

    def avail(self):
        out = np.zeros((self.N, self.n_actions))
        x0, y0, x1, y1 = self.box
        for i in range(self.N):
            if not self.alive[i]:
                out[i, 0] = 1
                continue
            x, y = self.pos[i]
            out[i, 1:6] = [1, y + 1 < y1, y - 1 >= y0, x + 1 < x1, x - 1 >= x0]
            for j in range(self.E):
                t = j if self.healer[i] else self.N + j
                if t < self.U and self.alive[t] and self.dist(i, t) <= 6 and not (self.healer[i] and self.healer[t]):
                    out[i, 6 + j] = 1
        return out

    def obs(self, avail):
        rows = []
        for i in range(self.N):
            feats = [avail[i, 2:6]]
            for j in list(range(self.N, self.U)) + [k for k in range(self.N) if k != i]:
                f = np.zeros(5 + 1 + self.type_onehot.shape[1])
                d = self.dist(i, j)
                if self.alive[i] and self.alive[j] and d < 9:
                    flag = avail[i, 6 + j - self.N] if j >= self.N else 1.0
                    f[:6] = [flag, d / 9, (self.pos[j, 0] - self.pos[i, 0]) / 9, (self.pos[j, 1] - self.pos[i, 1]) / 9,
                             self.hp[j] / self.hp_max[j], self.shield[j] / max(self.shield_max[j], 1e-6)]
                    f[6:] = self.type_onehot[j]
                feats.append(f)
            feats.append(np.concatenate([[self.hp[i] / self.hp_max[i]], self.type_onehot[i]]))
            rows.append(np.concatenate(feats) * self.alive[i])
        return np.stack(rows)

    def state(self):
        rows = []
        for u in range(self.U):
            cd = min(self.cd[u] / self.cooldown_norm[u], 1.0)
            rows.append(np.concatenate([[self.hp[u] / self.hp_max[u], cd, self.pos[u, 0] / 32, self.pos[u, 1] / 32],
                                        self.type_onehot[u]]) * self.alive[u])
        last = np.eye(self.n_actions)[self.last_action].ravel()
        return np.concatenate(rows + [last])

    def random_actions(self, avail):
        return [int(self.rng.choice(np.flatnonzero(row))) for row in avail]


def run_loop(scenario: str, n_battles: int, n_steps: int, seed: int = 0) -> int:
    """Step ``n_battles`` battles one after another for ``n_steps`` each (random legal actions,
    obs/state/avail built every step). Returns the number of battle-steps taken."""
    battles = [NumpyBattle(scenario, seed + i) for i in range(n_battles)]
    done_steps = 0
    for _ in range(n_steps):
        for b in battles:
            avail = b.avail()
            _, done, _ = b.step(b.random_actions(avail))
            avail = b.avail()
            b.obs(avail)
            b.state()
            done_steps += 1
            if done:
                b.reset()
    return done_steps
