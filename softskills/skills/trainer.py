"""The training loop: K skills' envs in lockstep, warm-up, updates, evaluation, logging, checkpoints.

What lives elsewhere: config (de)serialisation in :mod:`~softskills.skills.config_io`, the
checkpoint contents in :mod:`~softskills.skills.run_state`, loading a trained agent in
:mod:`~softskills.skills.loading`, evaluation in :mod:`~softskills.skills.evaluate`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from softskills.skills.buffer import ReplayBuffer
from softskills.skills.checkpoint import CheckpointError, checkpoint_dir, load_checkpoint, save_checkpoint
from softskills.skills.config import TrainConfig
from softskills.skills.config_io import config_from_dict, config_to_dict, resume_config
from softskills.skills.evaluate import evaluate
from softskills.skills.factory import EnvFactory, build_agent, default_env_factory
from softskills.skills.loading import load_agent  # noqa: F401  (re-exported: softskills.skills.trainer.load_agent)
from softskills.skills.logger import Logger
from softskills.skills.memory import retain_freed_memory
from softskills.skills.nonfinite import NonFiniteLossError, NonFiniteTracker
from softskills.skills.run_state import restore_trainer_state, trainer_state
from softskills.skills.vec import space_meta

__all__ = ["Trainer", "NonFiniteLossError", "load_agent", "compiles_graph"]

_LOSS_KEYS = {"qf_loss": "losses/qf_loss", "actor_loss": "losses/actor_loss", "alpha": "losses/alpha",
              "alpha_loss": "losses/alpha_loss", "entropy": "losses/entropy"}


def compiles_graph(cfg: TrainConfig) -> bool:
    """Whether a CUDA-graphed update of ``cfg`` captures the ``torch.compile``d update.

    ``compile`` asks for it everywhere; ``graph_compile`` (the default) asks for it under the
    CUDA graph. Only SAC has a compiled update; SQL's graph captures the eager one.

    Args:
        cfg: the run's config.

    Returns:
        ``True`` when the CUDA graph holds :meth:`SACAgent.compiled_update`.
    """
    return cfg.algo == "sac" and (cfg.compile or cfg.graph_compile)


def _has_checkpoint(out: Path) -> bool:
    try:
        checkpoint_dir(out)
    except CheckpointError:
        return False
    return True


class Trainer:
    """Trains the K skills of a :class:`TrainConfig` (see ``softskills train --help``).

    ``TrainConfig(resume=True)`` continues the run in ``cfg.out`` from its checkpoint; a setting
    that would change the run is refused (see :func:`~softskills.skills.config_io.resume_config`).
    Without ``resume``, a directory that already holds a checkpoint is refused unless
    ``overwrite`` is set.

    Args:
        cfg: the configuration.
        env_factory: builds the K x N envs (default: ``cfg.env`` with each skill's task). Layers
            above the core pass their own, e.g. a latent-action hierarchy.
        run_info: extra JSON stored in every checkpoint's meta under ``run_info`` (e.g. what a
            layer is stacked on).
    """

    def __init__(self, cfg: TrainConfig, env_factory: EnvFactory | None = None,
                 run_info: dict[str, Any] | None = None) -> None:
        self.run_dir = Path(cfg.out)
        saved = None
        if cfg.resume:
            saved = load_checkpoint(self.run_dir)
            cfg = resume_config(config_from_dict(saved[1].get("config")), cfg)
            if cfg.steps < int(saved[1]["step"]):
                raise ValueError(f"cannot resume {self.run_dir} to {cfg.steps} steps: it has already "
                                 f"trained {saved[1]['step']} steps; pass --steps of at least that")
        elif _has_checkpoint(self.run_dir) and not cfg.overwrite:
            raise ValueError(f"{self.run_dir} already holds a checkpoint: pass resume=True (--resume) to "
                             "continue it, overwrite=True (--overwrite) to start afresh, or another out")
        if cfg.hold_latent and cfg.policy != "realnvp":
            raise ValueError(f"hold_latent needs an invertible policy (policy='realnvp'), got policy={cfg.policy!r}")
        if cfg.stack_on and env_factory is None:
            raise ValueError("stack_on needs the latent-action envs of softskills.hierarchy: use "
                             "softskills.hierarchy.stacked_trainer(cfg) or `softskills train --stack-on`")
        self.cfg = cfg
        self.run_info = dict(run_info or {})
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        if cfg.retain_freed_memory:
            retain_freed_memory()
        self.env_factory = env_factory or default_env_factory(cfg)
        k, n = cfg.skills, cfg.num_envs
        self.envs = self.env_factory(n)
        if self.envs.num_skills != k:
            raise ValueError(f"the env factory built {self.envs.num_skills} skills' envs, the config has {k}")
        self.spaces = space_meta(self.envs)
        self.obs_dim, self.act_dim = self.envs.obs_dim, self.envs.act_dim
        self.device = torch.device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.agent = build_agent(cfg, self.obs_dim, self.act_dim, squash=self.envs.bounded).to(self.device)
        if hasattr(self.agent, "rebuild_optimizer"):
            self.agent.rebuild_optimizer()
        if hasattr(self.agent, "fast_path"):
            self.agent.fast_path = cfg.fast_path
        capacity = min(cfg.buffer_size, cfg.steps * n)
        self.buffer = ReplayBuffer(k, capacity, self.obs_dim, self.act_dim, self.device)
        # fast_path: one float32 host array for a step's packed transitions of all K x N envs
        self._rows = np.zeros((k, n, self.buffer.row_width), dtype=np.float32)
        seeds = (cfg.seed + np.arange(k))[:, None] * 1000 + np.arange(n)[None, :]
        self.obs = self.envs.reset(seeds)
        self.step = 0
        self.num_updates = 0
        self.update_debt = 0.0
        # After a resume without the replay buffer: the transitions per skill to collect, with the current
        # policy, before updates start again (0: none pending). See ``restore_trainer_state``.
        self.refill = 0
        self.ep_ret = np.zeros((k, n))
        self.ep_len = np.zeros((k, n), dtype=np.int64)
        self.last_returns: list[float] = [math.nan] * k
        self.last_eval: float = math.nan
        self.losses: dict[str, Tensor] = {}
        self.nonfinite: NonFiniteTracker | None = None
        self._graphed = None
        self._bar: Any = None  # the progress bar while train() runs
        self._compiled_once = False
        self.held_h: Tensor | None = None  # with cfg.hold_latent: the latent of each env's episode
        self.resumed_run_info: dict[str, Any] | None = None  # the run_info of the checkpoint resumed from
        if saved is not None:
            restore_trainer_state(self, *saved)
            self.resumed_run_info = saved[1].get("run_info")

    # ------------------------------------------------------------------ stepping
    def _policy_actions(self) -> np.ndarray:
        cfg = self.cfg
        shape = (cfg.skills, cfg.num_envs, self.act_dim)
        if self.step < cfg.warmup_steps:
            if self.envs.bounded:
                return (torch.rand(shape) * 2.0 - 1.0).numpy()
            return torch.randn(shape).numpy()  # an unbounded latent space: its N(0, I) prior
        obs_t = torch.as_tensor(self.obs, dtype=torch.float32, device=self.device)
        if cfg.hold_latent:
            return self._held_actions(obs_t).float().cpu().numpy()
        if cfg.fast_path:  # no autograd bookkeeping at all; the actions leave as NumPy
            with torch.inference_mode():
                return self.agent.act(obs_t).float().cpu().numpy()
        return self.agent.act(obs_t).float().cpu().numpy()

    @torch.no_grad()
    def _held_actions(self, obs_t: Tensor) -> Tensor:
        """``a = f(h; s)`` (squashed if the policy is) with each env's per-episode latent ``h``."""
        policy = self.agent.policy
        if self.held_h is None:  # drawn outside inference mode: it is kept and checkpointed
            self.held_h = torch.randn(self.cfg.skills, self.cfg.num_envs, self.act_dim, device=self.device)
        # (not inference_mode(False): that turns gradient recording back on inside no_grad)
        with torch.inference_mode() if self.cfg.fast_path else contextlib.nullcontext():
            raw, _ = policy.forward(self.held_h, obs_t)
            return torch.tanh(raw) if policy.squash else raw

    def _redraw_held(self, done: np.ndarray) -> None:
        """A fresh latent for every env whose episode just ended (``fix_h_on_reset``)."""
        if self.held_h is not None and done.any():
            mask = torch.as_tensor(done, device=self.device).unsqueeze(-1)
            self.held_h = torch.where(mask, torch.randn_like(self.held_h), self.held_h)

    def _env_step(self, logger: Logger | None) -> None:
        act = self._policy_actions()
        res = self.envs.step(act)
        dev = self.device
        if self.cfg.fast_path:
            # Pack (s, a, r, s', terminated) of all K x N envs into one float32 array, convert once.
            # NumPy's float64 -> float32 cast rounds as torch's does: the stored values are the same.
            rows, sl = self._rows, self.buffer.slices
            rows[..., sl["obs"]] = self.obs
            rows[..., sl["act"]] = act
            rows[..., sl["rew"]] = np.asarray(res.reward)[..., None]
            rows[..., sl["next_obs"]] = res.final_obs
            rows[..., sl["terminated"]] = np.asarray(res.terminated)[..., None]
            self.buffer.add_rows(torch.from_numpy(rows).to(dev))
        else:
            as_t = lambda x: torch.as_tensor(np.asarray(x), dtype=torch.float32, device=dev)  # noqa: E731
            self.buffer.add(as_t(self.obs), as_t(act), as_t(res.reward), as_t(res.final_obs), as_t(res.terminated))
        self.obs = res.obs
        self._redraw_held(res.done)
        self.ep_ret += res.reward
        self.ep_len += 1
        for i, j in zip(*np.nonzero(res.done)):
            self.last_returns[i] = float(self.ep_ret[i, j])
            if logger is not None:
                suffix = "" if self.cfg.skills == 1 else f"/skill{i}"
                logger.log(self.step + 1, {f"charts/episodic_return{suffix}": self.ep_ret[i, j],
                                           f"charts/episodic_length{suffix}": self.ep_len[i, j]})
            self.ep_ret[i, j] = 0.0
            self.ep_len[i, j] = 0

    def _update(self) -> dict[str, Tensor]:
        cfg = self.cfg
        if self.device.type == "cuda" and cfg.graph and hasattr(self.agent, "rebuild_optimizer"):
            if self._graphed is None:
                from softskills.skills.graph import GraphedUpdate

                if compiles_graph(cfg):
                    self._notice("compiling and capturing the update (once per run; 20-60 s on a GPU)")
                # Warm-up runs on the real tensors and then restores them: no extra updates.
                self._graphed = GraphedUpdate(self.agent, self.buffer, cfg.batch_size,
                                              compile=compiles_graph(cfg))
            return self._graphed()
        if cfg.compile:
            if not self._compiled_once:
                self._notice("compiling the update (once per run; tens of seconds)")
                self._compiled_once = True
            return self.agent.compiled_update(self.buffer.sample(cfg.batch_size))
        return self.agent.update(self.buffer.sample(cfg.batch_size))

    def _notice(self, message: str) -> None:
        """Show a one-off pause's reason on the progress bar (nothing without one)."""
        if self._bar is not None:
            self._bar.set_postfix_str(message)
            self._bar.refresh()

    def _check_finite(self) -> None:
        if self.nonfinite is not None:
            self.nonfinite.check(f"the last good checkpoint in {self.run_dir / 'checkpoint'}")

    # ------------------------------------------------------------------ loop
    def train(self) -> dict[str, float]:
        """Run until ``cfg.steps`` steps; returns final metrics (prints nothing else)."""
        cfg = self.cfg
        logger = Logger(self.run_dir, tensorboard=cfg.tensorboard, keep_until=self.step)
        if self.step == 0:
            logger.text("hyperparameters", "|param|value|\n|-|-|\n" + "\n".join(
                f"|{k}|{v}|" for k, v in config_to_dict(cfg).items()))
        bar = None
        if cfg.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=cfg.steps, initial=self.step, desc=f"{cfg.algo}/{cfg.policy} {cfg.env}",
                       unit="step", dynamic_ncols=True)
        self._bar = bar
        t0, s0 = time.perf_counter(), self.step
        try:
            while self.step < cfg.steps:
                self._env_step(logger)
                self.step += 1
                if self.refill and len(self.buffer) >= self.refill:
                    self.refill = 0  # refilled after a buffer-less resume: updates start again
                if self.step > cfg.warmup_steps and len(self.buffer) >= 1 and not self.refill:
                    self.update_debt += cfg.updates_per_step
                    while self.update_debt >= 1.0:
                        self.losses = self._update()
                        if self.nonfinite is None:
                            self.nonfinite = NonFiniteTracker(tuple(self.losses), cfg.skills, self.device)
                        self.nonfinite.observe(self.losses, self.num_updates, self.step)
                        self.num_updates += 1
                        self.update_debt -= 1.0
                if self.step % cfg.log_every == 0:
                    self._log(logger, bar, (self.step - s0) / max(time.perf_counter() - t0, 1e-9))
                if cfg.eval_every and self.step % cfg.eval_every == 0:
                    self._evaluate(logger)
                if self.step % cfg.checkpoint_every == 0:
                    self.save()
                if bar is not None:
                    bar.update(1)
            self._check_finite()
            if not (cfg.eval_every and self.step % cfg.eval_every == 0):
                self._evaluate(logger)
            self.save()
        finally:
            logger.close()
            if bar is not None:
                bar.close()
            self._bar = None
        return {"step": self.step, "updates": self.num_updates, "eval_return": self.last_eval,
                "sps": (self.step - s0) / max(time.perf_counter() - t0, 1e-9)}

    def _log(self, logger: Logger, bar: Any, sps: float) -> None:
        scalars = {"charts/SPS": sps}
        if self.losses:
            self._check_finite()
            for k, v in self.losses.items():
                if k not in _LOSS_KEYS:
                    continue
                key = _LOSS_KEYS[k]
                scalars[key] = float(v.float().mean())
                if self.cfg.skills > 1 and v.dim() == 1:  # per skill too: one skill's divergence shows as its own
                    scalars.update({f"{key}/skill{i}": x for i, x in enumerate(v.float().tolist())})
        logger.log(self.step, scalars)
        if bar is not None:  # "n/a" until a training episode has ended and an evaluation has run
            done = [r for r in self.last_returns if math.isfinite(r)]
            bar.set_postfix(sps=f"{sps:.0f}", ret=f"{sum(done) / len(done):.1f}" if done else "n/a",
                            eval=f"{self.last_eval:.1f}" if math.isfinite(self.last_eval) else "n/a")

    def _evaluate(self, logger: Logger) -> None:
        envs = self.env_factory(self.cfg.eval_episodes)
        try:
            rets = evaluate(self.agent, envs, seed=10_000 + self.cfg.seed, device=self.device).returns
        finally:
            envs.close()
        self.last_eval = float(rets.mean())
        scalars = {"eval/return": self.last_eval}
        if self.cfg.skills > 1:
            scalars.update({f"eval/return/skill{i}": float(r) for i, r in enumerate(rets.mean(1))})
        logger.log(self.step, scalars)

    # ------------------------------------------------------------------ checkpoints
    def save(self) -> Path:
        """Write ``out/checkpoint`` atomically (after checking the losses are finite)."""
        self._check_finite()
        tensors, meta, buf = trainer_state(self)
        return save_checkpoint(self.run_dir, tensors, meta, buf)

    @classmethod
    def resume(cls, run_dir: str | Path, env_factory: EnvFactory | None = None, **overrides: Any) -> Trainer:
        """Continue the run in ``run_dir``; ``overrides`` may change only the resumable settings
        (:data:`~softskills.skills.config_io.RESUMABLE_FIELDS`, e.g. ``steps``)."""
        _, meta, _ = load_checkpoint(run_dir)
        saved = config_from_dict(meta.get("config"))
        cfg = dataclasses.replace(saved, out=str(run_dir), resume=True, overwrite=False, **overrides)
        return cls(cfg, env_factory=env_factory, run_info=meta.get("run_info"))

