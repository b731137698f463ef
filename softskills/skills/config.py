"""The training configuration: one frozen dataclass, one docstring per field (parsed by tyro)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from softskills.skills.sac import SACConfig
from softskills.skills.sql import SQLConfig

__all__ = ["TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    """Train K soft skills on a Gymnasium environment."""

    env: str = "Pendulum-v1"
    """Gymnasium environment id (a continuous, bounded Box action space)."""
    env_kwargs: str = "{}"
    """Keyword arguments of ``gymnasium.make`` for every skill, as a JSON object, e.g.
    ``'{"goal": [-1, null]}'`` (from Python a dict is accepted and stored as canonical JSON)."""
    tasks: tuple[str, ...] = ()
    """Per-skill tasks: K JSON objects of env kwargs, merged over ``env_kwargs``; skill k trains
    and evaluates on task k (one env id, identical spaces). Example for K = 2:
    ``--tasks '{"goal": [-1, null]}' '{"goal": [null, -1]}'``. Empty: every skill uses
    ``env_kwargs``."""
    algo: Literal["sac", "sql"] = "sac"
    """Learning algorithm: soft actor-critic or soft Q-learning."""
    policy: Literal["gaussian", "realnvp"] = "gaussian"
    """Policy family for SAC (SQL always uses its amortised SVGD sampler)."""
    steps: int = 20_000
    """Environment steps per environment (per skill and per vector sub-env)."""
    seed: int = 0
    """Base seed; skill k is seeded with ``seed + k``."""
    out: str = "runs/default"
    """Run directory: checkpoint, progress.csv, TensorBoard events."""
    stack_on: str = ""
    """Train a new layer in the latent space of this trained Real-NVP run, or of a shipped primitive
    (``pretrained:ant-velocity``) (a latent-space
    hierarchy; handled by ``softskills.hierarchy`` and the CLI, not by the bare ``Trainer``)."""
    stack_skill: int = 0
    """With ``stack_on``: which of the lower run's K skills is the frozen lower layer."""
    repeat: int = 1
    """With ``stack_on``: env steps each upper action (a lower latent) is held for (the control
    interval; the original maze used 3). Rewards are summed over them."""
    hold_latent: bool = False
    """Explore with the policy's latent ``h`` drawn once per episode and held (the original's
    ``fix_h_on_reset``; temporally correlated exploration, used by the maze high level). Needs
    ``policy=realnvp``. The SAC losses still draw fresh ``h``; evaluation is unchanged."""
    skills: int = 1
    """K: independent skills trained together in one batched update."""
    device: str = "cpu"
    """Torch device (``cpu``, ``cuda``, ``cuda:1``, ...)."""
    num_envs: int = 1
    """Vector sub-environments per skill."""
    warmup_steps: int = 1000
    """Initial steps with uniform random actions before learning starts."""
    updates_per_step: float = 1.0
    """Gradient updates per environment step (fractions allowed, e.g. 0.5)."""
    batch_size: int = 256
    """Replay batch size per skill."""
    buffer_size: int = 1_000_000
    """Replay capacity per skill (capped at the total number of transitions)."""
    eval_every: int = 5_000
    """Deterministic evaluation every this many steps (0: no periodic evaluation; one final
    evaluation always runs at the end of ``train``)."""
    eval_episodes: int = 5
    """Episodes per evaluation and per skill."""
    log_every: int = 1_000
    """Loss and SPS logging interval in steps (losses are read from the device only then)."""
    checkpoint_every: int = 10_000
    """Checkpoint interval in steps (a final checkpoint is always written)."""
    save_buffer: bool = True
    """Store the replay buffer in checkpoints (needed for an exact resume)."""
    resume: bool = False
    """Continue from the checkpoint in ``out`` up to ``steps`` total steps (the run's other
    settings are taken from its checkpoint; flags that would change them are refused)."""
    overwrite: bool = False
    """Start afresh even if ``out`` already holds a checkpoint (it is replaced at the first save).
    Without it, training into a directory with a checkpoint is refused."""
    precision: Literal["fp32", "bf16"] = "fp32"
    """Forward-pass precision of the update (bf16 autocast needs CPU/GPU bf16 support)."""
    graph: bool = True
    """On CUDA, capture the whole update (sampling included) in a CUDA graph."""
    threads: int = 0
    """CPU threads for torch (0: leave torch's default)."""
    fast_path: bool = True
    """Take the faster routes that compute bitwise the same run: one fused Adam call over all
    parameter groups, acting under ``torch.inference_mode`` without the policy's log-density,
    and one host-to-tensor conversion per env step for all K skills' transitions.
    ``--no-fast-path`` takes the plain routes (same parameters, for timing or debugging)."""
    retain_freed_memory: bool = True
    """Keep freed memory in the process (glibc ``mallopt``: blocks under 32 MiB from the heap, up
    to 256 MiB of free heap kept, see ``softskills.skills.memory``), so that the update's large
    short-lived tensors do not fault their pages in anew; process-wide and set once, when the
    trainer is built. It changes no result. ``--no-retain-freed-memory`` leaves malloc alone."""
    compile: bool = False
    """``torch.compile`` the SAC losses with their backward (inductor, ``fullgraph=True``; see
    ``SACAgent.compiled_update``). Not bitwise equal to eager, as fused kernels sum in another
    order (``tests/skills/test_fastpath.py`` states the tolerance). Off by default: on the
    2-core CPU box it is not faster and costs a long first compile (``docs/benchmarks.md``).
    SAC only; on CUDA with ``graph`` the CUDA graph captures the compiled update, which
    ``graph_compile`` already does by default."""
    graph_compile: bool = True
    """On CUDA with ``graph``, capture SAC's ``torch.compile``d update in the CUDA graph (fewer,
    fused kernels per replay: 1.41x the plain eager graph's updates/s at K = 1 and 1.11x at K = 64
    on an H200, ``docs/benchmarks.md``; 20-60 s of compilation when training starts; not bitwise
    equal to the eager graph). ``--no-graph-compile`` captures the eager update. No effect on the
    CPU (see ``compile``) or for SQL."""
    progress: bool = True
    """Show a progress bar."""
    tensorboard: bool = True
    """Write TensorBoard events."""
    sac: SACConfig = field(default_factory=SACConfig)
    """SAC hyperparameters."""
    sql: SQLConfig = field(default_factory=SQLConfig)
    """SQL hyperparameters (used with ``--algo sql``)."""
    flow_coupling_layers: int = 2
    """Real-NVP: number of affine coupling layers."""
    flow_embed_hidden: tuple[int, ...] = (256, 256)
    """Real-NVP: hidden widths of the observation embedding (its output is 2|A|)."""
    flow_st_hidden: tuple[int, ...] = (64,)
    """Real-NVP: hidden widths of every s- and t-net. The default, one layer of 64 tanh units, was
    settled on HalfCheetah-v5 over 5 seeds (README, "Real-NVP vs Gaussian"): it ended 4.7% above
    the Gaussian policy where the original's |A| units ended 5.9% below. Empty means one layer of
    |A| units, the original's (``--flow-st-hidden`` with no value)."""
    flow_scale_clamp: float | None = 5.0
    """Real-NVP: soft bound c of each coupling's log-scale, ``log sigma = c tanh(s / c)``;
    ``None`` gives the original's unbounded ``exp(s)``."""

    def __post_init__(self) -> None:
        # Canonical JSON for the env kwargs and tasks, so configs compare and serialise exactly.
        object.__setattr__(self, "env_kwargs", _canonical_kwargs(self.env_kwargs, "env_kwargs"))
        object.__setattr__(self, "tasks", tuple(_canonical_kwargs(t, f"tasks[{i}]")
                                                for i, t in enumerate(self.tasks)))
        if self.tasks and len(self.tasks) != self.skills:
            raise ValueError(f"tasks has {len(self.tasks)} entries but skills is {self.skills}; "
                             "give one task per skill (or none)")
        if self.stack_skill < 0:
            raise ValueError(f"stack_skill must be non-negative, got {self.stack_skill}")
        if self.resume and self.overwrite:
            raise ValueError("resume and overwrite exclude each other: choose one")
        positive = ("steps", "skills", "repeat", "num_envs", "batch_size", "buffer_size", "eval_episodes", "log_every",
                    "checkpoint_every")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("warmup_steps", "eval_every", "threads"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}")
        if self.flow_coupling_layers < 1:
            raise ValueError(f"flow_coupling_layers must be positive, got {self.flow_coupling_layers}")
        if any(h < 1 for h in (*self.flow_embed_hidden, *self.flow_st_hidden)):
            raise ValueError("flow_embed_hidden and flow_st_hidden must be positive widths, got "
                             f"{self.flow_embed_hidden} and {self.flow_st_hidden}")
        if self.flow_scale_clamp is not None and self.flow_scale_clamp <= 0:
            raise ValueError(f"flow_scale_clamp must be positive or None, got {self.flow_scale_clamp}")
        if self.compile and self.algo != "sac":
            raise ValueError(f"compile applies to SAC's update only, got algo={self.algo!r}")
        if self.updates_per_step < 0:
            raise ValueError(f"updates_per_step must be non-negative, got {self.updates_per_step}")

    def task_kwargs(self) -> list[dict[str, Any]]:
        """The env kwargs of each of the K skills: ``env_kwargs`` updated by ``tasks[k]``."""
        base = json.loads(self.env_kwargs)
        if not self.tasks:
            return [dict(base) for _ in range(self.skills)]
        return [{**base, **json.loads(t)} for t in self.tasks]


def _canonical_kwargs(value: str | dict[str, Any], name: str) -> str:
    """A JSON object (string or dict) as canonical JSON text; a clear error otherwise."""
    if isinstance(value, dict):
        obj: Any = value
    else:
        try:
            obj = json.loads(value)
        except (TypeError, json.JSONDecodeError) as e:
            raise ValueError(f"{name} must be a JSON object such as '{{\"goal\": [-1, null]}}', got {value!r}: {e}") from e
    if not isinstance(obj, dict):
        raise ValueError(f"{name} must be a JSON object (a dict of env kwargs), got {value!r}")
    try:
        return json.dumps(obj, sort_keys=True)
    except TypeError as e:
        raise ValueError(f"{name} holds a value that is not JSON-able: {e}") from e
