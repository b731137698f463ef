"""The training loop: vector envs per skill, warm-up, updates, evaluation, logging, checkpoints."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from softskills.skills.buffer import ReplayBuffer
from softskills.skills.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_optimizer,
    optimizer_tensors,
    save_checkpoint,
)
from softskills.skills.config import TrainConfig
from softskills.skills.evaluate import evaluate
from softskills.skills.factory import build_agent
from softskills.skills.logger import Logger
from softskills.skills.vec import (
    check_env_id,
    final_observations,
    get_env_state,
    make_vec_env,
    scale_action,
    set_env_state,
    space_meta,
)

__all__ = ["Trainer", "NonFiniteLossError", "config_to_dict", "config_from_dict", "load_agent"]


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; training stopped and the last good checkpoint is untouched."""


def config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    """A JSON-able dict of a config."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def _build(cls: type, d: dict[str, Any]) -> Any:
    """Rebuild a (possibly nested) frozen dataclass from JSON values."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in d:
            continue
        v = d[f.name]
        if isinstance(v, dict) and f.default_factory is not dataclasses.MISSING:
            v = _build(type(f.default_factory()), v)
        elif isinstance(v, list):
            v = tuple(v)
        kwargs[f.name] = v
    return cls(**kwargs)


def config_from_dict(d: dict[str, Any], **overrides: Any) -> TrainConfig:
    """Inverse of :func:`config_to_dict`, with field overrides."""
    unknown = set(d) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise CheckpointError(f"checkpoint config has unknown fields {sorted(unknown)}")
    return dataclasses.replace(_build(TrainConfig, d), **overrides)


class Trainer:
    """Trains the K skills of a :class:`TrainConfig` (see ``softskills train --help``).

    Args:
        cfg: the configuration.
    """

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        probe = check_env_id(cfg.env)
        self.spaces = space_meta(probe)
        self.obs_dim = int(np.prod(probe.observation_space.shape))
        self.act_dim = int(np.prod(probe.action_space.shape))
        self.act_low = probe.action_space.low.astype(np.float64)
        self.act_high = probe.action_space.high.astype(np.float64)
        probe.close()
        self.device = torch.device(cfg.device)
        torch.manual_seed(cfg.seed)
        k, n = cfg.skills, cfg.num_envs
        self.envs = [make_vec_env(cfg.env, n, seed=(cfg.seed + i) * 1000) for i in range(k)]
        self.agent = build_agent(cfg, self.obs_dim, self.act_dim).to(self.device)
        if hasattr(self.agent, "rebuild_optimizer"):
            self.agent.rebuild_optimizer()
        capacity = min(cfg.buffer_size, cfg.steps * n)
        self.buffer = ReplayBuffer(k, capacity, self.obs_dim, self.act_dim, self.device)
        self.obs = np.stack([e.reset(seed=(cfg.seed + i) * 1000)[0] for i, e in enumerate(self.envs)])
        self.step = 0
        self.num_updates = 0
        self.update_debt = 0.0
        self.ep_ret = np.zeros((k, n))
        self.ep_len = np.zeros((k, n), dtype=np.int64)
        self.last_returns: list[float] = [math.nan] * k
        self.last_eval: float = math.nan
        self.losses: dict[str, Tensor] = {}
        self._graphed = None
        self.run_dir = Path(cfg.out)

    # ------------------------------------------------------------------ stepping
    def _policy_actions(self) -> np.ndarray:
        cfg = self.cfg
        shape = (cfg.skills, cfg.num_envs, self.act_dim)
        if self.step < cfg.warmup_steps:
            return (torch.rand(shape) * 2.0 - 1.0).numpy()
        obs_t = torch.as_tensor(self.obs, dtype=torch.float32, device=self.device)
        return self.agent.act(obs_t).float().cpu().numpy()

    def _env_step(self, logger: Logger | None) -> None:
        act = self._policy_actions()
        nxt, real_nxt, rew, term, done = [], [], [], [], []
        for i, envs in enumerate(self.envs):
            o, r, te, tr, info = envs.step(scale_action(act[i], self.act_low, self.act_high))
            nxt.append(o)
            real_nxt.append(final_observations(o, info))
            rew.append(r)
            term.append(te)
            done.append(te | tr)
        rew_a, term_a, done_a = np.stack(rew), np.stack(term), np.stack(done)
        dev = self.device
        as_t = lambda x: torch.as_tensor(np.asarray(x), dtype=torch.float32, device=dev)  # noqa: E731
        self.buffer.add(as_t(self.obs), as_t(act), as_t(rew_a), as_t(np.stack(real_nxt)), as_t(term_a))
        self.obs = np.stack(nxt)
        self.ep_ret += rew_a
        self.ep_len += 1
        for i, j in zip(*np.nonzero(done_a)):
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

                self._graphed = GraphedUpdate(self.agent, self.buffer, cfg.batch_size)
                self.num_updates += self._graphed.warmup_updates
            return self._graphed()
        return self.agent.update(self.buffer.sample(cfg.batch_size))

    def _check_finite(self) -> None:
        for name, v in self.losses.items():
            if not bool(torch.isfinite(v).all()):
                bad = torch.nonzero(~torch.isfinite(v)).flatten().tolist()
                raise NonFiniteLossError(
                    f"non-finite {name} at step {self.step} (update {self.num_updates}, skills {bad}); "
                    f"training stopped, the last good checkpoint in {self.run_dir / 'checkpoint'} is intact"
                )

    # ------------------------------------------------------------------ loop
    def train(self) -> dict[str, float]:
        """Run until ``cfg.steps`` steps; returns final metrics (prints nothing else)."""
        cfg = self.cfg
        logger = Logger(self.run_dir, tensorboard=cfg.tensorboard)
        if self.step == 0:
            logger.text("hyperparameters", "|param|value|\n|-|-|\n" + "\n".join(
                f"|{k}|{v}|" for k, v in config_to_dict(cfg).items()))
        bar = None
        if cfg.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=cfg.steps, initial=self.step, desc=f"{cfg.algo}/{cfg.policy} {cfg.env}",
                       unit="step", dynamic_ncols=True)
        t0, s0 = time.perf_counter(), self.step
        try:
            while self.step < cfg.steps:
                self._env_step(logger)
                self.step += 1
                if self.step > cfg.warmup_steps and len(self.buffer) >= 1:
                    self.update_debt += cfg.updates_per_step
                    while self.update_debt >= 1.0:
                        self.losses = self._update()
                        self.num_updates += 1
                        self.update_debt -= 1.0
                if self.step % cfg.log_every == 0:
                    sps = (self.step - s0) / max(time.perf_counter() - t0, 1e-9)
                    scalars = {"charts/SPS": sps}
                    if self.losses:
                        self._check_finite()
                        names = {"qf_loss": "losses/qf_loss", "actor_loss": "losses/actor_loss",
                                 "alpha": "losses/alpha", "alpha_loss": "losses/alpha_loss",
                                 "entropy": "losses/entropy"}
                        scalars.update({names[k]: float(v.float().mean()) for k, v in self.losses.items()
                                        if k in names})
                    logger.log(self.step, scalars)
                    if bar is not None:
                        bar.set_postfix(sps=f"{sps:.0f}", ret=f"{np.nanmean(self.last_returns):.1f}",
                                        eval=f"{self.last_eval:.1f}")
                if cfg.eval_every and self.step % cfg.eval_every == 0:
                    self._evaluate(logger)
                if self.step % cfg.checkpoint_every == 0:
                    self.save()
                if bar is not None:
                    bar.update(1)
            if self.losses:
                self._check_finite()
            if not (cfg.eval_every and self.step % cfg.eval_every == 0):
                self._evaluate(logger)
            self.save()
        finally:
            logger.close()
            if bar is not None:
                bar.close()
        return {"step": self.step, "updates": self.num_updates, "eval_return": self.last_eval,
                "sps": (self.step - s0) / max(time.perf_counter() - t0, 1e-9)}

    def _evaluate(self, logger: Logger) -> None:
        rets = evaluate(self.agent, self.cfg.env, self.cfg.eval_episodes, seed=10_000 + self.cfg.seed,
                        device=self.device)
        self.last_eval = float(rets.mean())
        scalars = {"eval/return": self.last_eval}
        if self.cfg.skills > 1:
            scalars.update({f"eval/return/skill{i}": float(r) for i, r in enumerate(rets.mean(1))})
        logger.log(self.step, scalars)

    # ------------------------------------------------------------------ checkpoints
    def save(self) -> Path:
        """Write ``out/checkpoint`` atomically (after checking the losses are finite)."""
        if self.losses:
            self._check_finite()
        tensors: dict[str, Tensor] = {f"agent/{k}": v for k, v in self.agent.state_dict().items()}
        opt_t, groups = optimizer_tensors(self.agent.optimizer)
        tensors.update(opt_t)
        tensors["rng/torch"] = torch.get_rng_state()
        if self.device.type == "cuda":
            tensors["rng/cuda"] = torch.cuda.get_rng_state(self.device)
        tensors["trainer/obs"] = torch.as_tensor(self.obs)
        tensors["trainer/ep_ret"] = torch.as_tensor(self.ep_ret)
        tensors["trainer/ep_len"] = torch.as_tensor(self.ep_len)
        meta = {
            "config": config_to_dict(self.cfg),
            "step": self.step,
            "num_updates": self.num_updates,
            "update_debt": self.update_debt,
            "last_eval": None if math.isnan(self.last_eval) else self.last_eval,
            "spaces": self.spaces,
            "optimizer_groups": groups,
            "env_states": [[get_env_state(e) for e in v.envs] for v in self.envs],
            "buffer": self.buffer.state_meta() if self.cfg.save_buffer else None,
        }
        buf = self.buffer.state_tensors() if self.cfg.save_buffer else None
        return save_checkpoint(self.run_dir, tensors, meta, buf)

    @classmethod
    def resume(cls, run_dir: str | Path, **overrides: Any) -> Trainer:
        """Rebuild a trainer from ``run_dir/checkpoint`` (``overrides`` replace config fields, e.g. ``steps``)."""
        tensors, meta, buf = load_checkpoint(run_dir)
        cfg = config_from_dict(meta["config"], out=str(run_dir), resume=True, **overrides)
        trainer = cls(cfg)
        trainer._restore(tensors, meta, buf)
        return trainer

    def _restore(self, tensors: dict[str, Tensor], meta: dict[str, Any], buf: dict[str, Tensor] | None) -> None:
        if meta["spaces"] != self.spaces:
            raise CheckpointError(
                f"checkpoint spaces {meta['spaces']} differ from {self.cfg.env}'s {self.spaces}"
            )
        load_agent_state(self.agent, tensors)
        load_optimizer(self.agent.optimizer, tensors, meta["optimizer_groups"])
        torch.set_rng_state(tensors["rng/torch"])
        if "rng/cuda" in tensors and self.device.type == "cuda":
            torch.cuda.set_rng_state(tensors["rng/cuda"], self.device)
        self.obs = tensors["trainer/obs"].numpy().copy()
        self.ep_ret = tensors["trainer/ep_ret"].numpy().copy()
        self.ep_len = tensors["trainer/ep_len"].numpy().copy()
        self.step, self.num_updates = int(meta["step"]), int(meta["num_updates"])
        self.update_debt = float(meta["update_debt"])
        self.last_eval = math.nan if meta.get("last_eval") is None else float(meta["last_eval"])
        for vec, states in zip(self.envs, meta["env_states"]):
            for env, st in zip(vec.envs, states):
                if st is not None:
                    set_env_state(env, st)
        if buf is not None and meta.get("buffer"):
            self.buffer.load_state(buf, meta["buffer"])


def load_agent_state(agent: nn.Module, tensors: dict[str, Tensor]) -> None:
    """Load ``agent/...`` tensors into an agent, with a clear error when they do not fit."""
    sd = {k[len("agent/"):]: v for k, v in tensors.items() if k.startswith("agent/")}
    try:
        agent.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint weights do not fit this model: {e}") from e


def load_agent(run_dir: str | Path, device: str = "cpu") -> tuple[nn.Module, TrainConfig]:
    """The trained agent of a run directory and its config (no optimizer, no buffer)."""
    tensors, meta, _ = load_checkpoint(run_dir)
    cfg = config_from_dict(meta["config"])
    probe = check_env_id(cfg.env)
    spaces = space_meta(probe)
    probe.close()
    if meta["spaces"] != spaces:
        raise CheckpointError(f"checkpoint spaces {meta['spaces']} differ from {cfg.env}'s {spaces}")
    agent = build_agent(cfg, int(np.prod(spaces["obs_shape"])), int(np.prod(spaces["act_shape"])))
    load_agent_state(agent, tensors)
    return agent.to(device), cfg
