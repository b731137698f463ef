"""Can a model learn what the primitive's latent does over one high-level step?

    python examples/ant_latent_model.py                      # 40 maze episodes, 8,000 states, interval 3
    python examples/ant_latent_model.py --interval 15        # the longer interval of the maze runs
    python examples/ant_latent_model.py --quick              # a smoke run for CI

A diagnostic for ``examples/ant_maze.py``. Its high level must learn, from data, which latent ``h``
moves the ant towards the goal. Over 3 env steps a latent's effect is smooth but small
(``ant_maze_sensitivity.py``), and a planner with the simulator steers with it
(``ant_maze_planner.py --execute 3 --horizon 3``). This asks whether that effect can be learned
from the observation at all, without bootstrapping or exploration in the way.

Data: ``--episodes`` maze episodes (goal 2, seeds 100 + e), walked with a random latent that changes
every 15 env steps. Every ``--every`` env steps the whole MuJoCo state is saved and ``--latents``
latents ``h ~ N(0, I)`` are each held for ``--interval`` env steps from it (the state restored
exactly each time); each gives the displacement ``Δxy``. Model: a (``--width``, ``--width``) ReLU
MLP of (standardised observation, ``h``) trained with Adam on the **latent part** of the
displacement, ``Δxy(s, h) − mean_j Δxy(s, h_j)`` (the motion the ant makes whatever the latent is
removed, so only what ``h`` changes is left), on the states of 80% of the episodes; the other
episodes are held out.

Reported after every 10 epochs, on the held-out states: the R² of the latent part (0: no better than
predicting no effect), the same on the training states, and the **greedy share**: the eastward
progress of the latent the model ranks first, as a share of the best of the ``--latents`` (1 is the
planner's choice, 0 a random one). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from torch import nn

from softskills.envs.sim_state import restore_sim_state, save_sim_state
from softskills.hierarchy import LatentActionWrapper

from ant_maze_sensitivity import closed_loop, maze  # noqa: E402  (examples/ is the script's directory)


def collect(env: LatentActionWrapper, episodes: int, every: int, latents: int, interval: int, steps: int,
            seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """States of ``episodes`` maze episodes and what ``latents`` latents do from each.

    Returns:
        Observations ``(S, obs)``, latents ``(S, J, dim)``, displacements ``(S, J, 2)`` after
        ``interval`` env steps, and each state's episode ``(S,)``.
    """
    dim = env.action_space.shape[0]
    obs_l, h_l, d_l, ep_l = [], [], [], []
    for e in range(episodes):
        rng = np.random.default_rng([seed, e])
        env.reset(seed=100 + e)
        walk = rng.standard_normal(dim)
        for t in range(steps):
            if t % 15 == 0:
                walk = rng.standard_normal(dim)
            if t % every == 0:
                state = save_sim_state(env)
                hs = rng.standard_normal((latents, dim))
                ds = [closed_loop(env, state, h, interval)[0] for h in hs]
                obs_l.append(np.asarray(restore_sim_state(env, state), dtype=np.float32))
                h_l.append(hs.astype(np.float32))
                d_l.append(np.stack(ds).astype(np.float32))
                ep_l.append(e)
            _, _, term, trunc, _ = env.step(walk)
            if term or trunc:
                break
    return np.stack(obs_l), np.stack(h_l), np.stack(d_l), np.asarray(ep_l)


def fit(obs: np.ndarray, lat: np.ndarray, disp: np.ndarray, episode: np.ndarray, epochs: int, width: int,
        seed: int) -> list[dict[str, float]]:
    """Train an MLP on the latent part of the displacement and score it on held-out episodes.

    The split is by episode (80% of the episodes train, the rest are held out), so that no held-out
    state is a few env steps from a training state.

    Args:
        obs: ``(S, obs)`` observations. lat: ``(S, J, dim)`` latents. disp: ``(S, J, 2)`` displacements.
        episode: ``(S,)`` each state's episode.
        epochs: passes over the training states. width: hidden width. seed: split, init and batches.

    Returns:
        After every 10 epochs (and the last): the held-out and training R² of the latent part and the
        greedy share.
    """
    s, j, dim = lat.shape
    eps = np.random.default_rng(seed).permutation(np.unique(episode))
    n_train = max(1, min(len(eps) - 1, round(0.8 * len(eps))))
    train_eps = np.isin(episode, eps[:n_train])
    tr, te = np.flatnonzero(train_eps), np.flatnonzero(~train_eps)
    if len(tr) == 0 or len(te) == 0:
        raise ValueError(f"need states from at least 2 episodes to hold some out; got episodes {np.unique(episode)}")
    mu, sd = obs[tr].mean(0), obs[tr].std(0) + 1e-6
    obs_n = ((obs - mu) / sd).astype(np.float32)
    part = disp - disp.mean(1, keepdims=True)  # what the latent changes
    scale = part[tr].reshape(-1, 2).std(0) + 1e-12

    def tensors(idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        x = np.concatenate([np.repeat(obs_n[idx], j, 0), lat[idx].reshape(-1, dim)], 1)
        return torch.from_numpy(x), torch.from_numpy((part[idx] / scale).reshape(-1, 2).astype(np.float32))

    def r2(x: torch.Tensor, y: torch.Tensor) -> tuple[float, np.ndarray]:
        with torch.no_grad():
            pred = net(x).numpy().reshape(-1, j, 2)
        pred = pred - pred.mean(1, keepdims=True)  # a model of the latent part has no per-state offset
        true = y.numpy().reshape(-1, j, 2)
        return float(1 - ((pred - true) ** 2).sum() / (true ** 2).sum()), pred

    x_tr, y_tr = tensors(tr)
    x_te, y_te = tensors(te)
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(x_tr.shape[1], width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                        nn.Linear(width, 2))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    east = part[te][:, :, 0]
    scores = []
    for ep in range(epochs):
        order = torch.randperm(len(x_tr), generator=gen)
        for i in range(0, len(x_tr), 256):
            b = order[i:i + 256]
            loss = ((net(x_tr[b]) - y_tr[b]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        if (ep + 1) % 10 == 0 or ep + 1 == epochs:
            r2_te, pred = r2(x_te, y_te)
            r2_tr, _ = r2(x_tr[: 2000 * j], y_tr[: 2000 * j])
            chosen = east[np.arange(len(te)), pred[:, :, 0].argmax(1)]
            scores.append({"epoch": ep + 1, "r2_latent_part_test": r2_te, "r2_latent_part_train": r2_tr,
                           "greedy_share": float(chosen.mean() / east.max(1).mean())})
    return scores


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--interval", type=int, default=3, help="env steps each latent is held (one high-level step)")
    p.add_argument("--episodes", type=int, default=40, help="maze episodes to draw states from")
    p.add_argument("--every", type=int, default=5, help="env steps between probed states")
    p.add_argument("--latents", type=int, default=8, help="latents tried from each state")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--width", type=int, default=256, help="hidden width of the MLP")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--primitive", default="pretrained:ant-velocity",
                   help="pretrained:NAME or a run directory of examples/pretrain_locomotion.py")
    p.add_argument("--quick", action="store_true", help="2 short episodes and 2 epochs, for CI")
    a = p.parse_args()
    for name in ("interval", "episodes", "every", "epochs", "width"):
        if getattr(a, name) < 1:
            p.error(f"--{name} must be at least 1, got {getattr(a, name)}")
    if a.latents < 2:
        p.error(f"--latents must be at least 2 (the latent part compares latents), got {a.latents}")
    steps = 1000
    if a.quick:
        a.episodes, a.epochs, steps = 2, 2, 60
    torch.set_num_threads(1)
    t = time.perf_counter()
    env = maze(2, a.primitive)
    try:
        obs, lat, disp, episode = collect(env, a.episodes, a.every, a.latents, a.interval, steps, a.seed)
    finally:
        env.close()
    collect_s = time.perf_counter() - t
    scores = fit(obs, lat, disp, episode, a.epochs, a.width, a.seed)
    part = disp - disp.mean(1, keepdims=True)
    for s in scores:
        print(f"epoch {s['epoch']}: R² of the latent part {s['r2_latent_part_test']:.3f} held out, "
              f"{s['r2_latent_part_train']:.3f} on training states; greedy share {s['greedy_share']:.3f}")
    print(json.dumps({"example": "ant_latent_model", "quick": a.quick, "primitive": a.primitive,
                      "interval": a.interval, "states": int(len(obs)), "latents": a.latents, "epochs": a.epochs,
                      "width": a.width, "seed": a.seed, "latent_part_std_m": part.reshape(-1, 2).std(0).tolist(),
                      "displacement_std_m": disp.reshape(-1, 2).std(0).tolist(), "scores": scores,
                      "collect_s": round(collect_s, 1), "wall_s": round(time.perf_counter() - t, 1)}))


if __name__ == "__main__":
    main()
