"""The Docker Compose stack and the users' CI workflow, checked without a Docker engine.

No engine runs on these machines, so the wiring is what is tested: services, ports, healthchecks,
dependencies, the files and locustfiles each names, and that every environment variable it sets is
one the code reads.
"""

from __future__ import annotations

import re
import shlex

import pytest
import yaml

from sidecar.settings import Settings
from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "load-test.yml").read_text())


def test_services_of_the_stack() -> None:
    assert {"redis", "llm-sidecar", "locust-master", "locust-worker", "locust-headless"} <= set(SERVICES)


def test_redis_and_sidecar_are_healthchecked_and_ordered() -> None:
    assert "redis-cli" in " ".join(SERVICES["redis"]["healthcheck"]["test"])
    sidecar = SERVICES["llm-sidecar"]
    assert sidecar["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "/health" in " ".join(sidecar["healthcheck"]["test"])
    assert "8000:8000" in sidecar["ports"]
    assert sidecar["environment"]["REDIS_URL"].startswith("redis://redis:")
    for locust in ("locust-master", "locust-headless"):
        assert SERVICES[locust]["depends_on"]["llm-sidecar"]["condition"] == "service_healthy"


def test_master_has_the_web_ui_and_workers_scale() -> None:
    assert "8089:8089" in SERVICES["locust-master"]["ports"]
    assert "--master" in SERVICES["locust-master"]["command"]
    worker = SERVICES["locust-worker"]
    assert "ports" not in worker and "container_name" not in worker  # --scale locust-worker=N works
    command = worker["command"]
    assert "--worker" in command and command[command.index("--master-host") + 1] == "locust-master"


def test_headless_profile_exits_with_the_gate() -> None:
    headless = SERVICES["locust-headless"]
    assert headless["profiles"] == ["ci"]
    assert "--headless" in headless["command"] and "--master" not in headless["command"]


@pytest.mark.parametrize("name", sorted(s for s in SERVICES if s != "redis"))
def test_built_services_name_files_that_exist(name: str) -> None:
    service = SERVICES[name]
    dockerfile = ROOT / service["build"]["context"] / service["build"]["dockerfile"]
    assert dockerfile.is_file()
    for line in dockerfile.read_text().splitlines():
        if line.startswith("COPY "):
            for source in shlex.split(line)[1:-1]:
                assert (ROOT / source).exists(), f"{dockerfile.name} copies {source}, which does not exist"
    command = service.get("command", [])
    if "-f" in command:
        assert (ROOT / command[command.index("-f") + 1]).is_file()


def test_dockerfiles_install_the_same_package_as_the_makefile() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "-c constraints.txt" in makefile
    sidecar = (ROOT / "docker" / "sidecar.Dockerfile").read_text()
    locust = (ROOT / "docker" / "locust.Dockerfile").read_text()
    assert "-c constraints.txt '.[sidecar]'" in sidecar
    assert "-c constraints.txt ." in locust and "sidecar]" not in locust  # the load tester stays torch-free


def environment_names() -> set[str]:
    names: set[str] = set()
    for service in SERVICES.values():
        env = service.get("environment", {})
        names |= set(env) if isinstance(env, dict) else {e.split("=", 1)[0] for e in env}
    for dockerfile in (ROOT / "docker").glob("*.Dockerfile"):
        for match in re.finditer(r"^ENV (.+)$", dockerfile.read_text(), re.M):
            names |= {pair.split("=", 1)[0] for pair in match.group(1).split()}
    return names


def test_every_environment_variable_is_read_by_the_code() -> None:
    settings_vars = {"REDIS_URL"} | {f"OSIRIS_{name.upper()}" for name in Settings.model_fields}
    read_by_locustfiles = set(re.findall(r"OSIRIS_[A-Z_]+", (ROOT / "locustfiles" / "common.py").read_text()))
    unknown = environment_names() - settings_vars - read_by_locustfiles
    assert not unknown, f"compose sets variables nothing reads: {unknown}"


def test_workflow_runs_the_gate_and_publishes_results() -> None:
    steps = WORKFLOW["jobs"]["load-test"]["steps"]
    runs = " ".join(step.get("run", "") for step in steps)
    assert "make run" in runs
    uses = {step.get("uses", "").split("@")[0]: step for step in steps}
    assert "junit.xml" in uses["mikepenz/action-junit-report"]["with"]["report_paths"]
    assert uses["actions/upload-artifact"]["with"]["path"].startswith("reports/runs")
    assert uses["mikepenz/action-junit-report"]["if"] == "always()"


def test_readme_documents_compose_and_distributed_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "docker compose up redis llm-sidecar" in readme
    assert "--scale locust-worker=" in readme
    assert "--master" in readme and "--worker" in readme
