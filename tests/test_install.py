"""Installs: the torch index with its fallback, what `make run` and `make test` install, the lock, the README.

The PyTorch index is not reachable from these machines, so the fallback path is the one exercised
for real; the chosen commands are checked with ``tools/deps.py --dry-run`` and ``make -n``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import pytest
from packaging.requirements import Requirement

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import deps  # noqa: E402  (tools/ is not a package: the script the Makefile runs)

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


LOCKED = {norm(Requirement(line).name): line
          for line in (ROOT / "requirements.lock").read_text().splitlines() if line and not line.startswith("#")}


def dry_run(*args: str, torch_index: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "deps.py"), "install", *args, "--dry-run",
                           "--torch-index", torch_index], cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("setting", "gpu", "index"), [
    ("auto", False, deps.CPU_INDEX),
    ("auto", True, None),
    ("none", False, None),
    ("", False, None),
    ("https://download.pytorch.org/whl/cu126", False, "https://download.pytorch.org/whl/cu126"),
])
def test_torch_index_choice(setting: str, gpu: bool, index: str | None) -> None:
    assert deps.choose_torch_index(setting, has_gpu=gpu) == index


def test_unreachable_torch_index_falls_back_to_the_default_index() -> None:
    """The CPU index is tried first; where it does not answer, pip's default index gives torch 2.13.0."""
    result = dry_run("sidecar,reports", torch_index="http://127.0.0.1:9/whl/cpu")
    assert result.returncode == 0, result.stderr
    assert "http://127.0.0.1:9/whl/cpu not reachable" in result.stdout
    commands = [line for line in result.stdout.splitlines() if line.startswith("deps: ") and " -m pip " in line]
    assert len(commands) == 1 and "--extra-index-url" not in commands[0]
    assert f"-c {ROOT / 'requirements.lock'}" in commands[0] and "'.[sidecar,reports]'" in commands[0]


def test_reachable_torch_index_is_used_with_a_fallback(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(deps, "reachable", lambda index, timeout_s=0: None)
    monkeypatch.setattr(deps.shutil, "which", lambda name: None)  # no nvidia-smi: a CPU machine
    assert deps.install("sidecar", "auto", dry_run=True) == 0
    commands = [line for line in capsys.readouterr().out.splitlines() if " -m pip " in line]
    assert f"--extra-index-url {deps.CPU_INDEX}" in commands[0]
    assert "--extra-index-url" not in commands[1]  # tried only if the first install fails


def test_the_load_tester_alone_asks_no_torch_index() -> None:
    result = dry_run("", torch_index="auto")
    assert "PyTorch index" not in result.stdout and "--extra-index-url" not in result.stdout
    assert result.stdout.rstrip().endswith("-e .")


def test_make_run_installs_no_dev_tools_and_calls_the_front_door() -> None:
    run = subprocess.run(["make", "-n", "-B", "run"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    assert "tools/deps.py install --torch-index 'auto' sidecar,reports\n" in run
    assert "dev" not in run
    assert ".venv/bin/osiris-load run" in run
    test = subprocess.run(["make", "-n", "-B", "test"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    assert "install --torch-index 'auto' sidecar,reports,dev" in test
    chosen = subprocess.run(["make", "-n", "-B", "run", "TORCH_INDEX=none"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60).stdout
    assert "--torch-index 'none'" in chosen


def test_extras_split_the_install() -> None:
    base = {Requirement(r).name for r in PYPROJECT["project"]["dependencies"]}
    extras = {name: {Requirement(r).name for r in reqs}
              for name, reqs in PYPROJECT["project"]["optional-dependencies"].items()}
    assert not base & {"torch", "transformers", "pandas"}
    assert "pandas" in extras["reports"] and {"torch", "transformers"} <= extras["sidecar"]


def test_the_lock_pins_every_dependency_exactly() -> None:
    """Reproducible installs: every declared dependency (all extras) has an exact version in the lock."""
    declared = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    declared += [Requirement(r) for reqs in PYPROJECT["project"]["optional-dependencies"].values() for r in reqs]
    missing = sorted({norm(r.name) for r in declared} - set(LOCKED))
    assert not missing, f"not in requirements.lock: {missing} (refresh it: make lock)"
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+==[^=+ ]+", line) for line in LOCKED.values())
    assert LOCKED["torch"] == "torch==2.13.0"  # no local label: the CPU index's build and pip's default both match
    for requirement in declared:  # the lock satisfies what pyproject asks
        assert requirement.specifier.contains(LOCKED[norm(requirement.name)].split("==")[1], prereleases=True), \
            requirement
    assert "make lock" in (ROOT / "requirements.lock").read_text().splitlines()[1]


def test_readme_quick_start_is_two_commands_then_the_front_door() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in quick.strip().splitlines()] == ["make run", "make test"]
    for needle in ("osiris-load run", "osiris-load report", "osiris-load compare", "osiris-load sidecar",
                   "osiris-load --version", "./osiris-runs/", "TORCH_INDEX", "make lock",
                   "-u/-t", "--host", "OSIRIS_URL", "-f locustfiles/", "--processes", "130", "143"):
        assert needle in readme, needle
