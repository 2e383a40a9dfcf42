"""Install the project's dependencies the way the Makefile and the images do, and refresh the lock.

    python tools/deps.py install EXTRAS [--torch-index URL|auto|none] [--dry-run]
    python tools/deps.py lock [--torch-index ...]     # make lock: fresh venv, install all, freeze

``install`` runs ``pip install -c requirements.lock -e '.[EXTRAS]'`` with this interpreter (a venv's
python). When the ``sidecar`` extra is asked for, torch comes from PyTorch's CPU wheel index on a
machine without an NVIDIA GPU (no CUDA download): the index is probed first, and where it cannot be
reached (or the install through it fails) pip installs the same pinned torch from its default index.
``--torch-index`` (the Makefile's ``TORCH_INDEX``) chooses another index (e.g. a CUDA one) or
``none`` for pip's default.

``lock`` writes ``requirements.lock``: the exact versions ``pip freeze`` reports after installing every
extra into a fresh venv (constrained only by the deliberate pins of ``tools/lock-pins.txt``), used as
pip constraints (``-c``) by the Makefile and the images, so it pins
what gets installed without forcing anything an extra does not ask for. Local version labels
(``2.13.0+cpu``) are dropped so the pin matches the CPU index's build and pip's default one alike.
Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
PINS = ROOT / "tools" / "lock-pins.txt"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
ALL_EXTRAS = "sidecar,reports,dev"
PROBE_TIMEOUT_S = 10.0
LOCK_HEADER = """\
# The exact versions CI tested, used as pip constraints by the Makefile and the images.
# Refresh (after changing dependencies in pyproject.toml): make lock
"""


def choose_torch_index(setting: str, has_gpu: bool) -> str | None:
    """``auto``: the CPU index unless an NVIDIA GPU is present; ``none``/empty: pip's default; else the URL."""
    value = setting.strip()
    if value.lower() in ("", "none", "pypi", "default"):
        return None
    if value.lower() == "auto":
        return None if has_gpu else CPU_INDEX
    return value


def reachable(index: str, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """None when ``index`` answers for torch, else why not (one line)."""
    url = index.rstrip("/") + "/torch/"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return None if response.status < 400 else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return str(getattr(exc, "reason", None) or exc)


def pip_command(extras: str, *, index: str | None, lock: Path | None, pip_flags: str = "",
                editable: bool = True) -> list[str]:
    target = f".[{extras}]" if extras else "."
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if lock is not None and lock.is_file():
        command += ["-c", str(lock)]
    if index:
        command += ["--extra-index-url", index]
    command += shlex.split(pip_flags)
    return command + (["-e", target] if editable else [target])


def install(extras: str, torch_index: str, *, dry_run: bool = False, pip_flags: str = "",
            lock: Path | None = LOCK, editable: bool = True) -> int:
    """Install with the torch index when it helps and answers; fall back to pip's default index."""
    index = choose_torch_index(torch_index, shutil.which("nvidia-smi") is not None) if "sidecar" in extras else None
    if index is not None:
        why = reachable(index)
        if why is not None:
            print(f"deps: PyTorch index {index} not reachable ({why}): torch comes from pip's default index",
                  flush=True)
            index = None
        else:
            print(f"deps: torch from {index}", flush=True)
    attempts = [pip_command(extras, index=index, lock=lock, pip_flags=pip_flags, editable=editable)]
    if index is not None:
        attempts.append(pip_command(extras, index=None, lock=lock, pip_flags=pip_flags, editable=editable))
    for number, command in enumerate(attempts):
        print("deps: " + shlex.join(command), flush=True)
        if dry_run:
            continue
        code = subprocess.call(command, cwd=ROOT)
        if code == 0:
            return 0
        if number + 1 < len(attempts):
            print(f"deps: install through {index} failed (exit {code}); again from pip's default index", flush=True)
        else:
            return code
    return 0


def freeze_to_lock(python: str) -> str:
    """``pip freeze`` of ``python``'s environment as lock text (editable project left out, local labels dropped)."""
    frozen = subprocess.run([python, "-m", "pip", "freeze", "--exclude-editable", "--disable-pip-version-check"],
                            check=True, capture_output=True, text=True).stdout
    lines = []
    for line in frozen.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("-e ") or " @ " in line:
            continue
        lines.append(re.sub(r"\+[A-Za-z0-9.]+$", "", line))
    return LOCK_HEADER + "\n".join(sorted(lines, key=str.lower)) + "\n"


def lock(torch_index: str) -> int:
    """Fresh venv, every extra installed (unconstrained), frozen into requirements.lock."""
    with tempfile.TemporaryDirectory(prefix="osiris-lock-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        code = subprocess.call([python, str(Path(__file__).resolve()), "install", ALL_EXTRAS,
                                "--torch-index", torch_index, "--constraints", str(PINS)], cwd=ROOT)
        if code != 0:
            return code
        LOCK.write_text(freeze_to_lock(python))
    print(f"deps: wrote {LOCK.relative_to(ROOT)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/deps.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    inst = sub.add_parser("install", help="pip install the project with EXTRAS (comma-separated, may be empty)")
    inst.add_argument("extras", nargs="?", default="")
    inst.add_argument("--dry-run", action="store_true", help="print the pip commands only")
    inst.add_argument("--constraints", type=Path, default=LOCK, help="pip constraints (default: requirements.lock)")
    inst.add_argument("--no-editable", action="store_true", help="a regular install (the images)")
    lk = sub.add_parser("lock", help="refresh requirements.lock")
    for p in (inst, lk):
        p.add_argument("--torch-index", default=os.environ.get("TORCH_INDEX", "auto"),
                       help="auto (CPU index unless an NVIDIA GPU), none (pip's default), or an index URL")
    args = parser.parse_args(argv)
    if args.command == "lock":
        return lock(args.torch_index)
    return install(args.extras, args.torch_index, dry_run=args.dry_run, pip_flags=os.environ.get("PIP_FLAGS", ""),
                   lock=args.constraints, editable=not args.no_editable)


if __name__ == "__main__":
    sys.exit(main())
