"""Prints, for one checkout of driftctl, the figures of issue 13's faults (items 1, 3-6, 8, 9).

    python benchmarks/bench_faults.py [--source DIR]

`--source` is the checkout whose `driftctl` package is run (default: this one); run it once on the
old code and once on the new to compare. Every figure comes from the real command line on real
Terraform plans and real process trees. Needs the tools of `eval "$(bash ci/install-test-tools)"`.
Figures, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESOURCES = 400
TRIGGERS = "".join(f'    {key} = "${{count.index}}-{key * 100}"\n' for key in "abcd")
BIG_STACK = f"""
variable "value" {{
  default = "one"
}}
resource "null_resource" "replaced" {{
  triggers = {{ value = var.value }}
}}
resource "null_resource" "many" {{
  count    = {RESOURCES}
  triggers = {{
{TRIGGERS}  }}
}}
output "value" {{
  value = var.value
}}
"""
SECRET = 'Quo"te\\Secret-77'  # noqa: S105 - the issue's own example value
SECRET_FORMS = (SECRET, 'Quo\\"te\\\\Secret-77', "Quo%22te%5CSecret-77")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=REPO, help="the checkout to measure")
    source = parser.parse_args().source.resolve()
    terraform = shutil.which("terraform")
    if terraform is None or "TF_CLI_CONFIG_FILE" not in os.environ:
        sys.exit('run `eval "$(bash ci/install-test-tools)"` first')
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as scratch:
        bench = _Bench(source, Path(scratch), terraform)
        for figure in (
            bench.big_plan,
            bench.deadline,
            bench.stubborn_grandchild,
            bench.second_ctrl_c,
            bench.not_utf8,
            bench.escaped_secret,
            bench.flood,
            bench.small_ones,
        ):
            figure()


class _Bench:
    def __init__(self, source: Path, scratch: Path, terraform: str) -> None:
        self.source, self.scratch, self.terraform = source, scratch, terraform
        self.env = dict(os.environ, PYTHONPATH=str(source))

    def driftctl(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        command = [sys.executable, "-m", "driftctl", *args]
        return subprocess.run(command, cwd=self.source, env=env or self.env, capture_output=True, timeout=600)

    def stack(self, name: str, body: str, apply: bool = False) -> Path:
        directory = self.scratch / name
        directory.mkdir(parents=True)
        (directory / "main.tf").write_text(body)
        if apply:
            for args in (["init", "-input=false"], ["apply", "-auto-approve", "-input=false"]):
                subprocess.run([self.terraform, *args], cwd=directory, check=True, capture_output=True)
        return directory

    def script(self, name: str, body: str) -> Path:
        path = self.scratch / f"bin-{name}"
        path.write_text(f"#!{sys.executable}\nimport os, signal, subprocess, sys, time\n{body}\n")
        path.chmod(0o755)
        return path

    def plan_json(self, root: Path, *extra: str, env: dict[str, str] | None = None) -> dict[str, object]:
        report = root.parent / f"{root.name}-report.json"
        common = ("plan", "--all", "--root", str(root), "--tool", "terraform", "--report", str(report))
        self.driftctl(*common, *extra, env=env)
        return json.loads(report.read_text()) if report.exists() else {}

    def big_plan(self) -> None:
        root = self.scratch / "big"
        stack = self.stack("big/stack", BIG_STACK, apply=True)
        (stack / "main.tf").write_text(
            BIG_STACK.replace('"one"', '"two"') + 'resource "null_resource" "new" {}\n'
        )
        subprocess.run([self.terraform, "plan", "-out=p.tfplan"], cwd=stack, check=True, capture_output=True)
        shown = subprocess.run([self.terraform, "show", "-json", "p.tfplan"], cwd=stack, capture_output=True)
        (stack / "p.tfplan").unlink()
        row = self.plan_json(root)["stacks"][0]  # type: ignore[index]
        print(f"item 1: {RESOURCES + 2} resources, show -json {len(shown.stdout):,} bytes on one line:")
        print(f"  drifted stack (+1 add, 1 replace): {row['state']} {row['resources']}")
        (stack / "main.tf").write_text(BIG_STACK.replace("value = var.value\n}", 'value = "renamed"\n}'))
        row = self.plan_json(root)["stacks"][0]  # type: ignore[index]
        print(f"  output-only change: {row['state']}")

    def deadline(self) -> None:
        wrapper = self.script(
            "tf-wrapper",
            "if sys.argv[1] == os.environ.get('FAKE_HANG'):\n    time.sleep(300)\n"
            "time.sleep(float(os.environ.get('FAKE_DELAY', '0')))\n"
            f"os.execv({self.terraform!r}, [{self.terraform!r}, *sys.argv[1:]])",
        )
        for name, extra, timeout in (("FAKE_DELAY", "2.5", "6s"), ("FAKE_HANG", "show", "10s")):
            root = self.scratch / f"deadline-{name}"
            self.stack(f"deadline-{name}/stack", 'resource "null_resource" "r" {}\n')
            started = time.monotonic()
            env = dict(self.env, **{name: extra})
            data = self.plan_json(root, "--tool-binary", str(wrapper), "--timeout", timeout, env=env)
            row = data["stacks"][0]  # type: ignore[index]
            error = row["error"]["kind"] if row["error"] else None
            print(
                f"item 5: --timeout {timeout}, {name}={extra}: {row['state']} ({error} error),"
                f" stack {row['duration_seconds']:.1f}s, run {time.monotonic() - started:.1f}s"
            )

    def stubborn_grandchild(self) -> None:
        pid_file = self.scratch / "grandchild.pid"
        tool = self.script(
            "stubborn",
            "child = subprocess.Popen([sys.executable, '-c', 'import signal, time; "
            "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)'], "
            "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
            f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
            "time.sleep(120)",
        )
        root = self.scratch / "stubborn-live"
        self.stack("stubborn-live/a", "")
        started = time.monotonic()
        self.plan_json(root, "--tool-binary", str(tool), "--timeout", "1s")
        took = time.monotonic() - started
        left = _alive(int(pid_file.read_text()))
        print(
            f"item 4: timeout, grandchild ignoring SIGTERM: run took {took:.1f}s, processes left: {int(left)}"
        )
        _kill(int(pid_file.read_text()))

    def second_ctrl_c(self) -> None:
        pid_file = self.scratch / "tool.pid"
        tool = self.script(
            "ignores-term",
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(120)",
        )
        self.stack("ctrl-c/a", "")
        command = [sys.executable, "-m", "driftctl", "plan", "--all", "--root", str(self.scratch / "ctrl-c")]
        command += ["--tool", "terraform", "--tool-binary", str(tool)]
        process = subprocess.Popen(command, cwd=self.source, env=self.env, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        time.sleep(0.5)
        second = time.monotonic()
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        took = time.monotonic() - second
        time.sleep(0.2)
        left = _alive(int(pid_file.read_text()))
        print(
            f"item 4: second Ctrl-C, tool ignoring SIGTERM: exit {process.returncode} after {took:.1f}s,",
            end="",
        )
        print(f" processes left: {int(left)}")
        _kill(int(pid_file.read_text()))

    def not_utf8(self) -> None:
        root = self.scratch / "utf8"
        odd = Path(os.fsdecode(os.fsencode(root) + b"/caf\xe9"))
        odd.mkdir(parents=True)
        (odd / "main.tf").write_text('resource "null_resource" "r" {}\n')
        self.stack("utf8/ok", 'resource "null_resource" "r" {}\n')
        listed = self.driftctl("stacks", "--root", str(root), "--tool", "terraform", "--format", "json")
        try:
            listed.stdout.decode("utf-8")
            valid = "valid UTF-8"
        except UnicodeDecodeError:
            valid = "not valid UTF-8"
        planned = self.driftctl(
            "plan", "--all", "--root", str(root), "--tool", "terraform", "--format", "json"
        )
        traceback = "a traceback" if b"Traceback" in planned.stderr else "no traceback"
        try:
            rows = len(json.loads(planned.stdout.decode("utf-8"))["stacks"])
        except (UnicodeDecodeError, json.JSONDecodeError):
            rows = 0
        print(
            f"item 3: non-UTF-8 dir: stacks --format json is {valid}; plan --all exits {planned.returncode}",
            end="",
        )
        print(f" with {traceback}, {rows} of 2 stacks reported")

    def escaped_secret(self) -> None:
        root = self.scratch / "secret"
        body = 'variable "plain" {\n  default = "Quo\\"te\\\\Secret-77"\n}\n'
        self.stack(
            "secret/drifted",
            body + 'resource "null_resource" "r" {\n  triggers = { u = urlencode(var.plain) }\n}\n',
        )
        self.stack(
            "secret/broken",
            body + 'resource "null_resource" "r" {\n  triggers = { x = file(var.plain) }\n}\n',
        )
        self.stack(
            "secret/sensitive",
            'variable "p" {\n  sensitive = true\n  default = "Zq9-sensitive-value"\n}\n'
            'resource "null_resource" "r" {\n  triggers = { c = nonsensitive(var.p) }\n}\n',
        )
        logs = self.scratch / "secret-logs"
        env = dict(self.env, MY_SECRET=SECRET)
        report = "\n".join(_strings(self.plan_json(root, "--log-dir", str(logs), env=env)))
        markdown = self.driftctl(
            "plan", "--all", "--root", str(root), "--tool", "terraform", "--format", "markdown", env=env
        ).stdout.decode()
        logged = "".join(path.read_text() for path in logs.glob("*.log"))
        forms = (*SECRET_FORMS, "Zq9-sensitive-value")
        hits = {
            where: sum(text.count(f) for f in forms)
            for where, text in (("logs", logged), ("report", report), ("markdown", markdown))
        }
        print(
            f"item 6: secret forms found: logs {hits['logs']}, report {hits['report']}, md {hits['markdown']}"
        )

    def flood(self) -> None:
        tool = self.script("flood", "sys.stderr.write('Error: ' + 'x' * 1_500_000)\nsys.exit(1)")
        root = self.scratch / "flood"
        self.stack("flood/a", "")
        row = self.plan_json(root, "--tool-binary", str(tool))["stacks"][0]  # type: ignore[index]
        print(f"item 8: 1.5 MB newline-free stderr: message {len(row['error']['message'].encode()):,} bytes")

    def small_ones(self) -> None:
        tool = self.script("ok", "sys.exit(0)")
        self.stack("small/a", "")
        root = str(self.scratch / "small")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
        narrow = self.driftctl(
            "plan",
            "--all",
            "--root",
            root,
            "--tool",
            "terraform",
            "--tool-binary",
            str(tool),
            "--push",
            "--pushgateway",
            closed,
            env=dict(self.env, COLUMNS="40"),
        ).stderr.decode()
        error_lines = (
            narrow[narrow.index("driftctl:") :].strip().splitlines() if "driftctl:" in narrow else []
        )
        print(f"item 9: read-back error at COLUMNS=40 takes {len(error_lines)} line(s)")
        logs = self.scratch / "small-logs"
        logs.mkdir()
        precious = self.scratch / "precious"
        precious.write_text("keep me")
        plan = ("plan", "--all", "--root", root, "--tool", "terraform", "--tool-binary", str(tool))
        self.driftctl(*plan, "--log-dir", str(logs))  # learn the log's name, then plant a link there
        for log in logs.glob("*.log"):
            log.unlink()
            log.symlink_to(precious)
        self.driftctl(*plan, "--log-dir", str(logs))
        print(
            f"item 9: a link planted at the log's name: its target went from 7 to {precious.stat().st_size} B"
        )
        passwd = self.driftctl(
            "plan", "--all", "--root", root, "--tool", "terraform", "--tool-binary", "/etc/passwd"
        )
        print(f"item 9: --tool-binary /etc/passwd: {passwd.stderr.decode().strip().splitlines()[-1][:70]}")
        both = self.driftctl("plan", "--all", "--changed", "--root", root)
        print(f"item 9: plan --all --changed: {both.stderr.decode().strip().splitlines()[-1]}")


def _strings(node: object) -> list[str]:
    """Every string in a decoded JSON document."""
    if isinstance(node, dict):
        return [text for value in node.values() for text in _strings(value)]
    if isinstance(node, list):
        return [text for value in node for text in _strings(value)]
    return [node] if isinstance(node, str) else []


def _alive(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def _kill(pid: int) -> None:
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
