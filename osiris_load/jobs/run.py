"""``osiris-load run`` (``make run``): the main job.

Starts the bundled sidecar (with its own Redis) unless ``--url``/``OSIRIS_URL`` names a running
one, waits until ``/health`` answers 200, runs each scenario headless with its k6 stages (a
progress line every few seconds), lets the SLO gate judge each run, writes everything into a run
folder under the current directory (``./osiris-runs/<UTC timestamp>/`` or ``--out``; made once every
input is checked, ``osiris_load.jobs.run_folder``, and removed again if the job ends before writing in it), stops the
sidecar and exits with the gate's verdict, by the documented precedence: 2 bad input > 3 the sidecar
did not come up > 99 an SLO failed > 98 one was INCONCLUSIVE under ``--slo-inconclusive fail`` >
any other code > 0 every scenario passed. The closing lines say, per threshold, whether its interval
settled it and, if not, how many more requests (and how much time at the run's rate) would. The
gate's options travel to each Locust child as environment variables (``OSIRIS_SLO_CONFIDENCE``...).

However the job ends (Ctrl+C, SIGTERM, SIGHUP, an exception) it stops everything it started
within seconds and, when cut short by a signal, says the run was interrupted and exits 128+signal
(130 Ctrl+C, 143 SIGTERM, 129 SIGHUP): no verdict of a cut-short scenario is presented as the run's.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import http.client
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any

from osiris_load.core.exit_codes import (
    EXIT_BAD_INPUT,
    EXIT_INCONCLUSIVE,
    EXIT_OK,
    EXIT_SLO_FAILED,
    EXIT_TARGET_DOWN,
    signal_exit_code,
)
from osiris_load.core.scenarios import ALL_SCENARIOS, K6_SCENARIOS, LLM_SCENARIO
from osiris_load.core.slo.formatting import run_headline
from osiris_load.core.slo.gate_options import ENV_VAR
from osiris_load.core.slo.table import LLM_TABLE_PATH
from osiris_load.core.slo.verdict import Verdict
from osiris_load.jobs.locust_config import check_locust_config
from osiris_load.jobs.preflight import ConfigError, check_run, check_target, locustfile_of
from osiris_load.jobs.run_folder import make_run_folder, remove_unused
from osiris_load.jobs.supervisor import free_port, start_child, stop_children

SCENARIOS = K6_SCENARIOS
"""The default set (``osiris_load.core.scenarios``); ``LLM_SCENARIO`` runs by name only, judged by the
``llm_*`` keys of its own table unless ``--slo-file`` is given."""
LLM_HEALTH_PATH = "/v1/models"
"""What a run of the LLM scenario alone waits for: an OpenAI-compatible server need not have /health."""
TARGET_WAIT_S = 30.0
"""How long ``--url``'s target gets to answer /health (the bundled sidecar: ``--startup-timeout``)."""
WAIT_SAY_EVERY_S = 5.0
HEALTH_TIMEOUT_S = 2.0
NO_SUCH_NAME = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
"""getaddrinfo's answers for a name that does not exist (not a lookup that may work next time)."""
RUNS_DIR = "osiris-runs"
PLACEHOLDER_URL = "http://127.0.0.1"
"""The ``--host`` of a Locust command line that is only parsed (the real one is known once the target is)."""
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PROGRESS_PLUGIN = Path(__file__).parents[1] / "adapter" / "progress.py"
"""Loaded by each Locust child beside the scenario (by path: importing Locust here would gevent-patch this process)."""


class Interrupted(Exception):
    """The main job got a stop signal; ``code`` is the exit status that says which (128 + signal)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.code = signal_exit_code(signum)
        super().__init__(signal.Signals(signum).name)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="a running sidecar (default: $OSIRIS_URL, else start the bundled one)")
    parser.add_argument("--scenarios", nargs="+", choices=ALL_SCENARIOS, default=list(SCENARIOS),
                        help=f"default: {' '.join(SCENARIOS)}; {LLM_SCENARIO}: streamed chat completions from any "
                        "OpenAI-compatible server (--url), judged by the llm_* keys (docs/llm-metrics.md)")
    parser.add_argument("--out", type=Path, help=f"run folder (default: ./{RUNS_DIR}/<UTC timestamp>)")
    parser.add_argument("--stages", help="k6-style stages for every scenario, e.g. 5s:2,10s:2,2s:0")
    parser.add_argument("--slo-file", help="SLO table (default: the guide's, slo/default.toml)")
    parser.add_argument("--progress-every", type=float, default=10.0, metavar="SECONDS",
                        help="a progress line every SECONDS during each scenario (default 10; 0: none)")
    parser.add_argument("--startup-timeout", type=float, default=600.0,
                        help="seconds to wait for the bundled sidecar's /health (first start builds models)")


def default_run_dir(now: dt.datetime | None = None) -> Path:
    """``./osiris-runs/<UTC timestamp>``: under the current directory, never inside the installed package."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H-%M-%SZ")
    return Path.cwd() / RUNS_DIR / stamp


def default_table(scenario: str, environ: Mapping[str, str]) -> Path | None:
    """The SLO table a scenario is judged by when neither ``--slo-file`` nor ``OSIRIS_SLO_FILE`` says
    one, where it is not the guide's (``None``: the gate's default)."""
    if scenario != LLM_SCENARIO or environ.get(ENV_VAR["slo_file"], "").strip():
        return None
    return LLM_TABLE_PATH


def health_path(scenarios: Sequence[str]) -> str:
    """``/v1/models`` when only the LLM scenario runs (vLLM, Ollama, a hosted API), else ``/health``."""
    return LLM_HEALTH_PATH if scenarios and all(name == LLM_SCENARIO for name in scenarios) else "/health"


def health_request(url: str, path: str = "/health") -> urllib.request.Request:
    """GET ``url``/health, with the credentials of ``http://user:password@host`` sent as Basic auth, as
    Locust's client sends them: urllib would take ``user:password@host`` for the host name (a target
    behind Basic auth was "does not resolve; waiting cannot help", exit 3, where Locust runs fine)."""
    parts = urllib.parse.urlsplit(url)
    headers = {}
    if path == LLM_HEALTH_PATH:  # the keys the LLM scenario sends (docs/llm-metrics.md)
        if os.environ.get("OPENAI_API_KEY"):
            headers["Authorization"] = f"Bearer {os.environ['OPENAI_API_KEY']}"
        if os.environ.get("OSIRIS_API_KEY"):
            headers["X-API-Key"] = os.environ["OSIRIS_API_KEY"]
    if "@" not in parts.netloc:
        return urllib.request.Request(f"{url}{path}", headers=headers)
    bare = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    request = urllib.request.Request(f"{bare}{path}", headers=headers)
    user = urllib.parse.unquote(parts.username or "")
    secret = urllib.parse.unquote(parts.password or "")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode("ascii"))
    return request


def health_problem(url: str, path: str = "/health") -> tuple[str | None, bool]:
    """Why ``url``'s ``/health`` does not answer 200 now (None when it does), and whether waiting
    cannot help: a name that does not resolve, a TLS certificate that does not verify."""
    host = urllib.parse.urlsplit(url).hostname or url
    try:
        with urllib.request.urlopen(health_request(url, path), timeout=HEALTH_TIMEOUT_S) as response:
            if response.status == 200:
                return None, False
            return f"{path} answered HTTP {response.status}", False
    except urllib.error.HTTPError as exc:
        return f"{path} answered HTTP {exc.code} {exc.reason}", False
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, socket.gaierror):
            if reason.errno in NO_SUCH_NAME:
                return f"the name {host!r} does not resolve (DNS: {reason.strerror})", True
            return f"DNS lookup of {host!r} failed ({reason.strerror})", False
        if isinstance(reason, ssl.SSLCertVerificationError):
            return f"its TLS certificate does not verify ({reason.verify_message})", True
        if isinstance(reason, ConnectionRefusedError):
            return "connection refused: nothing listens there (yet)", False
        if isinstance(reason, TimeoutError):
            return f"no answer within {HEALTH_TIMEOUT_S:g}s", False
        return str(getattr(reason, "strerror", None) or reason), False
    except TimeoutError:
        return f"no answer within {HEALTH_TIMEOUT_S:g}s", False
    except (OSError, http.client.HTTPException) as exc:
        return f"{type(exc).__name__}: {exc}", False


def wait_healthy(url: str, proc: subprocess.Popen[bytes] | None, timeout_s: float, what: str | None = None,
                 path: str = "/health") -> None:
    """Poll ``path`` (/health) until 200, saying on stderr what it waits for and why every few seconds
    (:data:`WAIT_SAY_EVERY_S`); :class:`RuntimeError` when the sidecar process exits, when waiting
    cannot help (:func:`health_problem`), or after ``timeout_s``."""
    what = what or url
    start = time.monotonic()
    deadline = start + timeout_s
    say_at = start
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the sidecar exited with code {proc.returncode} before it was healthy")
        why, hopeless = health_problem(url, path)
        if why is None:
            return
        if hopeless:
            raise RuntimeError(f"{url}: {why}; waiting cannot help")
        now = time.monotonic()
        if now >= deadline:
            raise RuntimeError(f"{url} was not healthy after {timeout_s:.0f}s ({why})")
        if now >= say_at:
            print(f"osiris-load: waiting for {what} at {url}{path}: {why} [{now - start:.0f}s of {timeout_s:.0f}s]",
                  file=sys.stderr, flush=True)
            say_at += WAIT_SAY_EVERY_S
        time.sleep(0.25)


class _Forwarder(threading.Thread):
    """Copies a child's stdout to ours line by line until muted (a cut-short run's summary is dropped)."""

    def __init__(self, source: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.source = source
        self.muted = False

    def run(self) -> None:
        out = sys.stdout.buffer
        for line in iter(self.source.readline, b""):
            if not self.muted:
                out.write(line)
                out.flush()


class MainJob:
    """The children of one main job, and the signal handling that stops them all."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.children: list[subprocess.Popen[bytes]] = []
        self.forwarders: list[_Forwarder] = []
        self._signalled = False

    # -- stopping --
    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self._signalled:  # a second Ctrl+C while stopping: keep stopping, do not abort the cleanup
            return
        self._signalled = True
        raise Interrupted(signum)

    def install_signal_handlers(self) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_signal)

    def start(self, command: list[str], **popen: Any) -> subprocess.Popen[bytes]:
        """Start a child (``osiris_load.jobs.supervisor.start_child``) and register it for :meth:`stop_all`, with
        the stop signals held in between: a signal that lands there is raised once the child is
        registered, so no child escapes the stopping (the child unblocks them for itself)."""
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            proc = start_child(command, **popen)
            self.children.append(proc)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return proc

    def run_child(self, command: list[str], env: dict[str, str], log: Path) -> int:
        """Run one child to its end, its output in ``log``; nothing of it (its process group) outlives it."""
        with log.open("wb") as handle:
            proc = self.start(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
        code = proc.wait()
        stop_children([proc], grace_s=0)  # sweeps its group (Locust's --processes workers)
        self.children.remove(proc)
        return code

    def stop_all(self) -> None:
        for forwarder in self.forwarders:
            forwarder.muted = True
        stop_children(self.children)  # also sweeps the groups of children that already exited
        self.children.clear()

    # -- the parts --
    def start_sidecar(self) -> tuple[str, subprocess.Popen[bytes]]:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        print(f"Starting the bundled sidecar on {url} (first start builds the default models)...", flush=True)
        proc = self.start([sys.executable, "-m", "sidecar", "--port", str(port)])
        return url, proc

    def locust_command(self, name: str, url: str, out: Path) -> list[str]:
        locustfile = locustfile_of(name)
        command = [sys.executable, "-m", "locust", "-f", f"{locustfile},{PROGRESS_PLUGIN}", "--headless", "--host", url,
                   "--csv", str(out / name), "--csv-full-history", "--only-summary",
                   "--html", str(out / f"{name}_locust.html"),
                   "--progress-every", str(self.args.progress_every)]
        if self.args.stages:
            command += ["--stages", self.args.stages]
        table = Path(self.args.slo_file).resolve() if self.args.slo_file else default_table(name, os.environ)
        if table is not None:
            command += ["--slo-file", str(table)]
        return command

    def run_scenario(self, name: str, url: str, out: Path) -> int:
        command = self.locust_command(name, url, out)
        print(f"\n=== {name}: locust {' '.join(command[3:])}", flush=True)
        env = {**os.environ, "OSIRIS_URL": url, "PYTHONUNBUFFERED": "1"}  # lines as they come, in order
        proc = self.start(command, env=env, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        forwarder = _Forwarder(proc.stdout)
        self.forwarders.append(forwarder)
        forwarder.start()
        code = proc.wait()
        forwarder.join()
        stop_children([proc], grace_s=0)  # sweeps its group: nothing of this run outlives it
        self.children.remove(proc)
        self.forwarders.remove(forwarder)
        return code

    def run(self, created: Sequence[Path] = ()) -> int:
        """The job in ``args.out``; ``created``: the folders ``make_run_folder`` made for it, removed
        again at the end if nothing was written in them (the target was down, Ctrl+C while waiting)."""
        out = (self.args.out or default_run_dir()).resolve()
        out.mkdir(parents=True, exist_ok=True)
        previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
        self.install_signal_handlers()
        try:
            return self._run(out)
        except Interrupted as exc:
            print(f"\nosiris-load: interrupted by {exc}: stopping the load and the sidecar ...", file=sys.stderr,
                  flush=True)
            self.stop_all()
            files = f"Partial files: {out}" if any(out.iterdir()) else "Nothing was written."
            print(f"osiris-load: the run was interrupted ({exc}); no verdict: a cut-short scenario is not the "
                  f"run's result. {files}", file=sys.stderr, flush=True)
            return exc.code
        finally:
            self._signalled = True  # from here on a signal only adds to the stopping below
            self.stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            remove_unused(created)

    def scenario_names(self) -> list[str]:
        """The scenarios this job runs (what the target must answer for)."""
        return list(self.args.scenarios)

    def reach_target(self, prog: str) -> str | None:
        """``--url``, or the bundled sidecar started here, once it answers; None (said on stderr) if not."""
        args = self.args
        url = (args.url or "").rstrip("/")
        sidecar = None
        if not url:
            url, sidecar = self.start_sidecar()
        path = health_path(self.scenario_names())
        try:
            if sidecar is None:
                wait_healthy(url, None, TARGET_WAIT_S, "the target (--url/OSIRIS_URL)", path)
            else:
                wait_healthy(url, sidecar, args.startup_timeout, "the bundled sidecar", path)
        except RuntimeError as exc:
            print(f"{prog}: the target is not usable: {exc}", file=sys.stderr)
            return None
        return url

    def _run(self, out: Path) -> int:
        url = self.reach_target("osiris-load")
        if url is None:
            print(closing_line(EXIT_TARGET_DOWN))
            return EXIT_TARGET_DOWN
        codes = {name: self.run_scenario(name, url, out) for name in self.args.scenarios}
        self.stop_all()  # the sidecar is not needed for the reports
        return finish(out, codes)


def build_reports(out: Path) -> None:
    """report.html, junit.xml and summary.json beside the CSVs; a report problem never hides the verdict."""
    try:
        from osiris_load.reports import ReportError
        from osiris_load.reports.build import build_all
    except ImportError as exc:
        print(f"osiris-load: no report: the reports extra is not installed ({exc.name}): "
              "pip install 'osiris-load[reports]'", file=sys.stderr)
        return
    try:
        for path in build_all(out):
            print(f"Wrote {path}")
    except ReportError as exc:
        print(f"osiris-load: no report: {exc}", file=sys.stderr)


def overall_code(codes: dict[str, int]) -> int:
    """One exit code for several scenarios: bad input first, then the target, the SLO, INCONCLUSIVE."""
    values = set(codes.values())
    for code in (EXIT_BAD_INPUT, EXIT_TARGET_DOWN, EXIT_SLO_FAILED, EXIT_INCONCLUSIVE):
        if code in values:
            return code
    others = [c for c in codes.values() if c != EXIT_OK]
    return others[0] if others else EXIT_OK


def read_verdicts(out: Path, names: list[str]) -> dict[str, Verdict | None]:
    """Each scenario's verdict object (``NAME_slo.json``), ``None`` where it wrote none."""
    from osiris_load.core.slo.verdict import VerdictFormatError, from_json

    verdicts: dict[str, Verdict | None] = {}
    for name in names:
        path = out / f"{name}_slo.json"
        try:
            verdicts[name] = from_json(path.read_text(encoding="utf-8"), str(path))
        except (OSError, VerdictFormatError):
            verdicts[name] = None
    return verdicts


def settle_report(verdicts: dict[str, Verdict | None]) -> list[str]:
    """The closing lines: per scenario, its run state and each threshold's interval, settled or
    what would settle it (from the verdict object each run wrote; nothing judged again)."""
    from osiris_load.core.slo.formatting import settle_lines

    lines = []
    for name, verdict in verdicts.items():
        if verdict is None or not verdict.confidence:
            continue
        level = f"{verdict.confidence * 100:g}%" + (f", look {verdict.looks}" if verdict.looks else "")
        lines.append(f"  {name}: {verdict.state} ({level} intervals)")
        lines.extend(f"    {line}" for line in settle_lines(verdict))
    return lines


def finish(out: Path, codes: dict[str, int]) -> int:
    code = overall_code(codes)
    build_reports(out)
    print("\n=== Verdicts")
    words = {EXIT_OK: "PASS", EXIT_SLO_FAILED: "FAIL (SLO)",
             EXIT_INCONCLUSIVE: "INCONCLUSIVE (--slo-inconclusive fail)"}
    for name, rc in codes.items():
        print(f"  {name:<15} {words.get(rc, f'ERROR (exit {rc})')}")
    verdicts = read_verdicts(out, list(codes))
    closing = settle_report(verdicts)
    if closing:
        print("\n=== How sure (each threshold: settled, or what would settle it)")
        print("\n".join(closing))
    print(f"Reports: {out}\nOverall: {run_headline(verdicts)} (exit code {code})")
    return code


def closing_line(code: int) -> str:
    """The run's last line: FAIL and INCONCLUSIVE are the gate's verdicts; any other non-zero code
    (bad configuration, the target down, Locust's own errors) is an ERROR, never a FAIL."""
    word = {EXIT_OK: "PASS", EXIT_SLO_FAILED: "FAIL", EXIT_INCONCLUSIVE: "INCONCLUSIVE"}.get(code, "ERROR")
    return f"Overall: {word} (exit code {code})"


def run(args: argparse.Namespace) -> int:
    """Check every input first (``osiris_load.jobs.preflight``): a bad one is one line and exit 2, with nothing
    started or waited for; then the job."""
    args.scenarios = list(dict.fromkeys(args.scenarios))  # a scenario named twice runs once
    out = args.out or default_run_dir()
    try:
        check_run(args, os.environ, out)
        job = MainJob(args)  # Locust's own inputs (LOCUST_*, locust.conf): its parser on each run's command line
        check_locust_config([job.locust_command(name, PLACEHOLDER_URL, out)[3:] for name in args.scenarios],
                            os.environ)
        created = make_run_folder(out, "--out" if args.out is not None else "the run folder")
    except ConfigError as exc:
        print(f"osiris-load run: {exc}", file=sys.stderr, flush=True)
        print(closing_line(EXIT_BAD_INPUT), flush=True)
        return EXIT_BAD_INPUT
    args.out, args.url = out, check_target(args, os.environ)  # checked: its normal form (no trailing /)
    return job.run(created)
