"""Interaction KPIs at scale: bulk import of a half-year history and the KPI queries over it.

Draws a seeded support history (assistant/demo/history.py: ≥ 100,000 tickets, ≥ 1,000,000 events, seven departments,
40 agents, 26 weeks), writes it as the JSON lines a ticketing system exports, imports it with the real CLI
(``assistant import-events``, a subprocess, timed from start to exit: events stored and every ticket's timings
recomputed, with business hours set for the default and one department) into PostgreSQL and SQLite, then
times ``compute_kpis`` over the whole period per grouping (median of 5 after a warm-up).

    .venv/bin/python -m bench.kpi_scale [--tickets 100000] [--database postgres|sqlite|both] [--limit 360] [--no-write]

An import still running after ``--limit`` seconds is stopped and reported as unfinished, with the events it stored
by then; the benchmark then writes ``ticket_timings`` itself (the service's ``timeline_facts`` over the drawn
history) so the KPI query is still timed at full size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from assistant.demo.history import SOURCE, History, describe, event_fields, generate, write_jsonl
from bench.report import table, write_section

COMMAND = ".venv/bin/python -m bench.kpi_scale"
POSTGRES_URL = os.environ.get("ASSISTANT_TEST_POSTGRES_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GROUPINGS = ["department,week", "department", "channel", "agent", "day", "all"]
RUNS = 5
IMPORT_TARGET = 5_000.0  # events/s on PostgreSQL
KPI_TARGET = 2.0  # seconds for department × week over everything
HOLIDAYS = ["2026-05-25", "2026-06-04"]
SCHEDULES = {
    "*": {
        "timezone": "Europe/Berlin",
        "hours": {day: ["08:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": HOLIDAYS,
    },
    # Technical support runs a longer day and a Saturday morning.
    "technical_support": {
        "timezone": "Europe/Berlin",
        "hours": {**{day: ["07:00-20:00"] for day in ("mon", "tue", "wed", "thu", "fri")}, "sat": ["09:00-14:00"]},
        "holidays": HOLIDAYS,
    },
}


class LoadSampler:
    """The 1-minute load average every few seconds, to say how busy the machine was beside this benchmark."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def now() -> str:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(float(self.now().split()[0]))

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class ImportResult:
    seconds: float
    finished: bool
    stored: int  # events in the database afterwards
    timings: int  # ticket_timings rows the import wrote
    startup: float  # process start, imports, migration: until the event bar appears
    storing: float  # reading, validating and storing the events
    recomputing: float | None  # every touched ticket's timings; None when the limit came first
    output: str

    def rate(self, events: int) -> float:
        """Events per second: of the whole file when it finished, else of what was stored by the limit."""
        return (events if self.finished else self.stored) / self.seconds


@dataclass
class DatabaseResult:
    name: str
    imported: ImportResult
    kpi_seconds: dict[str, float] = field(default_factory=dict)
    kpi_groups: dict[str, int] = field(default_factory=dict)
    overall: dict[str, Any] = field(default_factory=dict)
    timings_filled: float | None = None  # seconds, when the benchmark filled ticket_timings itself


@contextmanager
def database(kind: str, directory: Path) -> Iterator[str]:
    """A fresh database: a throw-away PostgreSQL schema (dropped afterwards) or a SQLite file."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'kpi-scale.db'}"
        return
    schema = f"bench_kpi_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def set_schedules(url: str) -> None:
    from assistant.db import make_engine, migrate, session_scope
    from assistant.schedules.service import put_schedule

    engine = make_engine(url)
    migrate(engine)
    with session_scope(engine) as session:
        for department, schedule in SCHEDULES.items():
            put_schedule(session, department, schedule)
    engine.dispose()


def run_import(url: str, path: Path, data_dir: Path, *, limit: float) -> ImportResult:
    """``assistant import-events`` as an operator runs it, stopped at ``limit`` seconds; phases from its progress."""
    env = dict(os.environ, ASSISTANT_DATABASE_URL=url, ASSISTANT_DATA_DIR=str(data_dir))
    command = [sys.executable, "-m", "assistant.cli", "import-events", str(path)]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    marks: dict[str, float] = {}
    tail = bytearray()
    stdout = bytearray()

    def watch_progress() -> None:
        assert process.stderr is not None
        for chunk in iter(lambda: process.stderr.read1(65_536), b""):  # type: ignore[union-attr]
            tail.extend(chunk)
            del tail[:-20_000]
            for label in ("importing", "ticket timings"):
                if label not in marks and label.encode() in tail:
                    marks[label] = time.perf_counter()

    def collect_output() -> None:
        assert process.stdout is not None
        stdout.extend(process.stdout.read())

    watchers = [threading.Thread(target=target, daemon=True) for target in (watch_progress, collect_output)]
    for watcher in watchers:
        watcher.start()
    try:
        process.wait(timeout=limit)
        finished = True
    except subprocess.TimeoutExpired:
        finished = False
        process.kill()  # our own child, by its handle; committed batches stay, the open one is rolled back
        process.wait()
    seconds = time.perf_counter() - started
    for watcher in watchers:
        watcher.join()
    if finished and process.returncode != 0:
        raise SystemExit(f"import failed ({process.returncode}):\n{tail.decode(errors='replace')[-3000:]}")
    rows = row_counts(url)
    begin = marks.get("importing", started)
    middle = marks.get("ticket timings")
    return ImportResult(
        seconds=seconds,
        finished=finished,
        stored=rows["interaction_events"],
        timings=rows["ticket_timings"],
        startup=begin - started,
        storing=(middle or started + seconds) - begin,
        recomputing=None if middle is None else started + seconds - middle,
        output=stdout.decode().strip() if finished else f"stopped at the {limit:.0f} s limit",
    )


def fill_timings(url: str, history: History) -> float:
    """``ticket_timings`` as the import would write them, from the service's own ``timeline_facts`` over the drawn
    history: lets the KPI query be timed at full size when the import did not finish in time."""
    from datetime import datetime

    from sqlalchemy import delete, insert

    from assistant.db import make_engine, utcnow
    from assistant.events.models import TicketTiming
    from assistant.events.timeline import TimelineEvent, timeline_facts
    from assistant.schedules.service import ScheduleBook

    started = time.perf_counter()
    timelines: dict[str, list[TimelineEvent]] = {}
    for event_id, ticket_id, kind, stamp, actor_type, actor_id, channel, department in event_fields(history):
        timelines.setdefault(ticket_id, []).append(
            TimelineEvent(event_id, kind, datetime.fromisoformat(stamp), actor_type, actor_id, channel, department)
        )
    engine = make_engine(url)
    schedules = ScheduleBook(engine)
    now = utcnow()
    rows = [
        {"source": SOURCE, "ticket_id": ticket_id, "language": None, "updated_at": now,
         **timeline_facts(timeline, schedule_for=schedules.get)}
        for ticket_id, timeline in timelines.items()
    ]  # fmt: skip
    table_ = TicketTiming.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(delete(table_))
        for start in range(0, len(rows), 5_000):
            connection.execute(insert(table_), rows[start : start + 5_000])
    engine.dispose()
    return time.perf_counter() - started


def time_kpis(url: str, history: History) -> tuple[dict[str, float], dict[str, int], dict[str, Any]]:
    from assistant.db import make_engine, session_scope
    from assistant.kpis.service import compute_kpis, parse_group_by

    engine = make_engine(url)
    seconds: dict[str, float] = {}
    groups: dict[str, int] = {}
    overall: dict[str, Any] = {}
    with session_scope(engine) as session:
        for grouping in GROUPINGS:
            group_by = parse_group_by(grouping)
            runs = []
            for run in range(RUNS + 1):
                started = time.perf_counter()
                report = compute_kpis(session, start=history.start, end=history.end, group_by=group_by)
                if run:  # the first run warms caches and the connection
                    runs.append(time.perf_counter() - started)
            seconds[grouping] = statistics.median(runs)
            groups[grouping] = len(report["groups"])
            if grouping == "all":
                overall = report["groups"][0]
            print(f"  kpis by {grouping:16s} {seconds[grouping]:6.3f} s  ({groups[grouping]} groups)")
    engine.dispose()
    return seconds, groups, overall


def row_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as connection:
        counts = {
            name: int(connection.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())
            for name in ("interaction_events", "ticket_timings")
        }
    engine.dispose()
    return counts


def reading_alone(path: Path) -> float:
    """Reading and validating the file without a database: the floor under any import."""
    from assistant.events.importing import read_events

    started = time.perf_counter()
    for _ in read_events(path):
        pass
    return time.perf_counter() - started


def run_database(kind: str, path: Path, history: History, directory: Path, *, limit: float) -> DatabaseResult:
    print(f"\n{kind}: importing {len(history):,} events (limit {limit:.0f} s) …", flush=True)
    with database(kind, directory) as url:
        set_schedules(url)
        imported = run_import(url, path, directory / f"data-{kind}", limit=limit)
        print(
            f"  {imported.output}\n  {imported.seconds:.1f} s, {imported.stored:,} events stored = "
            f"{imported.rate(len(history)):,.0f} events/s (start-up {imported.startup:.1f} s, events "
            f"{imported.storing:.1f} s, timings {_seconds(imported.recomputing, ' s')})",
            flush=True,
        )
        result = DatabaseResult(kind, imported)
        if imported.finished:
            if imported.stored != len(history) or imported.timings != history.tickets:
                raise SystemExit(
                    f"{kind}: expected {len(history)} events and {history.tickets} timings, "
                    f"found {imported.stored} and {imported.timings}"
                )
        else:
            result.timings_filled = fill_timings(url, history)
            print(f"  ticket_timings filled by the benchmark in {result.timings_filled:.1f} s", flush=True)
        result.kpi_seconds, result.kpi_groups, result.overall = time_kpis(url, history)
    return result


def _seconds(value: float | None, unit: str = "") -> str:
    return "not reached" if value is None else f"{value:.1f}{unit}"


def _hours(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} h"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def report(
    history: History,
    shape: dict[str, Any],
    results: list[DatabaseResult],
    *,
    generated: float,
    reading: float,
    limit: float,
    load: dict[str, str],
) -> str:
    events = len(history)
    per_kind = ", ".join(f"{kind} {count:,}" for kind, count in shape["per_kind"].items())
    lines = [
        f"Data (seeded, `assistant/demo/history.py`): {shape['tickets']:,} tickets, {shape['events']:,} events "
        f"({shape['events'] / shape['tickets']:.1f} per ticket), {shape['departments']} departments, "
        f"{shape['agents']} agents, 4 channels (email 42 %, chat 28 %, phone 15 %, web 15 %), "
        f"{shape['period']} (26 weeks, Monday and business-hour peaks). Events: {per_kind}. "
        f"Drawn and written as JSON lines in {generated:.1f} s. Business hours: `*` Europe/Berlin Mon–Fri "
        "08–18 and technical_support Mon–Fri 07–20 + Sat 09–14, two holidays.",
        "",
        "Import = `assistant import-events FILE` as a subprocess, wall time from start to exit (start-up and "
        "migration, events read + validated + stored in batches of 5,000, then every ticket's timings "
        f"recomputed), stopped if still running after {limit:.0f} s. Reading and validating the file alone, without "
        f"a database, takes {reading:.1f} s ({events / reading:,.0f} events/s).",
        "",
        table(
            [
                "database",
                "finished",
                "wall s",
                "events stored",
                "events/s",
                "start-up s",
                "events phase s",
                "timings phase s",
            ],
            [
                [
                    r.name,
                    "yes" if r.imported.finished else f"**no** (stopped at {limit:.0f} s)",
                    f"{r.imported.seconds:.1f}",
                    f"{r.imported.stored:,} of {events:,}",
                    f"{r.imported.rate(events):,.0f}",
                    f"{r.imported.startup:.1f}",
                    f"{r.imported.storing:.1f}" + ("" if r.imported.recomputing is not None else " (not done)"),
                    _seconds(r.imported.recomputing)
                    + ("" if r.imported.finished or r.imported.recomputing is None else " (not done)"),
                ]
                for r in results
            ],
        ),
        "",
    ]
    unfinished = [r.name for r in results if r.timings_filled is not None]
    if unfinished:
        lines += [
            f"Where the import did not finish ({', '.join(unfinished)}), the benchmark wrote `ticket_timings` for "
            "all tickets itself, with the service's own `timeline_facts` and business hours over the drawn history "
            "(the rows the import would have written), so that the KPI query below still runs at full size.",
            "",
        ]
    lines += [
        f"KPI query = `compute_kpis` over the whole period, seconds, median of {RUNS} after one warm-up "
        "(groups in brackets):",
        "",
        table(
            ["group by", *[r.name for r in results]],
            [
                [grouping, *[f"{r.kpi_seconds[grouping]:.3f} ({r.kpi_groups[grouping]})" for r in results]]
                for grouping in GROUPINGS
            ],
        ),
        "",
    ]
    overall = results[0].overall
    if overall:
        frt, full = overall["frt"], overall["full_resolution"]
        lines += [
            f"Sanity ({results[0].name}, whole period): {overall['tickets_created']:,} created, "
            f"{overall['tickets_solved']:,} solved; FRT median {_hours(frt['calendar_hours']['median'])} "
            f"(p90 {_hours(frt['calendar_hours']['p90'])}), in business hours "
            f"{_hours(frt['business_hours']['median'])}; full resolution median "
            f"{_hours(full['calendar_hours']['median'])} ({_hours(full['business_hours']['median'])} business); "
            f"FCR {_share(overall['fcr_rate'])}, reopened {_share(overall['reopen_rate'])}, transferred "
            f"{_share(overall['transfer_rate'])}; {overall['awaiting_first_reply']:,} awaiting a first reply at "
            "the end of the period.",
            "",
        ]
    targets = []
    for r in results:
        if r.name == "postgres":
            rate = r.imported.rate(events)
            ok = r.imported.finished and rate >= IMPORT_TARGET
            targets.append([f"import ≥ {IMPORT_TARGET:,.0f} events/s (PostgreSQL)", f"{rate:,.0f}", _met(ok)])
    for r in results:
        query = r.kpi_seconds["department,week"]
        targets.append(
            [f"KPIs department × week ≤ {KPI_TARGET:.0f} s ({r.name})", f"{query:.3f} s", _met(query <= KPI_TARGET)]
        )
    lines += [table(["target", "measured", "met"], targets), ""]
    lines.append(
        f"Machine load (1/5/15-min load average): {load['before']} before, {load['after']} after; "
        f"1-min average during the run {load['samples']}. The benchmark itself keeps about two processes busy "
        "(the importer and the database), so a load well above 2 on these cores means other jobs ran alongside "
        "and the figures are lower than on an idle machine."
    )
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--database", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--limit", type=float, default=360.0, help="seconds after which an import is stopped (keeps the run bounded)"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()
    kinds = ["postgres", "sqlite"] if args.database == "both" else [args.database]

    load = {"before": LoadSampler.now()}
    with LoadSampler() as sampler, tempfile.TemporaryDirectory(prefix="kpi-scale-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        history = generate(args.tickets, seed=args.seed)
        path = directory / "events.jsonl"
        write_jsonl(history, path)
        generated = time.perf_counter() - started
        shape = describe(history)
        print(f"{shape}\ndrawn and written in {generated:.1f} s ({path.stat().st_size / 1e6:.0f} MB)", flush=True)
        reading = reading_alone(path)
        print(f"reading + validating alone: {reading:.1f} s ({len(history) / reading:,.0f} events/s)", flush=True)
        results = [run_database(kind, path, history, directory, limit=args.limit) for kind in kinds]
    load["after"] = LoadSampler.now()
    samples = sampler.samples or [0.0]
    load["samples"] = f"mean {statistics.mean(samples):.1f}, max {max(samples):.1f}"

    body = report(history, shape, results, generated=generated, reading=reading, limit=args.limit, load=load)
    print("\n" + body)
    if not args.no_write:
        options = [f"--tickets {args.tickets}"] if args.tickets != 100_000 else []
        options += [f"--database {args.database}"] if args.database != "both" else []
        options += [f"--limit {args.limit:g}"] if args.limit != 360.0 else []
        write_section("kpi-scale", " ".join([COMMAND, *options]), body)


if __name__ == "__main__":
    main()
