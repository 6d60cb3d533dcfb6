"""Runs pocosmtp's benchmark rows side by side against a running smtp-sink.

    python bench/run.py --port PORT [--quick] [--rounds N] [--out build/bench/results.json]

scripts/bench.sh is the one command: it installs what is missing, builds
cpp/bench_send, starts smtp-sink and calls this. Every row is a child
process: cpp/bench_send for the C++ Poco rows, bench/rows.py for the Python
rows, Postfix's smtp-source. The rows of all workloads run once per round,
in an order rotated every round, and the table reports medians over rounds.
A row's ratio to the C++ Poco row of its workload is taken within each
round, then the median of those ratios is reported, so a slow moment of the
machine affects both sides of a ratio alike.

CPU per message is user + system time of the sending process. The C++ and
Python children measure it themselves around their timed loop (getrusage,
all threads), which leaves out process start, imports, login and warm-up;
smtp-source cannot, so its figure is the whole process as wait4() reports
it (a C program's start is a few hundred microseconds, under 0.1 us a
message here). Peak MB is the child's peak resident set (VmHWM); for the
200 MB attachment it is the rise above the peak the process had reached
just before composing the message (the interpreter, imports, a logged-in
session). MB are 10**6 bytes.

With valgrind installed, the single-session rows are also counted in
instructions (callgrind): each client runs twice with different message
counts and the difference is divided by the difference of the counts, so
start-up and warm-up cancel out. Instruction counts are stable from run to
run where CPU time on a busy machine is not, but leave out the kernel.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ROWS_PY = HERE / "rows.py"
HOST = "127.0.0.1"


# ---------------------------------------------------------------- workloads and rows


@dataclass
class Workload:
    key: str
    title: str
    count: int
    warmup: int
    rounds: int


@dataclass
class Row:
    key: str
    workload: str
    label: str
    kind: str  # "cpp", "python" or "smtp-source"
    args: list[str] = field(default_factory=list)
    count: int | None = None  # instead of the workload's (the Nagle rows are slow)
    runs: list[dict[str, Any] | None] = field(default_factory=list)


def workloads(args: argparse.Namespace) -> dict[str, Workload]:
    quick = args.quick
    big_rounds = 1 if quick else min(args.rounds, 2)
    return {
        w.key: w
        for w in [
            Workload(
                "reuse",
                "1 KB messages, one session reused",
                400 if quick else 3000,
                5 if quick else 20,
                args.rounds,
            ),
            Workload(
                "new-session",
                "1 KB messages, a new session for each",
                100 if quick else 600,
                5 if quick else 20,
                args.rounds,
            ),
            Workload(
                "threads",
                f"1 KB messages from {args.threads} threads, a session each",
                400 if quick else 3000,
                5 if quick else 20,
                args.rounds,
            ),
            Workload(
                "build",
                "build + serialise a message with a 1 MiB attachment",
                8 if quick else 40,
                2,
                args.rounds,
            ),
            Workload(
                "attach", f"send one {args.big_mb} MB attachment from a file", 1, 0, big_rounds
            ),
        ]
    }


def rows(args: argparse.Namespace) -> list[Row]:
    nagle = 10 if args.quick else 40
    threads = ["--threads", str(args.threads)]
    return [
        Row("cpp-reuse", "reuse", "C++ Poco", "cpp", ["--mode", "reuse"]),
        Row("pocosmtp-reuse", "reuse", "pocosmtp", "python"),
        Row("smtplib-reuse", "reuse", "smtplib + email", "python"),
        Row("aiosmtplib-reuse", "reuse", "aiosmtplib + email", "python"),
        Row("smtp-source-reuse", "reuse", "smtp-source (C)", "smtp-source", ["-d", "-s", "1"]),
        Row(
            "cpp-reuse-nagle",
            "reuse",
            "C++ Poco, Poco's default socket options",
            "cpp",
            ["--mode", "reuse", "--no-nodelay"],
            count=nagle,
        ),
        Row(
            "pocosmtp-reuse-nagle",
            "reuse",
            "pocosmtp, socket setNoDelay(False)",
            "python",
            count=nagle,
        ),
        Row("cpp-new-session", "new-session", "C++ Poco", "cpp", ["--mode", "new-session"]),
        Row("pocosmtp-new-session", "new-session", "pocosmtp", "python"),
        Row("smtplib-new-session", "new-session", "smtplib + email", "python"),
        Row(
            "smtp-source-new-session", "new-session", "smtp-source (C)", "smtp-source", ["-s", "1"]
        ),
        Row("cpp-threads", "threads", "C++ Poco", "cpp", ["--mode", "threads", *threads]),
        Row("pocosmtp-threads", "threads", "pocosmtp", "python", threads),
        Row("smtplib-threads", "threads", "smtplib + email", "python", threads),
        Row(
            "smtp-source-threads",
            "threads",
            "smtp-source (C)",
            "smtp-source",
            ["-d", "-s", str(args.threads)],
        ),
        Row("cpp-build", "build", "C++ Poco", "cpp", ["--mode", "build"]),
        Row("pocosmtp-build", "build", "pocosmtp", "python"),
        Row("email-build", "build", "email", "python"),
        Row("cpp-file", "attach", "C++ Poco, FilePartSource", "cpp", ["--mode", "file"]),
        Row("pocosmtp-file", "attach", "pocosmtp, FilePartSource", "python"),
        Row("pocosmtp-fileobj", "attach", "pocosmtp, FileObjectPartSource", "python"),
        Row("pocosmtp-string", "attach", "pocosmtp, StringPartSource", "python"),
        Row("smtplib-file", "attach", "smtplib + email", "python"),
    ]


# The C++ Poco row every row of a workload is compared with.
REFERENCE = {
    "reuse": "cpp-reuse",
    "new-session": "cpp-new-session",
    "threads": "cpp-threads",
    "build": "cpp-build",
    "attach": "cpp-file",
}


# ---------------------------------------------------------------- running children


@dataclass
class Child:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    cpu_seconds: float
    peak_rss_kb: int


def vm_hwm_kb(pid: int) -> int:
    """The peak resident set of a running process; 0 once it has exited."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_child(argv: list[str], timeout: float = 900) -> Child:
    """Runs argv to its end and returns its output and resource usage.

    A thread reaps the child with os.wait4 (Popen.wait would throw the
    rusage away) the moment it ends, while this thread samples its peak
    resident set: ru_maxrss cannot be used, because Linux carries it across
    exec and every child would report at least this interpreter's peak.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        reaped: dict[str, Any] = {}

        def reap() -> None:
            _, status, usage = os.wait4(proc.pid, 0)
            reaped.update(end=time.perf_counter(), status=status, usage=usage)

        waiter = threading.Thread(target=reap)
        waiter.start()
        peak = 0
        while waiter.is_alive():
            peak = max(peak, vm_hwm_kb(proc.pid))
            waiter.join(0.01)
            if waiter.is_alive() and time.perf_counter() - t0 > timeout:
                proc.kill()
        proc.returncode = os.waitstatus_to_exitcode(reaped["status"])
        out.seek(0)
        err.seek(0)
        usage = reaped["usage"]
        return Child(
            returncode=proc.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            seconds=reaped["end"] - t0,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            peak_rss_kb=peak,
        )


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.workloads = workloads(args)
        self.rows = [r for r in rows(args) if r.workload in self.workloads]
        self.big_file = workdir / "attachment.bin"
        self.source_file = workdir / "smtp-source-message.txt"
        self.source_bytes = 0

    # ------------------------------------------------------------ preparation

    def prepare(self) -> None:
        if "attach" in self.workloads:
            block = bytes(range(256)) * 4096
            with open(self.big_file, "wb") as f:
                for _ in range(self.args.big_mb * 10**6 // len(block)):
                    f.write(block)
                f.write(block[: self.args.big_mb * 10**6 % len(block)])
        # smtp-source sends the very message bench_send composes; -F wants
        # "\n" line ends and sends each line with CRLF.
        dump = subprocess.run(
            [self.args.cpp, "--mode", "dump"], check=True, capture_output=True
        ).stdout
        self.source_bytes = len(dump)
        self.source_file.write_bytes(dump.replace(b"\r\n", b"\n"))

    # ------------------------------------------------------------ one run

    def argv(self, row: Row, count: int, warmup: int) -> list[str]:
        work = self.workloads[row.workload]
        port = str(self.args.port)
        if row.kind == "smtp-source":
            return [
                self.args.smtp_source,
                *row.args,
                "-m",
                str(count),
                "-f",
                "bench@example.org",
                "-t",
                "sink@example.org",
                "-F",
                str(self.source_file),
                f"{HOST}:{port}",
            ]
        common = ["--port", port, "--count", str(count), "--warmup", str(warmup)]
        if work.key == "attach":
            common += ["--file", str(self.big_file)]
        if row.kind == "cpp":
            return [self.args.cpp, *row.args, *common]
        return [sys.executable, str(ROWS_PY), row.key, *row.args, *common]

    def run(self, row: Row) -> dict[str, Any] | None:
        work = self.workloads[row.workload]
        count = row.count or work.count
        child = run_child(self.argv(row, count, work.warmup))
        if child.returncode != 0:
            print(
                f"  {row.key}: failed (exit {child.returncode}): {child.stderr.strip()[-800:]}",
                file=sys.stderr,
            )
            return None
        if row.kind == "smtp-source":
            result = {
                "messages": count,
                "seconds": child.seconds,
                "cpu_seconds": child.cpu_seconds,
                "message_bytes": self.source_bytes,
            }
        else:
            result = json.loads(child.stdout)
        result["process_seconds"] = child.seconds
        result["process_cpu_seconds"] = child.cpu_seconds
        result["process_peak_rss_kb"] = max(child.peak_rss_kb, result.get("peak_rss_kb", 0))
        return derive(result)

    # ------------------------------------------------------------ rounds

    def run_rounds(self) -> None:
        order = list(self.rows)
        total = max(w.rounds for w in self.workloads.values())
        for r in range(total):
            started = time.perf_counter()
            print(f"round {r + 1}/{total}", file=sys.stderr, flush=True)
            shift = r % len(order)
            for row in order[shift:] + order[:shift]:
                if r < self.workloads[row.workload].rounds:
                    row.runs.append(self.run(row))
            print(f"  {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    # ------------------------------------------------------------ callgrind

    def callgrind(self) -> list[dict[str, Any]]:
        valgrind = shutil.which("valgrind")
        if not valgrind or not self.args.callgrind or "reuse" not in self.workloads:
            return []
        low, high = (10, 40) if self.args.quick else (20, 120)
        out = []
        keys = ["cpp-reuse", "pocosmtp-reuse", "smtplib-reuse"]
        started = time.perf_counter()
        print("callgrind", file=sys.stderr, flush=True)
        for row in (r for r in self.rows if r.key in keys):
            counts = []
            for n in (low, high):
                trace = self.workdir / f"callgrind.{row.key}.{n}"
                argv = [
                    valgrind,
                    "--tool=callgrind",
                    f"--callgrind-out-file={trace}",
                    *self.argv(row, n, self.workloads["reuse"].warmup),
                ]
                child = run_child(argv, timeout=1800)
                if child.returncode != 0:
                    print(
                        f"  {row.key}: callgrind failed: {child.stderr.strip()[-800:]}",
                        file=sys.stderr,
                    )
                    break
                counts.append(callgrind_total(trace))
            if len(counts) == 2:
                per_message = (counts[1] - counts[0]) / (high - low)
                out.append(
                    {
                        "row": row.key,
                        "label": row.label,
                        "instructions_per_message": per_message,
                        "messages": [low, high],
                        "totals": counts,
                    }
                )
        print(f"  {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        reference = next((c for c in out if c["row"] == "cpp-reuse"), None)
        for c in out:
            c["ratio_to_cpp"] = (
                c["instructions_per_message"] / reference["instructions_per_message"]
                if reference
                else None
            )
        return out


def callgrind_total(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise ValueError(f"no instruction total in {path}")


def derive(result: dict[str, Any]) -> dict[str, Any]:
    n, seconds = result["messages"], result["seconds"]
    result["rate"] = n / seconds
    result["cpu_us_per_message"] = result["cpu_seconds"] / n * 1e6
    result["mb_per_second"] = result["message_bytes"] * n / seconds / 1e6
    result["peak_mb"] = result["process_peak_rss_kb"] * 1024 / 1e6
    if "baseline_rss_kb" in result:
        rise = result["peak_rss_kb"] - result["baseline_rss_kb"]
        result["peak_above_baseline_mb"] = rise * 1024 / 1e6
    return result


# ---------------------------------------------------------------- summaries


METRICS = ["rate", "cpu_us_per_message", "mb_per_second", "peak_mb", "peak_above_baseline_mb"]


def median_of(runs: list[dict[str, Any] | None], metric: str) -> float | None:
    values = [run[metric] for run in runs if run and metric in run]
    return statistics.median(values) if values else None


def paired_ratio(a: Row, b: Row, metric: str) -> float | None:
    """Median over rounds of a's metric divided by b's in the same round."""
    ratios = [x[metric] / y[metric] for x, y in zip(a.runs, b.runs) if x and y and y.get(metric)]
    return statistics.median(ratios) if ratios else None


def summarise(bench: Bench) -> list[dict[str, Any]]:
    by_key = {row.key: row for row in bench.rows}
    out = []
    for row in bench.rows:
        ref = by_key.get(REFERENCE[row.workload])
        out.append(
            {
                "row": row.key,
                "workload": row.workload,
                "label": row.label,
                "messages": row.count or bench.workloads[row.workload].count,
                "rounds": sum(1 for run in row.runs if run),
                "failed": sum(1 for run in row.runs if not run),
                "median": {m: median_of(row.runs, m) for m in METRICS},
                "ratio_to_cpp": {
                    "rate": paired_ratio(row, ref, "rate") if ref else None,
                    "cpu_us_per_message": (
                        paired_ratio(row, ref, "cpu_us_per_message") if ref else None
                    ),
                },
                "runs": row.runs,
            }
        )
    return out


@dataclass
class Target:
    name: str
    measured: Callable[[], float | None]
    limit: float
    at_most: bool  # True: measured <= limit passes


def check_targets(bench: Bench, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_key = {row.key: row for row in bench.rows}

    def ratio(a: str, b: str, metric: str) -> Callable[[], float | None]:
        def get() -> float | None:
            if a not in by_key or b not in by_key:
                return None
            return paired_ratio(by_key[a], by_key[b], metric)

        return get

    def instructions(a: str, b: str) -> Callable[[], float | None]:
        def get() -> float | None:
            found = {c["row"]: c["instructions_per_message"] for c in calls}
            return found[a] / found[b] if a in found and b in found else None

        return get

    def worst_rise(key: str) -> Callable[[], float | None]:
        def get() -> float | None:
            row = by_key.get(key)
            values = [r["peak_above_baseline_mb"] for r in (row.runs if row else []) if r]
            return max(values) if values else None

        return get

    cpu = "cpu_us_per_message"
    targets = [
        Target(
            "1: CPU/message, pocosmtp / C++ Poco",
            ratio("pocosmtp-reuse", "cpp-reuse", cpu),
            1.15,
            True,
        ),
        Target(
            "1: instructions/message, pocosmtp / C++ Poco (callgrind)",
            instructions("pocosmtp-reuse", "cpp-reuse"),
            1.15,
            True,
        ),
        Target(
            "1: CPU/message, pocosmtp / smtplib + email",
            ratio("pocosmtp-reuse", "smtplib-reuse", cpu),
            0.10,
            True,
        ),
        Target(
            "1: instructions/message, pocosmtp / smtplib + email (callgrind)",
            instructions("pocosmtp-reuse", "smtplib-reuse"),
            0.10,
            True,
        ),
        Target(
            "1: messages/s, pocosmtp / C++ Poco",
            ratio("pocosmtp-reuse", "cpp-reuse", "rate"),
            0.90,
            False,
        ),
        Target(
            f"7: messages/s, pocosmtp {bench.args.threads} threads / 1 thread",
            ratio("pocosmtp-threads", "pocosmtp-reuse", "rate"),
            1.30,
            False,
        ),
        Target(
            f"7: messages/s, pocosmtp / C++ Poco, {bench.args.threads} threads",
            ratio("pocosmtp-threads", "cpp-threads", "rate"),
            0.85,
            False,
        ),
        Target(
            "8: 1 MiB attachment builds/s, pocosmtp / email",
            ratio("pocosmtp-build", "email-build", "rate"),
            5.0,
            False,
        ),
        Target(
            f"9: peak MB above baseline, {bench.args.big_mb} MB from FilePartSource",
            worst_rise("pocosmtp-file"),
            30.0,
            True,
        ),
    ]
    out = []
    for t in targets:
        value = t.measured()
        met = None if value is None else (value <= t.limit if t.at_most else value >= t.limit)
        out.append(
            {
                "target": t.name,
                "measured": value,
                "limit": ("<= " if t.at_most else ">= ") + f"{t.limit:g}",
                "met": met,
            }
        )
    return out


# ---------------------------------------------------------------- printing


def fmt(value: float | None, digits: int = 0, prefix: str = "") -> str:
    if value is None:
        return "-"
    return f"{prefix}{value:,.{digits}f}"


def table_rows(summary: list[dict[str, Any]]) -> list[list[str]]:
    lines = []
    for s in summary:
        m, r = s["median"], s["ratio_to_cpp"]
        small = m["rate"] is not None and m["rate"] < 100
        if s["workload"] == "attach":
            peak = fmt(m["peak_above_baseline_mb"], 1, "+")
        else:
            peak = fmt(m["peak_mb"], 1)
        lines.append(
            [
                s["label"],
                fmt(m["rate"], 1 if small else 0),
                fmt(m["cpu_us_per_message"], 1 if (m["cpu_us_per_message"] or 0) < 1e4 else 0),
                fmt(m["mb_per_second"], 1),
                peak,
                fmt(r["rate"], 2),
                fmt(r["cpu_us_per_message"], 2),
            ]
        )
    return lines


HEADER = ["client", "msg/s", "CPU us/msg", "MB/s", "peak MB", "msg/s vs C++", "CPU vs C++"]


def text_report(
    bench: Bench,
    summary: list[dict[str, Any]],
    calls: list[dict[str, Any]],
    targets: list[dict[str, Any]],
) -> str:
    out = []
    for key, work in bench.workloads.items():
        group = [s for s in summary if s["workload"] == key]
        lines = [HEADER, *table_rows(group)]
        widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
        rounds = max(s["rounds"] for s in group)
        counts = sorted({s["messages"] for s in group}, reverse=True)
        out.append(
            f"\n{work.title} ({'/'.join(map(str, counts))} messages, "
            f"median of {rounds} round{'s' if rounds != 1 else ''})"
        )
        for line in lines:
            out.append(
                "  "
                + "  ".join(
                    cell.ljust(w) if i == 0 else cell.rjust(w)
                    for i, (cell, w) in enumerate(zip(line, widths))
                )
            )
    if calls:
        out.append("\ninstructions per message, one session reused (callgrind, user space)")
        for c in calls:
            out.append(
                f"  {c['label']:<22} {c['instructions_per_message'] / 1e3:>9,.0f} k"
                f"  {c['ratio_to_cpp']:>6.2f} x C++"
            )
    out.append("\ntargets")
    for t in targets:
        state = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        out.append(f"  {state:<12} {t['target']}: {fmt(t['measured'], 2)} (target {t['limit']})")
    return "\n".join(out)


def markdown_report(
    bench: Bench,
    summary: list[dict[str, Any]],
    calls: list[dict[str, Any]],
    targets: list[dict[str, Any]],
) -> str:
    out = [
        "| workload | " + " | ".join(HEADER) + " |",
        "|---|" + "---|" + "---:|" * (len(HEADER) - 1),
    ]
    for key, work in bench.workloads.items():
        group = [s for s in summary if s["workload"] == key]
        for i, line in enumerate(table_rows(group)):
            out.append(f"| {work.title if i == 0 else ''} | " + " | ".join(line) + " |")
    if calls:
        out += [
            "",
            "| one session reused (callgrind) | instructions/message | vs C++ |",
            "|---|---:|---:|",
        ]
        out += [
            f"| {c['label']} | {c['instructions_per_message'] / 1e3:,.0f} k | "
            f"{c['ratio_to_cpp']:.2f} |"
            for c in calls
        ]
    out += ["", "| target | measured | limit | met |", "|---|---:|---:|---|"]
    out += [
        f"| {t['target']} | {fmt(t['measured'], 2)} | {t['limit']} | "
        f"{ {True: 'yes', False: 'no', None: '-'}[t['met']] } |"
        for t in targets
    ]
    return "\n".join(out) + "\n"


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "loadavg": os.getloadavg(),
    }


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="smtp-sink on 127.0.0.1:PORT")
    parser.add_argument(
        "--cpp",
        default=str(ROOT / "build" / "cpp" / "bench_send"),
        help="the bench_send program (scripts/build-cpp-tools.sh)",
    )
    parser.add_argument(
        "--smtp-source", default=shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer messages and rounds: a check that everything runs",
    )
    parser.add_argument("--rounds", type=int, help="rounds (default 5, --quick 3)")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--big-mb", type=int, help="size of the big attachment (default 200, --quick 50)"
    )
    parser.add_argument("--only", help="comma-separated workloads: " + ", ".join(REFERENCE))
    parser.add_argument(
        "--callgrind",
        action=argparse.BooleanOptionalAction,
        help="count instructions with valgrind (default: on, off with --quick)",
    )
    parser.add_argument("--out", default=str(ROOT / "build" / "bench" / "results.json"))
    args = parser.parse_args()
    if args.rounds is None:
        args.rounds = 3 if args.quick else 5
    if args.big_mb is None:
        args.big_mb = 50 if args.quick else 200
    if args.callgrind is None:
        args.callgrind = not args.quick

    with tempfile.TemporaryDirectory(prefix="pocosmtp-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        if args.only:
            wanted = set(args.only.split(","))
            bench.workloads = {k: w for k, w in bench.workloads.items() if k in wanted}
            bench.rows = [r for r in bench.rows if r.workload in bench.workloads]
        started = time.perf_counter()
        before = machine()
        versions = json.loads(
            subprocess.run(
                [sys.executable, str(ROWS_PY), "info"], check=True, capture_output=True, text=True
            ).stdout
        )
        bench.prepare()
        bench.run_rounds()
        calls = bench.callgrind()
        elapsed = time.perf_counter() - started

    summary = summarise(bench)
    targets = check_targets(bench, calls)
    print(text_report(bench, summary, calls, targets))
    print(
        f"\n{elapsed:.0f} s; load average before {before['loadavg'][0]:.2f}, "
        f"after {os.getloadavg()[0]:.2f}"
    )

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    config = {k: v for k, v in vars(args).items() if k != "out"}
    config["workloads"] = {k: vars(w) for k, w in bench.workloads.items()}
    result = {
        "machine": {**before, "loadavg_after": os.getloadavg()},
        "versions": versions,
        "config": config,
        "seconds": elapsed,
        "rows": summary,
        "callgrind": calls,
        "targets": targets,
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown_report(bench, summary, calls, targets))
    print(f"wrote {out} and {out.with_suffix('.md')}")
    failed = sum(s["failed"] for s in summary)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
