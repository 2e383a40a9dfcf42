"""The Docker images, the Compose stack and the users' CI workflow, checked without a Docker engine.

No engine runs on these machines, so the files are what is tested: the compose file and the workflow
against their published JSON schemas (vendored by check-jsonschema, offline), hadolint-like rules
read from the Dockerfiles, and the wiring: services, ports, healthchecks, profiles, the files and
locustfiles each names, and that every environment variable it sets is one the code reads. The
workflow's verdict step is run for real on a sample run folder.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from osiris_load.core.slo.evaluate import evaluate, plan_for
from osiris_load.core.slo.recorder import RequestRecorder
from osiris_load.core.slo.table import parse_table
from osiris_load.core.slo.verdict import to_json
from sidecar.infra.settings import Settings
from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
WORKFLOW_PATH = ROOT / ".github" / "workflows" / "load-test.yml"
WORKFLOW = yaml.safe_load(WORKFLOW_PATH.read_text())
STEPS = WORKFLOW["jobs"]["load-test"]["steps"]
DOCKERFILES = sorted((ROOT / "docker").glob("*.Dockerfile"))
LOCUST_SERVICES = ("locust-master", "locust-worker", "locust-ci-master", "locust-ci-worker", "locust-headless")
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def step(name_start: str) -> dict:
    return next(s for s in STEPS if s.get("name", "").startswith(name_start))


def uses(action: str) -> list[dict]:
    return [s for s in STEPS if s.get("uses", "").split("@")[0] == action]


@pytest.mark.parametrize(("schema", "path"), [
    ("vendor.compose-spec", ROOT / "docker-compose.yml"),
    ("vendor.github-workflows", WORKFLOW_PATH),
])
def test_files_validate_against_their_schemas(schema: str, path: Path) -> None:
    result = subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", schema, str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_mistake(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yml"
    broken.write_text("services:\n  a:\n    image: x\n    portz: ['1:1']\n")
    result = subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(broken)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "portz" in result.stdout


# -- the Dockerfiles, hadolint-like --

def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
            for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_rules(dockerfile: Path) -> None:
    steps = instructions(dockerfile)
    names = [name for name, _ in steps]
    base = dict(steps)["FROM"]
    assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*", base), f"base image not pinned to a patch tag: {base}"
    assert "latest" not in base
    # dependencies before the sources: the first install needs only pyproject, the lock and tools/deps.py
    first_install = next(i for i, (name, args) in enumerate(steps) if name == "RUN" and "deps.py install" in args)
    copied_before = [shlex.split(args)[:-1] for name, args in steps[:first_install] if name == "COPY"]
    assert {src for srcs in copied_before for src in srcs} <= {"pyproject.toml", "requirements.lock", "README.md",
                                                               "tools/deps.py"}, copied_before
    assert any(name == "COPY" and args.startswith("sidecar ") for name, args in steps[first_install:])
    # a non-root user for whatever runs
    user_at = max(i for i, name in enumerate(names) if name == "USER")
    assert steps[user_at][1] not in ("root", "0")
    runs_at = [i for i, name in enumerate(names) if name in ("CMD", "ENTRYPOINT")]
    assert runs_at and all(i > user_at for i in runs_at)
    for name, args in steps:
        if name == "COPY":
            for source in shlex.split(args)[:-1]:
                assert (ROOT / source).exists(), f"{dockerfile.name} copies {source}, which does not exist"
        if name == "RUN" and "pip install" in args:
            assert "--no-deps" in args  # only the project itself; dependencies come from deps.py with the lock


def test_dockerfiles_install_through_the_lock_like_the_makefile() -> None:
    sidecar = (ROOT / "docker" / "sidecar.Dockerfile").read_text()
    locust = (ROOT / "docker" / "locust.Dockerfile").read_text()
    assert "tools/deps.py install sidecar --no-editable" in sidecar
    assert "tools/deps.py install --no-editable" in locust and "sidecar --no" not in locust  # torch-free
    assert "tools/deps.py install" in (ROOT / "Makefile").read_text()
    # deps.py constrains every install by requirements.lock (the default of --constraints)
    assert "default=LOCK" in (ROOT / "tools" / "deps.py").read_text()


def test_dockerignore_keeps_runs_caches_and_venv_out() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".venv", ".git", ".cache", "reports/runs", "osiris-runs", "**/__pycache__"} <= ignored
    assert not ignored & {"pyproject.toml", "requirements.lock", "tools/deps.py", "sidecar", "slo", "locustfiles",
                          "openmodel", "reports", "suite", "README.md"}


# -- the Compose stack --

def test_services_of_the_stack() -> None:
    assert {"redis", "llm-sidecar", *LOCUST_SERVICES} <= set(SERVICES)


def test_pinned_images_and_one_image_for_every_locust_service() -> None:
    assert re.fullmatch(r"redis:\d+\.\d+\.\d+-alpine[\d.]*", SERVICES["redis"]["image"])
    images = {SERVICES[name]["image"] for name in LOCUST_SERVICES}
    assert len(images) == 1
    builds = {str(SERVICES[name]["build"]) for name in LOCUST_SERVICES}
    assert builds == {str({"context": ".", "dockerfile": "docker/locust.Dockerfile"})}


def test_published_ports_bind_loopback_by_default() -> None:
    published = [(name, port) for name, service in SERVICES.items() for port in service.get("ports", [])]
    assert published
    for name, port in published:
        default = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", port)
        assert default.startswith("127.0.0.1:"), (name, port)
    assert ("llm-sidecar", "${OSIRIS_BIND:-127.0.0.1}:8000:8000") in published
    assert ("locust-master", "${OSIRIS_BIND:-127.0.0.1}:8089:8089") in published


def test_redis_and_sidecar_are_healthchecked_and_ordered() -> None:
    assert "redis-cli" in " ".join(SERVICES["redis"]["healthcheck"]["test"])
    sidecar = SERVICES["llm-sidecar"]
    assert sidecar["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "/health" in " ".join(sidecar["healthcheck"]["test"])
    assert sidecar["environment"]["REDIS_URL"].startswith("redis://redis:")
    for locust in ("locust-master", "locust-ci-master", "locust-headless"):
        assert SERVICES[locust]["depends_on"]["llm-sidecar"]["condition"] == "service_healthy"


def test_master_has_the_web_ui_and_workers_scale() -> None:
    assert "--master" in SERVICES["locust-master"]["command"]
    worker = SERVICES["locust-worker"]
    assert "ports" not in worker and "container_name" not in worker  # --scale locust-worker=N works
    command = worker["command"]
    assert "--worker" in command and command[command.index("--master-host") + 1] == "locust-master"


def test_headless_distributed_profile_exits_with_the_masters_verdict() -> None:
    master, worker = SERVICES["locust-ci-master"], SERVICES["locust-ci-worker"]
    assert master["profiles"] == worker["profiles"] == ["ci"]
    command = master["command"]
    assert "--master" in command and "--headless" in command
    expected = int(command[command.index("--expect-workers") + 1])
    assert worker["deploy"]["replicas"] == expected >= 2
    assert worker["command"][worker["command"].index("--master-host") + 1] == "locust-ci-master"
    assert "--csv" in command
    header = (ROOT / "docker-compose.yml").read_text().split("services:")[0]
    assert "--exit-code-from locust-ci-master" in header
    assert "--exit-code-from locust-ci-master" in (ROOT / "README.md").read_text()
    for name in LOCUST_SERVICES:  # every Locust service names a locustfile that exists
        command = SERVICES[name]["command"]
        assert (ROOT / command[command.index("-f") + 1]).is_file()


def environment_names() -> set[str]:
    names: set[str] = set()
    for service in SERVICES.values():
        env = service.get("environment", {})
        names |= set(env) if isinstance(env, dict) else {e.split("=", 1)[0] for e in env}
    for dockerfile in DOCKERFILES:
        for match in re.finditer(r"^ENV (.+)$", dockerfile.read_text(), re.M):
            names |= {pair.split("=", 1)[0] for pair in match.group(1).split()}
    return names


def test_every_environment_variable_is_read_by_the_code() -> None:
    settings_vars = {"REDIS_URL"} | {f"OSIRIS_{name.upper()}" for name in Settings.model_fields}
    users = ROOT / "osiris_load" / "adapter" / "users.py"  # the base user reads the locustfiles' variables
    read_by_locustfiles = set(re.findall(r"OSIRIS_[A-Z_]+", users.read_text()))
    pip_and_python = {"PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK", "PYTHONUNBUFFERED"}
    unknown = environment_names() - settings_vars - read_by_locustfiles - pip_and_python
    assert not unknown, f"compose sets variables nothing reads: {unknown}"


# -- the users' CI workflow --

def test_workflow_permissions_and_pip_cache() -> None:
    assert WORKFLOW["permissions"]["checks"] == "write"  # the JUnit report action's check run
    assert WORKFLOW["permissions"]["contents"] == "read"
    python = uses("actions/setup-python")[0]["with"]
    assert python["cache"] == "pip" and python["cache-dependency-path"] == "requirements.lock"


def test_workflow_runs_the_gate_and_publishes_results() -> None:
    run_dir = WORKFLOW["jobs"]["load-test"]["env"]["RUN_DIR"]
    assert "make run" in step("Run the load test")["run"] and "--out $RUN_DIR" in step("Run the load test")["run"]
    junit = uses("mikepenz/action-junit-report")[0]
    assert junit["if"] == "always()" and junit["with"]["report_paths"] == f"{run_dir}/junit.xml"
    uploads = {u["with"]["name"]: u for u in uses("actions/upload-artifact")}
    assert uploads["load-test-report"]["with"]["path"].rstrip("/") == run_dir
    assert uploads["load-test-report"]["if"] == "always()"
    assert uploads["load-test-summary"]["with"]["path"] == f"{run_dir}/summary.json"
    assert uploads["load-test-summary"]["if"] == "success()"  # only a successful run becomes the baseline


def test_workflow_compares_with_the_previous_successful_run() -> None:
    baseline = step("Baseline from the previous successful run")
    assert "--status success" in baseline["run"] and "--name load-test-summary" in baseline["run"]
    assert baseline["continue-on-error"] is True  # the first run has no baseline
    compare = step("Compare with the baseline")
    assert "steps.baseline.outputs.found == 'true'" in compare["if"]
    assert "osiris-load compare baseline/summary.json" in compare["run"] and "GITHUB_STEP_SUMMARY" in compare["run"]


def test_workflow_verdict_step_writes_the_table_to_the_job_summary(tmp_path: Path) -> None:
    """Run the step's own script on a run folder with a verdict object: the table lands in $GITHUB_STEP_SUMMARY."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    table = parse_table('[[row]]\nname = "health"\nrequests = ["GET /health"]\nthresholds = ["p(95)<400"]\n')
    recorder = RequestRecorder(plan_for(table))
    for _ in range(40):
        recorder.record("GET", "/health", 12.5, False)
    (run_dir / "read_heavy_slo.json").write_text(to_json(evaluate(table, recorder)), encoding="utf-8")
    summary = tmp_path / "summary.md"
    verdict = step("Verdict table")
    assert verdict["if"] == "always()"
    env = {**os.environ, "RUN_DIR": str(run_dir), "GITHUB_STEP_SUMMARY": str(summary)}
    result = subprocess.run(["bash", "-eo", "pipefail", "-c", verdict["run"]], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    text = summary.read_text()
    assert "### read_heavy" in text
    assert "| health | `p(95)<400` | PASS | 12.50 ms |" in text and "| 40 |" in text


def test_readme_documents_compose_and_distributed_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "docker compose up redis llm-sidecar" in readme
    assert "--scale locust-worker=" in readme
    assert "--master" in readme and "--worker" in readme
