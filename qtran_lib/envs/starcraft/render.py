"""Pictures of a battle: one frame as a matplotlib Figure, or an episode as an HTML/JS animation.

Introduced in book/06_starcraft. matplotlib is imported only when a function here runs.
Allies are blue, enemies red; each unit is a circle of its true radius with an HP bar
(and a cyan shield bar for Protoss) above it; fallen units are faint crosses.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ALLY, ENEMY = "#1f77b4", "#d62728"


@dataclass
class EpisodeRecorder:
    """Stores positions and health of one battle (index ``b``) at every recorded step."""

    env: object
    b: int = 0
    frames: list = field(default_factory=list)

    def record(self) -> None:
        s = self.env.battle
        self.frames.append({k: getattr(s, k)[self.b].detach().cpu().numpy().copy()
                            for k in ("x", "y", "hp", "shield", "alive")} | {"t": int(self.env.t[self.b])})

    def meta(self) -> dict:
        T = self.env.tables
        return {"radius": T.radius.cpu().numpy(), "ally": T.is_ally.cpu().numpy(), "hp_max": T.hp_max.cpu().numpy(),
                "shield_max": T.shield_max.cpu().numpy(), "box": T.box, "map_size": self.env.scenario.map_size,
                "walkable": None if T.walkable is None else T.walkable.cpu().numpy(),
                "title": self.env.scenario.name}


class AnimationHTML(str):
    """An HTML string that Jupyter (and Jupyter Book) display as the animation itself."""

    def _repr_html_(self) -> str:
        return str(self)


def _draw(ax, frame: dict, meta: dict) -> None:
    from matplotlib.patches import Circle, Rectangle

    ax.clear()
    w, h = meta["map_size"]
    ax.set_xlim(0, w)
    ax.set_ylim(0, h)
    ax.set_aspect("equal")
    ax.set_facecolor("#3a3a3a")
    if meta["walkable"] is not None:
        ax.imshow(meta["walkable"], origin="lower", extent=(0, w, 0, h), cmap="Greys_r", alpha=0.8, vmin=-1, vmax=1)
    else:
        x0, y0, x1, y1 = meta["box"]
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, color="#b8b39b", zorder=0))
    for i in range(len(frame["x"])):
        x, y, r = frame["x"][i], frame["y"][i], meta["radius"][i]
        colour = ALLY if meta["ally"][i] else ENEMY
        if not frame["alive"][i]:
            ax.plot([x], [y], marker="x", color=colour, alpha=0.35, markersize=5)
            continue
        ax.add_patch(Circle((x, y), r, color=colour, ec="black", lw=0.5, zorder=2))
        bar = max(2 * r, 0.8)
        frac = frame["hp"][i] / meta["hp_max"][i]
        ax.add_patch(Rectangle((x - bar / 2, y + r + 0.15), bar, 0.18, color="black", zorder=3))
        ax.add_patch(Rectangle((x - bar / 2, y + r + 0.15), bar * frac, 0.18, color="#2ca02c", zorder=4))
        if meta["shield_max"][i] > 0:
            sfrac = frame["shield"][i] / meta["shield_max"][i]
            ax.add_patch(Rectangle((x - bar / 2, y + r + 0.36), bar * sfrac, 0.12, color="#17becf", zorder=4))
    n_a = int(np.sum(frame["alive"] & meta["ally"]))
    n_e = int(np.sum(frame["alive"] & ~meta["ally"]))
    ax.set_title(f"{meta['title']}  step {frame['t']}  allies {n_a}  enemies {n_e}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def render_frame(env, b: int = 0, size: float = 5.0):
    """A matplotlib Figure of battle ``b`` of ``env`` as it is now."""
    from matplotlib.figure import Figure

    rec = EpisodeRecorder(env, b)
    rec.record()
    fig = Figure(figsize=(size, size))
    _draw(fig.add_subplot(1, 1, 1), rec.frames[0], rec.meta())
    return fig


def animate_episode(frames, meta: dict | None = None, interval: int = 200, size: float = 5.0) -> AnimationHTML:
    """HTML/JS animation of recorded frames (an ``EpisodeRecorder`` or its ``frames`` plus ``meta``)."""
    from matplotlib.animation import FuncAnimation
    from matplotlib.figure import Figure

    if isinstance(frames, EpisodeRecorder):
        meta, frames = frames.meta(), frames.frames
    if not frames or meta is None:
        raise ValueError("animate_episode needs at least one frame and the recorder's meta")
    fig = Figure(figsize=(size, size))
    ax = fig.add_subplot(1, 1, 1)
    anim = FuncAnimation(fig, lambda k: _draw(ax, frames[k], meta), frames=len(frames), interval=interval)
    return AnimationHTML(anim.to_jshtml(default_mode="once"))
