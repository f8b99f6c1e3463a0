"""Command line: ``assistant serve | train | evaluate | import-faq | import-cases | import-events | import-surveys
| recompute-timings | kpis | insights | keys``."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from assistant.settings import Settings

if TYPE_CHECKING:  # heavy imports stay out of the CLI's start-up
    from sqlalchemy import Engine
    from sqlmodel import Session

    from assistant.schedules.service import ScheduleBook
    from knowledge import TextEmbedder


def _settings(data_dir: Path | None, **overrides: Any) -> Settings:
    """Settings from the environment; a bad value is one line naming it, not a traceback."""
    try:
        return Settings.from_env(**({"data_dir": data_dir} if data_dir else {}), **overrides)
    except ValueError as exc:
        raise click.ClickException(f"bad setting: {exc}") from None


def _writable_data_dir(settings: Settings) -> Settings:
    """The settings, once their data directory is known to take files: one line where it cannot, not a
    traceback from the first write."""
    if (problem := settings.data_dir_problem()) is not None:
        raise click.ClickException(problem)
    return settings


def _database(data_dir: Path | None = None, settings: Settings | None = None) -> Engine:
    """The configured database, migrated to the newest schema."""
    from assistant.db import make_engine, migrate

    settings = settings or _settings(data_dir)
    if not settings.database_url:  # the SQLite file in the data directory
        _writable_data_dir(settings)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    return engine


def _embedder(settings: Settings) -> TextEmbedder:
    if settings.embedding_backend == "onnx" and settings.model_cache_dir is None:
        _writable_data_dir(settings)  # the onnx backend keeps its export of the model there
    embedder = settings.embedder()
    click.echo(f"loading embedding model {embedder.model_name} ({settings.embedding_backend})", err=True)
    return embedder


class NumberRange(click.FloatRange):
    """``click.FloatRange`` that refuses NaN too, which passes every comparison a range check makes."""

    def __init__(self, *args: Any, what: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number != number:
            self.fail(f"must be {self.what}", param, ctx)
        return number


data_dir_option = click.option(
    "--data-dir", type=click.Path(path_type=Path), default=None, help="Overrides ASSISTANT_DATA_DIR."
)


@click.group()
def main() -> None:
    """Support-desk AI assistant."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Noise before every command's output: faiss names the CPU build it tried first (a missing AVX2 build
    # reads like an error and is not one), alembic each plugin it sets up. Migrations still log each upgrade.
    for chatty in ("faiss.loader", "alembic.runtime.plugins"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


@main.command()
@data_dir_option
@click.option("--host", default=None, help="Overrides ASSISTANT_HOST (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Overrides ASSISTANT_PORT (default 8000).")
def serve(data_dir: Path | None, host: str | None, port: int | None) -> None:
    """Run the HTTP service (trains the demo classifier on first start in demo mode)."""
    import uvicorn

    from assistant.app import create_app

    overrides: dict[str, object] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    settings = _writable_data_dir(_settings(data_dir, **overrides))
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info", access_log=False)


@main.command()
@data_dir_option
@click.option("--data", "data_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Labelled CSV.")
@click.option("--text-column", default="text", show_default=True)
@click.option("--label-column", default="label", show_default=True, help="Intent (or department) labels.")
@click.option("--department-column", default=None, help="A column giving each label's department.")
@click.option(
    "--taxonomy", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="JSON: department → intents."
)
@click.option("--from-db", is_flag=True, help="Add tickets corrected by agents, their correction as label.")
@click.option(
    "--holdout",
    type=NumberRange(0.0, 0.5, what="a share from 0 to 0.5"),
    default=0.1,
    show_default=True,
    help="Share held out to measure first (0 for none).",
)
@click.option("--seed", type=int, default=0, show_default=True)
def train(
    data_dir: Path | None,
    data_path: Path | None,
    text_column: str,
    label_column: str,
    department_column: str | None,
    taxonomy: Path | None,
    from_db: bool,
    holdout: float,
    seed: int,
) -> None:
    """Train a classifier into the data directory; the service serves the newest one."""
    from assistant.errors import InvalidInput
    from assistant.training.service import LabelledTexts, read_labelled_csv, train_classifier
    from classifiers import load_taxonomy

    settings = _writable_data_dir(_settings(data_dir))
    if data_path is None and not from_db:
        raise click.UsageError("give --data CSV, --from-db, or both")
    texts: list[str] = []
    labels: list[str] = []
    mapping: dict[str, str] | None = None
    try:
        if data_path is not None:
            data = read_labelled_csv(
                data_path, text_column=text_column, label_column=label_column, department_column=department_column
            )
            texts, labels, mapping = data.texts, data.labels, data.taxonomy
        if taxonomy is not None:
            mapping = load_taxonomy(taxonomy)
    except (ValueError, InvalidInput) as exc:
        raise click.ClickException(str(exc)) from exc
    if mapping is None and from_db and data_path is None:
        mapping = _current_taxonomy(settings)
    if from_db:
        corrected = _corrected_examples(settings, label="intent" if mapping else "department")
        click.echo(f"{len(corrected)} corrected tickets from the database", err=True)
        texts += [text for text, _ in corrected]
        labels += [label for _, label in corrected]
    if not texts:
        raise click.ClickException("nothing to train on: no labelled rows, and no ticket corrected by an agent")
    try:
        classifier, report = train_classifier(
            embedder=_embedder(settings),
            data=LabelledTexts(texts, labels, mapping),
            out_dir=settings.classifier_dir,
            holdout=holdout,
            seed=seed,
            show_progress=True,
            progress=lambda message: click.echo(message, err=True),
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if report is not None:
        click.echo(report.format_table(per_class=False))
    click.echo(
        f"classifier {classifier.version}: {len(classifier.labels)} labels, {len(classifier.departments)} departments"
    )


def _corrected_examples(settings: Settings, *, label: str) -> list[tuple[str, str]]:
    from assistant.db import session_scope
    from assistant.tickets.service import corrected_examples

    with session_scope(_database(settings=settings)) as session:
        return corrected_examples(session, label=label)


def _current_taxonomy(settings: Settings) -> dict[str, str] | None:
    from classifiers import TicketClassifier

    if TicketClassifier.exists(settings.classifier_dir):
        return TicketClassifier.load(settings.classifier_dir).taxonomy
    return None


@main.command()
@data_dir_option
@click.option("--data", "data_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--text-column", default="text", show_default=True)
@click.option("--label-column", default="label", show_default=True)
@click.option("--per-class/--no-per-class", default=True, show_default=True)
def evaluate(data_dir: Path | None, data_path: Path, text_column: str, label_column: str, per_class: bool) -> None:
    """Measure the served classifier on a labelled CSV and print the metrics table."""
    from assistant.errors import InvalidInput
    from assistant.training.service import evaluate_classifier, read_labelled_csv
    from classifiers import TicketClassifier

    settings = _settings(data_dir)
    if not TicketClassifier.exists(settings.classifier_dir):
        raise click.ClickException(f"no classifier in {settings.classifier_dir}; run `assistant train` first")
    classifier = TicketClassifier.load(settings.classifier_dir)
    try:
        data = read_labelled_csv(data_path, text_column=text_column, label_column=label_column)
        report = evaluate_classifier(embedder=_embedder(settings), classifier=classifier, data=data, show_progress=True)
    except (ValueError, InvalidInput) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"classifier {classifier.version}")
    click.echo(report.format_table(per_class=per_class))


def _knowledge_import(kind: str, path: Path, data_dir: Path | None) -> None:
    """Read the file, embed and store its items batch by batch, with a progress bar."""
    from tqdm import tqdm

    from assistant.cases.service import import_cases, read_cases_file
    from assistant.db import session_scope
    from assistant.errors import InvalidInput
    from assistant.faq.service import import_faq, read_faq_file
    from assistant.indexing.service import TextEncoder
    from classifiers.language import LanguageDetector

    settings = _settings(data_dir)
    try:
        items = read_faq_file(path) if kind == "faq" else read_cases_file(path)
    except InvalidInput as exc:
        details = f" {exc.details}" if exc.details else ""
        raise click.ClickException(exc.message + details) from exc
    embedder = _embedder(settings).warm_up()
    encoder = TextEncoder.of(embedder)
    language = LanguageDetector(fallback=settings.default_language or None).warm_up()
    run = import_faq if kind == "faq" else import_cases
    with (
        session_scope(_database(settings=settings)) as session,
        tqdm(total=len(items), unit=" entries" if kind == "faq" else " cases", desc=f"importing {path.name}") as bar,
    ):
        report = run(session, items, encoder=encoder, language_of=language.detect, progress=bar.update)  # type: ignore[arg-type]
    click.echo(
        f"{report.created} created, {report.updated} updated, {report.skipped} unchanged; "
        "a running service picks them up within seconds"
    )


@main.command("import-faq")
@data_dir_option
@click.argument("path", type=click.Path(path_type=Path))
def import_faq_command(data_dir: Path | None, path: Path) -> None:
    """Import FAQ entries from JSON or CSV (StackFAQ's ``{id, question, answers[]}`` works as it is)."""
    _knowledge_import("faq", path, data_dir)


@main.command("import-cases")
@data_dir_option
@click.argument("path", type=click.Path(path_type=Path))
def import_cases_command(data_dir: Path | None, path: Path) -> None:
    """Import historical resolved cases from JSON lines, JSON or CSV; PII is masked before storing."""
    _knowledge_import("cases", path, data_dir)


@main.command("import-events")
@data_dir_option
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--batch", type=click.IntRange(1, 1_000_000), default=5_000, show_default=True, help="Events per transaction."
)
def import_events_command(data_dir: Path | None, path: Path, batch: int) -> None:
    """Import interaction events from JSON lines or CSV (history, or a ticketing system's export).

    Each event: source, event_id, ticket_id, kind, occurred_at (with a time zone), and optionally
    actor_type, actor_id, channel, department, text. Events already stored are skipped.
    """
    from tqdm import tqdm

    from assistant.db import session_scope, write_lock
    from assistant.errors import InvalidInput
    from assistant.events.importing import read_events
    from assistant.events.service import refresh_statistics, store_events
    from assistant.schedules.service import ScheduleBook
    from knowledge.pii import mask_pii

    settings = _settings(data_dir)
    engine = _database(settings=settings)
    schedules = ScheduleBook(engine)
    accepted = seen = 0
    tickets: set[tuple[str, str]] = set()
    try:
        with session_scope(engine) as session, tqdm(unit=" events", desc=f"importing {path.name}") as bar:
            for events in read_events(path, batch=batch):
                with write_lock(session):
                    stored, _ = store_events(session, events, mask=mask_pii, exact=False)
                    session.commit()
                if not seen:
                    refresh_statistics(session)
                accepted, seen = accepted + stored, seen + len(events)
                # Every ticket read, not only those with new events: a rerun after an interrupted
                # import must still give the tickets of its first half their timings.
                tickets |= {(event.source, event.ticket_id) for event in events}
                bar.update(len(events))
            refresh_statistics(session)
            # Timings once per ticket at the end, not once per batch that touched it.
            _recompute_with_progress(session, sorted(tickets), schedules=schedules)
    except InvalidInput as exc:
        details = f" {exc.details}" if exc.details else ""
        if seen:  # the batches before the bad record are committed: their tickets get their timings all the same
            with session_scope(engine) as session:
                _recompute_with_progress(session, sorted(tickets), schedules=schedules)
            details += (
                f" The batches before the one holding it were committed: {seen} events, {accepted} of them new. Run "
                "the fixed file again: events already stored are skipped."
            )
        raise click.ClickException(exc.message + details) from exc
    click.echo(f"{accepted} events stored, {seen - accepted} already known; {len(tickets)} tickets updated")


TIMING_CHUNK = 500


def _recompute_with_progress(session: Session, keys: list[tuple[str, str]], *, schedules: ScheduleBook) -> None:
    from tqdm import tqdm

    from assistant.db import write_lock
    from assistant.events.service import recompute_timings

    with tqdm(total=len(keys), unit=" tickets", desc="ticket timings") as bar:
        # One transaction per few hundred tickets: PostgreSQL takes an advisory lock per ticket.
        for start in range(0, len(keys), TIMING_CHUNK):
            chunk = keys[start : start + TIMING_CHUNK]
            with write_lock(session):
                recompute_timings(session, chunk, schedules=schedules)
                session.commit()
            bar.update(len(chunk))


@main.command("recompute-timings")
@data_dir_option
def recompute_timings_command(data_dir: Path | None) -> None:
    """Work out every ticket's timings again from its events and its ticket: after an upgrade that changed how
    they are worked out (docs/KPIS.md), or a restore. Safe beside a running service."""
    from assistant.db import session_scope
    from assistant.events.service import timed_tickets
    from assistant.schedules.service import ScheduleBook

    engine = _database(settings=_settings(data_dir))
    with session_scope(engine) as session:
        keys = timed_tickets(session)
        _recompute_with_progress(session, keys, schedules=ScheduleBook(engine))
    click.echo(f"{len(keys)} tickets' timings recomputed")


@main.command("import-surveys")
@data_dir_option
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--batch", type=click.IntRange(1, 1_000_000), default=5_000, show_default=True, help="Responses per transaction."
)
def import_surveys_command(data_dir: Path | None, path: Path, batch: int) -> None:
    """Import survey responses (CSAT 1–5, CES 1–7, NPS 0–10) from JSON lines or CSV.

    Each response: source, response_id, responded_at (with a time zone), at least one of csat, ces,
    nps, and optionally ticket_id, customer_ref, comment (PII-masked before storing).
    """
    from assistant.db import session_scope
    from assistant.errors import InvalidInput
    from assistant.events.importing import read_records
    from assistant.surveys.models import SurveyCreate
    from assistant.surveys.service import ingest_surveys
    from knowledge.pii import mask_pii

    accepted = updated = duplicates = 0
    try:
        with session_scope(_database(data_dir)) as session:
            for surveys in read_records(path, SurveyCreate, noun="response", batch=batch):
                report = ingest_surveys(session, surveys, mask=mask_pii)
                accepted, updated = accepted + report.accepted, updated + report.updated
                duplicates += report.duplicates
    except InvalidInput as exc:
        details = f" {exc.details}" if exc.details else ""
        if committed := accepted + updated + duplicates:
            details += (
                f" The batches before the one holding it were committed: {committed} responses, {accepted} of them "
                f"new and {updated} replacing earlier versions. Run the fixed file again: a response stored already "
                "is kept or replaced, never doubled."
            )
        raise click.ClickException(exc.message + details) from exc
    click.echo(f"{accepted} responses stored, {updated} replaced, {duplicates} already known")


def _period_options(default_days: int) -> Any:
    def decorate(command: Any) -> Any:
        command = click.option("--to", "end", default=None, help="End of the period (exclusive); default now.")(command)
        return click.option(
            "--from",
            "start",
            default=None,
            help=f"Start of the period, e.g. 2026-11-01 or 2026-11-01T00:00+01:00; default {default_days} days "
            "before --to.",
        )(command)

    return decorate


def _period(start: str | None, end: str | None, default_days: int) -> tuple[datetime, datetime]:
    until = _moment(end, "--to") if end else datetime.now(UTC)
    since = _moment(start, "--from") if start else until - timedelta(days=default_days)
    if since >= until:
        ends = f"{'--to' if end else 'now, without --to'}: {until:%Y-%m-%d %H:%M} UTC"
        raise click.BadParameter(f"the period must start before it ends ({ends})", param_hint="--from")
    return since, until


@main.command("kpis")
@data_dir_option
@_period_options(30)
@click.option(
    "--group-by",
    default="department",
    show_default=True,
    help="all, department, channel, agent, language, day, week; several comma-separated (department,week).",
)
@click.option("--business-hours/--calendar-hours", default=False, help="Which durations the table shows.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (both kinds of hours) instead of the table.")
def kpis_command(
    data_dir: Path | None, start: str | None, end: str | None, group_by: str, business_hours: bool, as_csv: bool
) -> None:
    """Print the KPI table for a period."""
    from assistant.db import session_scope
    from assistant.errors import InvalidInput
    from assistant.kpis.service import compute_kpis, kpis_csv, parse_group_by

    period = _period(start, end, 30)
    with session_scope(_database(data_dir)) as session:
        try:
            report = compute_kpis(session, start=period[0], end=period[1], group_by=parse_group_by(group_by))
        except InvalidInput as exc:
            raise click.ClickException(exc.message) from exc
    if as_csv:
        click.echo(kpis_csv(report), nl=False)
        return
    hours = "business_hours" if business_hours else "calendar_hours"
    click.echo(f"{report['from']:%Y-%m-%d %H:%M} – {report['to']:%Y-%m-%d %H:%M} UTC, {hours.replace('_', ' ')}")
    header = f"{group_by:24s} {'created':>8s} {'solved':>7s} {'FRT med':>8s} {'FRT p90':>8s} {'1st res med':>11s} "
    header += f"{'full res med':>12s} {'FCR':>6s} {'reopen':>7s} {'xfer':>6s} {'waiting':>8s} {'CSAT':>5s} {'CES':>5s} "
    header += f"{'NPS':>5s} {'surveys':>7s}"
    click.echo(header)
    for group in report["groups"]:
        click.echo(
            f"{str(group['group'])[:24]:24s} {group['tickets_created']:8d} {group['tickets_solved']:7d} "
            f"{_number(group['frt'][hours]['median']):>8s} {_number(group['frt'][hours]['p90']):>8s} "
            f"{_number(group['first_resolution'][hours]['median']):>11s} "
            f"{_number(group['full_resolution'][hours]['median']):>12s} {_share(group['fcr_rate']):>6s} "
            f"{_share(group['reopen_rate']):>7s} {_share(group['transfer_rate']):>6s} "
            f"{group['awaiting_first_reply']:8d} {_share(group['csat_rate']):>5s} "
            f"{'–' if group['ces_mean'] is None else format(group['ces_mean'], '.1f'):>5s} "
            f"{'–' if group['nps'] is None else format(group['nps'], '.0f'):>5s} {group['survey_responses']:7d}"
        )


def _moment(raw: str, option: str) -> datetime:
    """As the API reads a period's end, a time without a zone taken as UTC."""
    from assistant.kpis.service import moment

    try:
        return moment(raw, naive_zone=UTC).astimezone(UTC)
    except ValueError as exc:
        raise click.BadParameter(f"{raw!r} {exc}", param_hint=option) from None


def _number(hours: float | None) -> str:
    return "–" if hours is None else f"{hours:.1f}h"


def _share(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.0%}"


@main.group()
def insights() -> None:
    """Customer-experience insights: self-service gaps, drivers of satisfaction, deflection."""


@insights.command("gaps")
@data_dir_option
@_period_options(30)
@click.option("--top", type=click.IntRange(1, 200), default=20, show_default=True, help="How many clusters to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
def insights_gaps(data_dir: Path | None, start: str | None, end: str | None, top: int, as_json: bool) -> None:
    """Where a new FAQ entry would deflect the most tickets: the period's tickets by topic, least covered first."""
    from assistant.db import session_scope
    from assistant.errors import InvalidInput
    from assistant.indexing.service import TextEncoder
    from assistant.insights.gaps import gap_report

    settings = _settings(data_dir)
    period = _period(start, end, 30)
    embedder = _embedder(settings).warm_up()
    encoder = TextEncoder.of(embedder)
    with session_scope(_database(settings=settings)) as session:
        try:
            report = gap_report(
                session,
                start=period[0],
                end=period[1],
                encoder=encoder,
                top=top,
                max_tickets=settings.insights_max_tickets,
                model_text_chars=settings.model_text_chars,
            )
        except InvalidInput as exc:
            raise click.ClickException(exc.message) from exc
    if as_json:
        click.echo(json.dumps(report, default=str, indent=2))
        return
    click.echo(
        f"{report['tickets']} tickets ({report['tickets_analysed']} analysed) in {report['clusters_found']} topics; "
        f"{report['faq_entries']} published FAQ entries"
    )
    click.echo(f"{'#':>3s} {'tickets':>7s} {'FAQ cover':>9s} {'ranked':>7s}  {'department':20s} topic")
    for cluster in report["clusters"]:
        click.echo(
            f"{cluster['rank']:3d} {cluster['size']:7d} {cluster['faq_coverage']:9.2f} "
            f"{cluster['ranking_score']:7.1f}  {str(cluster['department'])[:20]:20s} {', '.join(cluster['terms'])}"
            + (f" (nearest to #{cluster['beside_rank']})" if cluster["beside_rank"] else "")
        )
        for example in cluster["examples"]:
            click.echo(f"{'':31s}- {example['text'][:100]}")
        if closest := cluster["best_faq"]:
            elsewhere = ", which answers another topic better" if closest["answers_another_topic_better"] else ""
            click.echo(
                f"{'':31s}  closest FAQ #{closest['id']}: {closest['question'][:80]} "
                f"(similarity {cluster['faq_similarity']:.2f}{elsewhere})"
            )


@insights.command("drivers")
@data_dir_option
@_period_options(90)
@click.option("--target", type=click.Choice(["csat", "ces", "nps"]), default="csat", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
def insights_drivers(data_dir: Path | None, start: str | None, end: str | None, target: str, as_json: bool) -> None:
    """What drives satisfaction: each service fact's effect on the score, with its 95% CI, ranked by impact."""
    from assistant.db import session_scope
    from assistant.errors import InvalidInput
    from assistant.insights.drivers import drivers_report

    period = _period(start, end, 90)
    with session_scope(_database(data_dir)) as session:
        try:
            report = drivers_report(session, start=period[0], end=period[1], target=target)
        except InvalidInput as exc:
            raise click.ClickException(exc.message) from exc
    if as_json:
        click.echo(json.dumps(report, default=str, indent=2))
        return
    click.echo(
        f"{report['responses_used']} of {report['responses']} {target.upper()} responses, mean "
        f"{report['mean_score']:.2f}, R² {report['r_squared']:.2f} ({report['method']})"
    )
    for driver in report["drivers"]:
        click.echo(f"{driver['rank']:3d}. {driver['summary']}")


@insights.command("deflection")
@data_dir_option
@_period_options(30)
@click.option("--group-by", type=click.Choice(["day", "week", "all"]), default="week", show_default=True)
@click.option(
    "--window-hours",
    type=NumberRange(0, 24 * 90, min_open=True, what="a number of hours"),
    default=None,
    help="Overrides ASSISTANT_DEFLECTION_WINDOW_HOURS.",
)
def insights_deflection(
    data_dir: Path | None, start: str | None, end: str | None, group_by: str, window_hours: float | None
) -> None:
    """Deflection rate over time: portal searches not followed by a ticket from the same customer."""
    from assistant.db import session_scope
    from assistant.errors import InvalidInput
    from assistant.insights.deflection import deflection_report

    settings = _settings(data_dir)
    period = _period(start, end, 30)
    with session_scope(_database(settings=settings)) as session:
        try:
            report = deflection_report(
                session,
                start=period[0],
                end=period[1],
                window_hours=settings.deflection_window_hours if window_hours is None else window_hours,
                group_by=group_by,
            )
        except InvalidInput as exc:
            raise click.ClickException(exc.message) from exc
    click.echo(f"window {report['window_hours']:g} h")
    click.echo(f"{group_by:12s} {'searches':>8s} {'judged':>7s} {'pending':>7s} {'deflected':>9s} {'rate':>6s}")
    for row in [*report["groups"], report["total"]]:
        click.echo(
            f"{row['period']:12s} {row['searches']:8d} {row['judged']:7d} {row['pending']:7d} {row['deflected']:9d} "
            f"{_share(row['deflection_rate']):>6s}"
        )


@main.command("erase-customer")
@data_dir_option
@click.argument("customer_ref")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_customer_command(data_dir: Path | None, customer_ref: str, yes: bool) -> None:
    """Erase everything about one customer reference (tickets, cases, events' text). Irreversible.

    A running service drops the erased cases from its search index within seconds.
    """
    from assistant.customers.service import erase_customer
    from assistant.db import session_scope

    if not yes:
        click.confirm(f"Erase all data of customer {customer_ref!r}? This cannot be undone", abort=True)
    with session_scope(_database(data_dir)) as session:
        report = erase_customer(session, customer_ref)
    click.echo(
        f"erased {report.tickets} tickets and {report.resolved_cases} resolved cases; "
        f"scrubbed {report.events_scrubbed} events"
    )


@main.command("roles")
def roles_command() -> None:
    """Print the role matrix (route × role), read from the routes themselves."""
    from assistant.app import create_app
    from assistant.auth.matrix import matrix_markdown

    click.echo(matrix_markdown(create_app(Settings.from_env())))


@main.group()
def keys() -> None:
    """API keys: create (shown once), list, revoke."""


@keys.command("create")
@data_dir_option
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["admin", "agent", "integration", "portal"]), required=True)
def keys_create(data_dir: Path | None, name: str, role: str) -> None:
    from assistant.auth.service import create_api_key
    from assistant.db import session_scope
    from assistant.errors import InvalidInput

    with session_scope(_database(data_dir)) as session:
        try:
            row, key = create_api_key(session, name=name, role=role)
        except InvalidInput as exc:
            raise click.BadParameter(exc.message, param_hint="--name") from exc
    click.echo(f"key {row.id} ({role}); shown only now, store it safely:\n{key}")


@keys.command("list")
@data_dir_option
def keys_list(data_dir: Path | None) -> None:
    from assistant.auth.service import list_api_keys
    from assistant.db import session_scope

    with session_scope(_database(data_dir)) as session:
        for row in list_api_keys(session):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            click.echo(f"{row.id:4d}  {row.prefix}…  {row.role:12s} {row.name:20s} {state}")


@keys.command("revoke")
@data_dir_option
@click.argument("key_id", type=click.IntRange(1, 2**63 - 1))
def keys_revoke(data_dir: Path | None, key_id: int) -> None:
    from assistant.auth.service import revoke_api_key
    from assistant.db import session_scope
    from assistant.errors import NotFound

    with session_scope(_database(data_dir)) as session:
        try:
            revoke_api_key(session, key_id=key_id)
        except NotFound as exc:
            raise click.ClickException(exc.message) from exc
    click.echo(f"key {key_id} revoked")


if __name__ == "__main__":
    sys.exit(main())
