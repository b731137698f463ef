"""Checkpoints: crash safety (SIGKILL, injected crashes, fsync order), tamper evidence, clear errors, fuzzing."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import random
import shutil
import signal
import subprocess
import tempfile
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open
from torch import Tensor

import softskills
from softskills.skills.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    checkpoint_dir,
    load_checkpoint,
    load_optimizer,
    optimizer_tensors,
    save_checkpoint,
)
from tests.skills._checkpoint_writer import snapshot

FILES = ("state.safetensors", "buffer.safetensors", "meta.json", "manifest.sha256")
ADDED = ("format_version", "softskills_version", "files")  # meta keys the module adds
WRITER = Path(__file__).with_name("_checkpoint_writer.py")


def small(counter: int) -> tuple[dict[str, Tensor], dict[str, Any], dict[str, Tensor]]:
    """A small checkpoint whose tensors and meta all carry ``counter``."""
    g = torch.Generator().manual_seed(counter)
    tensors = {"counter": torch.tensor([counter]), "w": torch.randn(3, 4, generator=g)}
    meta = {"counter": counter, "config": {"lr": 3e-4, "hidden": [8, 8]}, "spaces": {"obs": [3]}}
    return tensors, meta, {"buffer/obs": torch.randn(5, 3, generator=g)}


def assert_state(loaded: tuple[dict[str, Tensor], dict[str, Any], dict[str, Tensor] | None],
                 expected: tuple[dict[str, Tensor], dict[str, Any], dict[str, Tensor]]) -> None:
    """``loaded`` holds exactly the tensors, caller meta and buffer of ``expected``."""
    tensors, meta, buf = loaded
    assert tensors.keys() == expected[0].keys() and buf is not None and buf.keys() == expected[2].keys()
    for k in tensors:
        assert torch.equal(tensors[k], expected[0][k]), k
    for k in buf:
        assert torch.equal(buf[k], expected[2][k]), k
    assert {k: v for k, v in meta.items() if k not in ADDED} == expected[1]


def load_strict(path: Path, **kw: Any) -> tuple[dict[str, Tensor], dict[str, Any], dict[str, Tensor] | None]:
    """Load with warnings as errors (a fallback to ``.old`` after a corrupt primary fails)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_checkpoint(path, **kw)


def counter_of(path: Path, **kw: Any) -> int:
    """The loaded counter, checking that the tensor counter equals the meta counter."""
    tensors, meta, _ = load_strict(path, **kw)
    assert int(tensors["counter"]) == meta["counter"]
    return meta["counter"]


def reseal(d: Path, meta_bytes: bytes | None = None) -> None:
    """Rewrite the hashes of ``d`` as a deliberate editor would (after writing ``meta_bytes`` if given)."""
    if meta_bytes is None:
        meta = json.loads((d / "meta.json").read_text())
        if isinstance(meta.get("files"), dict):
            meta["files"] = {f: hashlib.sha256((d / f).read_bytes()).hexdigest() for f in meta["files"]}
        meta_bytes = json.dumps(meta, sort_keys=True, indent=1).encode()
    (d / "meta.json").write_bytes(meta_bytes)
    (d / "manifest.sha256").write_text(f"{hashlib.sha256(meta_bytes).hexdigest()}  meta.json\n")


# ---------------------------------------------------------------------------- layout and API
def test_round_trip_layout_and_manifest(tmp_path: Path) -> None:
    tensors, meta, buf = small(1)
    d = save_checkpoint(tmp_path / "run", tensors, {**meta, "format_version": 0, "files": "mine"}, buf)
    assert d == tmp_path / "run" / "checkpoint" and sorted(p.name for p in d.iterdir()) == sorted(FILES)
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["checkpoint"]
    manifest = (d / "manifest.sha256").read_text()
    assert manifest == f"{hashlib.sha256((d / 'meta.json').read_bytes()).hexdigest()}  meta.json\n"
    assert_state(load_checkpoint(tmp_path / "run"), (tensors, meta, buf))
    assert_state(load_checkpoint(d), (tensors, meta, buf))
    _, full, _ = load_checkpoint(d)
    assert full["format_version"] == FORMAT_VERSION and full["softskills_version"] == softskills.__version__
    assert set(full["files"]) == {"state.safetensors", "buffer.safetensors"}
    assert checkpoint_dir(tmp_path / "run") == checkpoint_dir(d) == d
    assert load_checkpoint(save_checkpoint(tmp_path / "nobuf", tensors, meta))[2] is None


def test_named_checkpoints_share_a_run_dir(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, *small(1))
    lib = save_checkpoint(tmp_path, *small(2), name="skill-library_v1.2")
    assert lib == tmp_path / "skill-library_v1.2"
    assert counter_of(tmp_path) == 1 and counter_of(tmp_path, name="skill-library_v1.2") == 2
    assert checkpoint_dir(tmp_path, name="skill-library_v1.2") == lib
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        load_checkpoint(tmp_path, name="other")


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda p: save_checkpoint(p, [torch.ones(1)], {}), TypeError, "tensors must be a dict"),  # type: ignore
        (lambda p: save_checkpoint(p, {"a": 1.0}, {}), TypeError, "entry 'a' is float"),  # type: ignore
        (lambda p: save_checkpoint(p, {1: torch.ones(1)}, {}), TypeError, "entry 1"),  # type: ignore
        (lambda p: save_checkpoint(p, {}, {}, {"b": [1]}), TypeError, "buffer must map"),  # type: ignore
        (lambda p: save_checkpoint(p, {}, ["x"]), TypeError, "meta must be a dict"),  # type: ignore
        (lambda p: save_checkpoint(p, {}, {1: 2}), TypeError, "str keys"),  # type: ignore
        (lambda p: save_checkpoint(p, {}, {"x": object()}), TypeError, "not JSON-able"),
        (lambda p: save_checkpoint(p, {}, {}, name=""), ValueError, "checkpoint name"),
        (lambda p: save_checkpoint(p, {}, {}, name="a/b"), ValueError, "checkpoint name"),
        (lambda p: save_checkpoint(p, {}, {}, name=".hidden"), ValueError, "checkpoint name"),
        (lambda p: save_checkpoint(p, {}, {}, name="x.old"), ValueError, "checkpoint name"),
        (lambda p: load_checkpoint(p, name="../up"), ValueError, "checkpoint name"),
    ],
)
def test_bad_input_is_refused_before_touching_disk(
    tmp_path: Path, call: Callable[[Path], Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call(tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_save_refuses_to_replace_a_foreign_directory(tmp_path: Path) -> None:
    for victim in ("checkpoint", "checkpoint.old"):
        run = tmp_path / f"run-{victim}"
        (run / victim).mkdir(parents=True)
        (run / victim / "notes.txt").write_text("mine")
        with pytest.raises(CheckpointError, match=f"refusing to replace .*{victim}"):
            save_checkpoint(run, *small(1))
        assert (run / victim / "notes.txt").read_text() == "mine"


def test_optimizer_round_trip_and_mismatch(tmp_path: Path) -> None:
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    tensors, groups = optimizer_tensors(opt)
    save_checkpoint(tmp_path, tensors, {"groups": groups})
    loaded, meta, _ = load_checkpoint(tmp_path)
    fresh = torch.optim.Adam(torch.nn.Linear(3, 2).parameters())
    load_optimizer(fresh, loaded, meta["groups"])
    assert fresh.param_groups[0]["betas"] == (0.9, 0.999) and fresh.param_groups[0]["lr"] == 1e-3
    assert torch.equal(fresh.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    with pytest.raises(CheckpointError, match="does not fit"):
        load_optimizer(torch.optim.Adam(torch.nn.Linear(3, 2).parameters()), loaded, meta["groups"] * 2)


# ---------------------------------------------------------------------------- refused checkpoints
@pytest.mark.parametrize("victim", FILES)
def test_missing_file_is_named(tmp_path: Path, victim: str) -> None:
    d = save_checkpoint(tmp_path, *small(1))
    (d / victim).unlink()
    with pytest.raises(CheckpointError, match=f"{victim}.* is missing"):
        load_checkpoint(d)


def test_foreign_directories_are_not_checkpoints(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "weights.pt").write_bytes(b"\x80\x04not a checkpoint")
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        load_checkpoint(tmp_path / "data")
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        load_checkpoint(tmp_path / "nowhere")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "meta.json").write_text('{"model": "resnet"}')
    with pytest.raises(CheckpointError, match="manifest.sha256 is missing"):
        load_checkpoint(tmp_path / "other")
    reseal(tmp_path / "other")
    with pytest.raises(CheckpointError, match="meta.json is not a softskills checkpoint's meta"):
        load_checkpoint(tmp_path / "other")
    (tmp_path / "run" / "checkpoint").mkdir(parents=True)
    with pytest.raises(CheckpointError, match="not a softskills checkpoint"):
        load_checkpoint(tmp_path / "run")


def test_every_edit_of_meta_or_manifest_is_detected(tmp_path: Path) -> None:
    d = save_checkpoint(tmp_path, *small(1))
    original = (d / "meta.json").read_bytes()
    meta = json.loads(original)
    edits = {
        "config value": json.dumps({**meta, "config": {"lr": 1.0, "hidden": [8, 8]}}, sort_keys=True, indent=1),
        "counter": json.dumps({**meta, "counter": 2}, sort_keys=True, indent=1),
        "hash list": json.dumps({**meta, "files": {"state.safetensors": meta["files"]["state.safetensors"]}},
                                sort_keys=True, indent=1),
        "whitespace only": json.dumps(meta, sort_keys=True),
    }
    for what, text in edits.items():
        (d / "meta.json").write_text(text)
        with pytest.raises(CheckpointError, match=r"meta\.json does not match the SHA-256 .*manifest"):
            load_checkpoint(d)
    (d / "meta.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"meta\.json is not valid JSON and does not match"):
        load_checkpoint(d)
    (d / "meta.json").write_bytes(original)
    manifest = (d / "manifest.sha256").read_text()
    for text in (manifest.replace(manifest[0], "f" if manifest[0] != "f" else "0", 1), manifest.upper(),
                 manifest.rstrip("\n"), manifest + manifest, "", manifest.replace("meta.json", "meta.jsn")):
        (d / "manifest.sha256").write_text(text)
        with pytest.raises(CheckpointError, match="manifest.sha256"):
            load_checkpoint(d)
    (d / "manifest.sha256").write_text(manifest)
    assert counter_of(d) == 1


def test_newer_and_older_formats_are_refused(tmp_path: Path) -> None:
    d = save_checkpoint(tmp_path, *small(1))
    meta = json.loads((d / "meta.json").read_text())
    (d / "meta.json").write_text(json.dumps({**meta, "format_version": FORMAT_VERSION + 1}))  # not resealed
    with pytest.raises(CheckpointError, match="newer than .*: upgrade softskills"):
        load_checkpoint(d)
    (d / "manifest.sha256").unlink()  # a format-1 checkpoint has no manifest
    (d / "meta.json").write_text(json.dumps({**meta, "format_version": 1}))
    with pytest.raises(CheckpointError, match="format 1, older than"):
        load_checkpoint(d)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m.pop("format_version"), "has no format_version"),
        (lambda m: m.update(format_version="2"), "invalid format_version '2'"),
        (lambda m: m.update(format_version=2.0), "invalid format_version 2.0"),
        (lambda m: m.update(format_version=True), "invalid format_version True"),
        (lambda m: m.update(format_version=0), "invalid format_version 0"),
        (lambda m: m.update(format_version=FORMAT_VERSION + 7), "upgrade softskills"),
        (lambda m: m.pop("softskills_version"), "softskills_version"),
        (lambda m: m.pop("files"), "'files' table"),
        (lambda m: m.update(files=["state.safetensors"]), "'files' table"),
        (lambda m: m["files"].pop("state.safetensors"), "does not list state.safetensors"),
        (lambda m: m["files"].update({"../../etc/passwd": "0" * 64}), "unknown file '../../etc/passwd'"),
        (lambda m: m["files"].update({"state.safetensors": "abc"}), "invalid SHA-256 'abc'"),
        (lambda m: m["files"].update({"state.safetensors": None}), "invalid SHA-256 None"),
    ],
)
def test_malformed_meta_is_a_checkpoint_error_even_when_resealed(
    tmp_path: Path, edit: Callable[[dict[str, Any]], Any], message: str
) -> None:
    d = save_checkpoint(tmp_path, *small(1))
    meta = json.loads((d / "meta.json").read_text())
    edit(meta)
    reseal(d, meta_bytes=json.dumps(meta).encode())
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(d)


@pytest.mark.parametrize("raw", [b"[1, 2]", b"{not json", b"\xff\xfe\x00garbage", b"null", b"[" * 100_000],
                         ids=["list", "bad-json", "bad-utf8", "null", "deep-nesting"])
def test_resealed_non_object_meta_is_refused(tmp_path: Path, raw: bytes) -> None:
    d = save_checkpoint(tmp_path, *small(1))
    reseal(d, meta_bytes=raw)
    with pytest.raises(CheckpointError, match="meta.json"):
        load_checkpoint(d)


def test_required_keys_are_checked(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, *small(1))
    assert counter_of(tmp_path, required_keys=("config", "spaces")) == 1
    with pytest.raises(CheckpointError, match=r"lacks the required keys \['step'\]"):
        load_checkpoint(tmp_path, required_keys=["config", "step"])


def _safetensors_file(header: dict[str, Any], data: bytes) -> bytes:
    """A safetensors file with a hand-written header."""
    raw = json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + data


@pytest.mark.parametrize("victim", ["state.safetensors", "buffer.safetensors"])
@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x00" * 8, b"not safetensors at all", b"\x08" + b"\x00" * 7 + b"{}",
     _safetensors_file({"a": {"dtype": "F4", "shape": [2], "data_offsets": [0, 1]}}, b"\x00"),
     _safetensors_file({"a": {"dtype": "F32", "shape": [2**62, 4], "data_offsets": [0, 4]}}, b"\x00" * 4)],
    ids=["empty", "zero-header", "text", "bad-header", "dtype-torch-lacks", "huge-shape"],
)
def test_invalid_safetensors_with_matching_hash_is_refused(tmp_path: Path, victim: str, garbage: bytes) -> None:
    d = save_checkpoint(tmp_path, *small(1))
    (d / victim).write_bytes(garbage)
    reseal(d)
    with pytest.raises(CheckpointError, match=f"{victim} is not a valid safetensors file"):
        load_checkpoint(d)


def test_nothing_is_unpickled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a checkpoint must never be unpickled")

    for target, attr in [(pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")]:
        monkeypatch.setattr(target, attr, forbidden)
    expected = small(1)
    d = save_checkpoint(tmp_path, *expected)
    assert_state(load_checkpoint(tmp_path), expected)
    assert json.loads((d / "meta.json").read_text())["counter"] == 1
    for f in ("state.safetensors", "buffer.safetensors"):
        with safe_open(str(d / f), framework="pt") as st:  # the plain safetensors parser reads them
            assert set(st.keys()) == set(expected[0] if f.startswith("state") else expected[2])


# ---------------------------------------------------------------------------- fuzzing
def _corrupt(rng: random.Random, data: bytes) -> bytes:
    """One random corruption: 1-4 byte overwrites (possibly no-ops) or a truncation."""
    if rng.random() < 0.25 and data:
        return data[: rng.randrange(len(data))]
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def test_fuzz_flips_and_truncations_are_refused_and_name_the_file(tmp_path: Path) -> None:
    rng = random.Random(20240601)
    expected = small(7)
    d = save_checkpoint(tmp_path, *expected)
    pristine = {f: (d / f).read_bytes() for f in FILES}
    refused = unchanged = 0
    for i in range(240):
        victim = FILES[i % len(FILES)]
        corrupt = _corrupt(rng, pristine[victim])
        (d / victim).write_bytes(corrupt)
        try:
            loaded = load_checkpoint(d)
        except CheckpointError as e:
            assert corrupt != pristine[victim]
            assert victim in str(e), f"case {i}: the error does not name {victim}: {e}"
            refused += 1
        else:
            assert corrupt == pristine[victim], f"case {i}: a corrupt {victim} was accepted"
            assert_state(loaded, expected)
            unchanged += 1
        (d / victim).write_bytes(pristine[victim])
    assert refused >= 200 and refused + unchanged == 240


def test_fuzz_resealed_corruption_never_escapes_as_another_exception(tmp_path: Path) -> None:
    """Corrupt a file and rewrite every hash, so the JSON and safetensors parsers see the damage."""
    rng = random.Random(7)
    d = save_checkpoint(tmp_path, *small(3))
    pristine = {f: (d / f).read_bytes() for f in FILES}
    outcomes = {"refused": 0, "loaded": 0}
    for i in range(240):
        victim = FILES[i % 3]  # the manifest is rewritten by reseal anyway
        corrupt = _corrupt(rng, pristine[victim])
        if victim == "meta.json":
            reseal(d, meta_bytes=corrupt)
        else:
            (d / victim).write_bytes(corrupt)
            reseal(d)
        try:
            tensors, meta, _ = load_checkpoint(d)
            assert isinstance(meta, dict) and all(isinstance(v, Tensor) for v in tensors.values())
            outcomes["loaded"] += 1
        except CheckpointError:
            outcomes["refused"] += 1
        for f in FILES:
            (d / f).write_bytes(pristine[f])
    assert outcomes["refused"] >= 60 and outcomes["loaded"] >= 20, outcomes


# ---------------------------------------------------------------------------- crash safety
def crash_while_publishing(run: Path, state: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    """Save ``state`` into ``run`` with a crash at the rename that would publish ``run/checkpoint``."""
    real_replace = os.replace

    def crash_on_publish(src: Any, dst: Any) -> None:
        if Path(dst) == run / "checkpoint":
            raise OSError("simulated crash while publishing")
        real_replace(src, dst)

    with monkeypatch.context() as m, pytest.raises(OSError, match="simulated crash"):
        m.setattr(os, "replace", crash_on_publish)
        save_checkpoint(run, *state)


def test_only_checkpoint_old_surviving_is_loaded_and_kept_until_the_next_save_lands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    save_checkpoint(run, *small(1))
    save_checkpoint(run, *small(2))
    os.replace(run / "checkpoint", run / "checkpoint.old")  # a crash between the two renames of a save
    shutil.copytree(run / "checkpoint.old", run / ".checkpoint-0123456789ab.tmp")
    assert counter_of(run) == 2 and checkpoint_dir(run) == run / "checkpoint.old"

    crash_while_publishing(run, small(3), monkeypatch)
    assert counter_of(run) == 2  # the next save must not delete the only checkpoint first
    save_checkpoint(run, *small(4))
    assert counter_of(run) == 4 and [p.name for p in run.iterdir()] == ["checkpoint"]


def test_newest_valid_checkpoint_is_preferred(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    save_checkpoint(tmp_path / "older", *small(1))
    save_checkpoint(run, *small(2))
    shutil.copytree(tmp_path / "older" / "checkpoint", run / "checkpoint.old")
    assert counter_of(run) == 2  # both valid: the primary wins
    (run / "checkpoint" / "state.safetensors").write_bytes(b"bit rot")
    with pytest.warns(RuntimeWarning, match=r"state\.safetensors does not match.*previous checkpoint"):
        _, meta, _ = load_checkpoint(run)
        assert meta["counter"] == 1 and checkpoint_dir(run) == run / "checkpoint.old"
    old_meta = (run / "checkpoint.old" / "meta.json").read_bytes()
    (run / "checkpoint.old" / "meta.json").write_text("{}")
    with pytest.raises(CheckpointError, match=r"no valid checkpoint.*state\.safetensors.*meta\.json"):
        load_checkpoint(run)
    (run / "checkpoint.old" / "meta.json").write_bytes(old_meta)
    crash_while_publishing(run, small(3), monkeypatch)  # the broken primary must not displace the valid .old
    assert counter_of(run) == 1 and not (run / "checkpoint").exists()
    save_checkpoint(run, *small(5))
    assert counter_of(run) == 5 and [p.name for p in run.iterdir()] == ["checkpoint"]


def test_stale_tmp_dirs_are_removed_by_the_next_save_only(tmp_path: Path) -> None:
    run = tmp_path / "run"
    save_checkpoint(run, *small(1))
    ours = [run / ".checkpoint-0123456789ab.tmp", run / ".checkpoint-fedcba987654.tmp"]
    theirs = [run / ".checkpoint-foo-0123456789ab.tmp", run / ".library-0123456789ab.tmp",
              run / ".checkpoint-xyz.tmp", run / "notes.tmp"]
    for p in ours + theirs:
        p.mkdir()
        (p / "state.safetensors").write_bytes(b"half written")
    assert counter_of(run) == 1  # stale temporaries never confuse loading
    save_checkpoint(run, *small(2))
    assert counter_of(run) == 2
    assert not any(p.exists() for p in ours) and all(p.exists() for p in theirs)


class _Crash(BaseException):
    """An injected crash."""


def test_a_crash_at_any_filesystem_step_leaves_the_old_or_the_new_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Crash at the k-th rename/fsync/rmtree of a save, for every k, from a clean and from a crashed state."""
    ops = [(os, "replace"), (os, "fsync"), (shutil, "rmtree")]
    for crashed_start in (False, True):
        k = 0
        while True:
            k += 1
            run = tmp_path / f"{crashed_start}-{k}"
            save_checkpoint(run, *small(1))
            save_checkpoint(run, *small(2))
            if crashed_start:
                os.replace(run / "checkpoint", run / "checkpoint.old")
            calls = [0]
            with monkeypatch.context() as m:
                for mod, name in ops:
                    real = getattr(mod, name)

                    def counted(*a: Any, _real: Callable[..., Any] = real, **kw: Any) -> Any:
                        calls[0] += 1
                        if calls[0] == k:
                            raise _Crash
                        return _real(*a, **kw)

                    m.setattr(mod, name, counted)
                try:
                    save_checkpoint(run, *small(3))
                    finished = True
                except _Crash:
                    finished = False
            assert counter_of(run) in ((3,) if finished else (2, 3)), (crashed_start, k)
            if finished:
                break
        assert k > 8  # every step of the save was crashed once


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name fsynced descriptors")
def test_files_and_directories_are_fsynced_around_every_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path.resolve() / "run"
    save_checkpoint(run, *small(1))
    events: list[tuple[str, ...]] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))),
                                                 real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace", str(a), str(b))),
                                                     real_replace(a, b))[1])
    save_checkpoint(run, *small(2))
    publish = next(i for i, e in enumerate(events) if e[0] == "replace" and e[2] == str(run / "checkpoint"))
    tmp = events[publish][1]
    synced = [e[1] for e in events[:publish] if e[0] == "fsync"]
    assert [s for s in synced if s.startswith(tmp)] == [f"{tmp}/{f}" for f in FILES] + [tmp]  # manifest last
    replaces = [i for i, e in enumerate(events) if e[0] == "replace"]
    assert len(replaces) == 3  # rotate to .old, publish, discard .old
    for i in replaces:
        assert events[i + 1] == ("fsync", str(run)), f"no fsync of {run} right after {events[i]}"


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name fsynced descriptors")
def test_a_new_run_directory_is_made_durable_in_its_parent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parent = tmp_path.resolve() / "runs"
    parent.mkdir()
    synced: list[str] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd))[1])
    save_checkpoint(parent / "new", *small(1))
    assert str(parent) in synced  # the entry of the created run directory survives a power cut
    assert counter_of(parent / "new") == 1


def test_a_checkpoint_missing_at_the_first_look_is_found_on_a_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between a save's renames neither name may exist for an instant: the reader looks again, not fails."""
    import softskills.skills.checkpoint as ck

    save_checkpoint(tmp_path, *small(1))
    real_identity, calls = ck._identity, [0]

    def vanishing(path: Path) -> tuple[int, int, int] | None:
        calls[0] += 1
        return None if calls[0] <= 2 else real_identity(path)  # both names gone at the first look

    monkeypatch.setattr(ck, "_identity", vanishing)
    assert counter_of(tmp_path) == 1 and calls[0] > 2


def _read_until(server: subprocess.Popen[str], reply: str, saved: list[int], notes: Sequence[str] = ()) -> str:
    """Read the writer server's output up to a line starting with ``reply``, collecting ``saved`` lines.

    ``notes`` (e.g. a watchdog's report) go into the error raised if the server ends first.
    """
    assert server.stdout is not None
    while line := server.stdout.readline():
        if line.startswith("saved "):
            saved.append(int(line.split()[1]))
        elif line.startswith(reply):
            return line
    raise AssertionError(f"the writer server ended (status {server.wait()}) while waiting for {reply!r} {notes}")


def _send(server: subprocess.Popen[str], command: str) -> None:
    assert server.stdin is not None
    server.stdin.write(command + "\n")
    server.stdin.flush()


def _memory_backed_dir(stack: contextlib.ExitStack, fallback: Path) -> Path:
    """A fresh directory on tmpfs when there is one (SIGKILL tests renames, not the disk; a busy
    disk can keep a killed writer in an uninterruptible fsync), else ``fallback``."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(stack.enter_context(tempfile.TemporaryDirectory(dir=shm)))
    return fallback


def _proc_state(pid: int) -> str:
    """The kernel's view of a process (its state letter is the third field), for hang reports."""
    try:
        return Path(f"/proc/{pid}/stat").read_text()
    except OSError as e:
        return str(e)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the writer server forks; SIGKILL is POSIX")
def test_sigkill_at_random_moments_never_loses_the_checkpoint(tmp_path: Path) -> None:
    """A saving writer is SIGKILLed 30 times: at random times, a few ms after it announces a rename, or,
    when only ``.old`` survived, inside the next save's swap (where deleting ``.old`` first loses all).
    Each time the newest completed save, or the one in flight, loads complete and verified."""
    with contextlib.ExitStack() as stack:
        run = _memory_backed_dir(stack, tmp_path) / "run"
        log = stack.enter_context((tmp_path / "writer.stderr").open("w"))
        server = stack.enter_context(subprocess.Popen([sys.executable, str(WRITER)], stdin=subprocess.PIPE,
                                                      stdout=subprocess.PIPE, stderr=log, text=True))
        _kill_repeatedly(run, server, tmp_path / "writer.stderr")


def _kill_repeatedly(run: Path, server: subprocess.Popen[str], log: Path) -> None:
    """The body of the kill test: 30 start/kill/reap/load rounds against ``run``."""
    rng, start = random.Random(99), time.monotonic()
    save_checkpoint(run, *snapshot(0))
    on_disk, states, child, hung = 0, [], 0, []

    def on_hang() -> None:  # a hung writer fails the test, with the child's kernel state, instead of blocking
        hung.append(f"hung; child {child}: {_proc_state(child)}")
        server.kill()

    watchdog = threading.Timer(120, on_hang)
    watchdog.start()
    try:
        for i in range(30):
            saved: list[int] = []
            _send(server, f"start {run} {on_disk + 1}")
            child = int(_read_until(server, "pid ", saved, hung).split()[1])
            if not (run / "checkpoint").exists():  # only .old survived: aim inside the next swap
                _read_until(server, "rename 2\n", saved, hung)
                time.sleep(rng.uniform(0.0, 0.001))
            elif i % 2:
                _read_until(server, f"rename {rng.randint(1, 6)}\n", saved, hung)
                time.sleep(rng.uniform(0.0, 0.004))
            else:
                time.sleep(rng.uniform(0.0, 0.25))
            os.kill(child, signal.SIGKILL)
            _send(server, f"reap {child}")
            status = int(_read_until(server, "reaped ", saved, hung).split()[2])
            assert os.waitstatus_to_exitcode(status) == -signal.SIGKILL, log.read_text()
            child = 0
            states.append(((run / "checkpoint").exists(), (run / "checkpoint.old").exists(),
                           len(list(run.glob(".checkpoint-*.tmp")))))
            last_done = max(saved, default=on_disk)
            got = counter_of(run)  # complete, verified, no fallback warning, counters agree
            assert got in (last_done, last_done + 1), (got, saved, on_disk, states[-1])
            assert_state(load_checkpoint(run), snapshot(got))  # exactly what the writer saved for `got`
            on_disk = got
        _send(server, "quit")
        assert server.wait(timeout=30) == 0, log.read_text()
    finally:
        watchdog.cancel()
        if child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        server.kill()
    print(f"kill test: {time.monotonic() - start:.1f}s, {on_disk} saves, "
          f"(checkpoint, .old, tmp dirs) after kills: {states}")
    assert on_disk >= 15  # the writer made progress
    assert sum(1 for s in states if s[2]) >= 5 and sum(1 for s in states if not s[0]) >= 2  # mid-save kills
    save_checkpoint(run, *snapshot(on_disk + 1))
    assert [p.name for p in run.iterdir()] == ["checkpoint"]  # stale tmp dirs and .old are gone


def test_loading_while_another_thread_saves_always_sees_a_complete_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "run"
    save_checkpoint(run, *small(0))
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for c in range(1, 60):
                save_checkpoint(run, *small(c))
        except BaseException as e:  # noqa: BLE001 - re-raised by the main thread
            errors.append(e)

    thread = threading.Thread(target=writer)
    thread.start()
    seen = []
    while thread.is_alive():
        loaded = load_strict(run)
        assert_state(loaded, small(loaded[1]["counter"]))
        seen.append(loaded[1]["counter"])
    thread.join()
    assert not errors, errors
    assert seen == sorted(seen) and len(set(seen)) > 3, seen
