"""PathRecorder: every env step of the plain envs, only while active, and the envs left as they were."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from softskills.hierarchy import PathRecorder
from softskills.skills.vec import SkillEnvs, StepResult


class Repeat:
    """A stand-in latent-action layer: one step of it is ``repeat`` steps of the envs below (``.base``)."""

    def __init__(self, base: SkillEnvs | Repeat, repeat: int) -> None:
        self.base, self.repeat = base, repeat

    def step(self, actions: np.ndarray, active: np.ndarray | None = None) -> StepResult:
        for _ in range(self.repeat):
            res = self.base.step(actions, active)
        return res


def pendulums(k: int = 2, n: int = 3) -> SkillEnvs:
    envs = SkillEnvs([lambda: gym.make("Pendulum-v1", max_episode_steps=3)] * k, n, "Pendulum-v1")  # resets mid-test
    envs.reset(np.arange(k * n).reshape(k, n))
    return envs


def test_records_each_active_env_step_and_restores_step() -> None:
    envs = pendulums()
    active = np.array([[True, False, True], [True, True, False]])
    rng = np.random.default_rng(0)
    expected: list[list[list[np.ndarray]]] = [[[] for _ in range(3)] for _ in range(2)]
    ended = 0
    with PathRecorder(Repeat(Repeat(envs, 2), 3), slice(1, 3)) as rec:
        assert rec.base is envs  # found under two layers
        for t in range(4):
            mask = None if t % 2 == 0 else active
            res = envs.step(rng.uniform(-1, 1, (2, 3, 1)), mask)
            ended += int(res.done.sum())
            assert not np.array_equal(res.obs[res.done], res.final_obs[res.done]) or not res.done.any()
            for k in range(2):
                for i in range(3):
                    if mask is None or mask[k, i]:
                        expected[k][i].append(res.final_obs[k, i, 1:3])
    assert ended == 4  # the paths record s' where an episode ended, not the reset after it
    assert "step" not in vars(envs)  # the class's own step again
    envs.step(np.zeros((2, 3, 1)))  # not recorded any more
    for k in range(2):
        paths = rec.paths(k)
        assert len(paths) == 3
        for i, path in enumerate(paths):
            assert path.shape == (len(expected[k][i]), 2)
            np.testing.assert_array_equal(path, np.array(expected[k][i]))
    assert [len(p) for p in rec.paths(0)] == [4, 2, 4]
    assert [len(p) for p in rec.paths(1)] == [4, 4, 2]
    envs.close()


def test_counts_every_step_under_a_repeating_layer() -> None:
    envs = pendulums(1, 2)
    layer = Repeat(envs, 5)
    with PathRecorder(layer, slice(0, 3)) as rec:
        layer.step(np.zeros((1, 2, 1)))
        layer.step(np.zeros((1, 2, 1)), np.array([[False, True]]))
    assert [p.shape for p in rec.paths()] == [(5, 3), (10, 3)]
    assert [p.shape for p in PathRecorder(envs, slice(0, 3)).paths()] == [(0, 3), (0, 3)]  # nothing stepped
    envs.close()


def test_an_instance_step_set_before_is_put_back() -> None:
    envs = pendulums(1, 1)
    calls: list[int] = []
    plain = envs.step

    def counting(actions: np.ndarray, active: np.ndarray | None = None) -> StepResult:
        calls.append(1)
        return plain(actions, active)

    envs.step = counting  # type: ignore[method-assign]
    with PathRecorder(envs, slice(0, 1)) as rec:
        envs.step(np.zeros((1, 1, 1)))
    assert envs.step is counting and calls == [1] and rec.paths()[0].shape == (1, 1)
    envs.close()


def test_step_is_put_back_after_an_exception_and_a_recorder_is_not_reentered() -> None:
    envs = pendulums(1, 1)
    rec = PathRecorder(envs, slice(0, 1))
    with pytest.raises(ZeroDivisionError):
        with rec:
            envs.step(np.zeros((1, 1, 1)))
            1 / 0
    assert "step" not in vars(envs) and rec.paths()[0].shape == (1, 1)
    with pytest.raises(RuntimeError, match="one with-block"):
        with rec:
            pass
    assert "step" not in vars(envs)
    envs.close()
