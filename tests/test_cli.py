"""The console script: train, evaluate and keys, on real files and the real model."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select

from assistant.cli import main
from assistant.demo import DEMO_TAXONOMY, DEMO_TICKETS
from classifiers import TicketClassifier


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(data_dir))
    return data_dir


def test_train_then_evaluate_from_csv(env: Path) -> None:
    runner = CliRunner()
    trained = runner.invoke(
        main,
        [
            "train",
            "--data",
            str(DEMO_TICKETS),
            "--text-column",
            "text",
            "--label-column",
            "intent",
            "--taxonomy",
            str(DEMO_TAXONOMY),
            "--holdout",
            "0.2",
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert "department accuracy" in trained.output and "39 labels, 8 departments" in trained.output
    classifier = TicketClassifier.load(env / "classifier")
    assert classifier.meta["metrics"]["holdout"] == 0.2
    assert classifier.meta["metrics"]["accuracy"] > 0.5

    evaluated = runner.invoke(
        main, ["evaluate", "--data", str(DEMO_TICKETS), "--text-column", "text", "--label-column", "intent"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert "macro F1" in evaluated.output and "cancel_order" in evaluated.output


def test_train_with_department_column(env: Path, tmp_path: Path) -> None:
    from classifiers import load_taxonomy

    taxonomy = load_taxonomy(DEMO_TAXONOMY)
    csv_path = tmp_path / "with_departments.csv"
    with open(DEMO_TICKETS) as source, open(csv_path, "w", newline="") as target:
        writer = csv.writer(target)
        writer.writerow(["message", "intent", "team"])
        for row in csv.DictReader(source):
            writer.writerow([row["text"], row["intent"], taxonomy[row["intent"]]])
    result = CliRunner().invoke(
        main,
        [
            "train",
            "--data",
            str(csv_path),
            "--text-column",
            "message",
            "--label-column",
            "intent",
            "--department-column",
            "team",
            "--holdout",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    assert TicketClassifier.load(env / "classifier").taxonomy == taxonomy


def test_train_reports_bad_input(env: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    assert "give --data CSV" in runner.invoke(main, ["train"]).output
    wrong = runner.invoke(main, ["train", "--data", str(DEMO_TICKETS), "--label-column", "nope"])
    assert wrong.exit_code != 0 and "no column 'nope'" in wrong.output
    missing = runner.invoke(main, ["evaluate", "--data", str(DEMO_TICKETS), "--label-column", "intent"])
    assert missing.exit_code != 0 and "run `assistant train` first" in missing.output


def test_keys_create_list_revoke(env: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(main, ["keys", "create", "--name", "zendesk", "--role", "integration"])
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    assert key.startswith("sda_")
    listed = runner.invoke(main, ["keys", "list"])
    assert "zendesk" in listed.output and "active" in listed.output and key not in listed.output
    assert runner.invoke(main, ["keys", "revoke", "1"]).exit_code == 0
    assert "revoked" in runner.invoke(main, ["keys", "list"]).output
    assert runner.invoke(main, ["keys", "revoke", "99"]).exit_code != 0


def test_train_from_db_adds_agents_corrections(env: Path) -> None:
    from assistant.db import make_engine, migrate, session_scope
    from assistant.schedules.service import ScheduleBook
    from assistant.settings import Settings
    from assistant.tickets.models import RerouteCreate, Ticket
    from assistant.tickets.service import reroute_ticket
    from classifiers import load_taxonomy

    engine = make_engine(Settings.from_env().resolved_database_url)
    migrate(engine)
    with session_scope(engine) as session:
        ticket = Ticket(source="zd", external_id="1", subject="Gift wrap", body="Can you gift wrap my order?")
        session.add(ticket)
        session.commit()
        reroute_ticket(
            session,
            ticket_id=ticket.id,
            correction=RerouteCreate(department="orders", intent="change_order", agent_id="a1"),
            intents=load_taxonomy(DEMO_TAXONOMY),
            schedules=ScheduleBook(engine),
        )
    engine.dispose()
    result = CliRunner().invoke(
        main,
        [
            "train",
            "--from-db",
            "--data",
            str(DEMO_TICKETS),
            "--text-column",
            "text",
            "--label-column",
            "intent",
            "--taxonomy",
            str(DEMO_TAXONOMY),
            "--holdout",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 corrected tickets from the database" in result.output
    with open(DEMO_TICKETS, newline="") as source:
        csv_rows = sum(1 for _ in csv.DictReader(source))
    assert TicketClassifier.load(env / "classifier").meta["training_rows"] == csv_rows + 1


def test_import_faq_in_stackfaq_shape_and_csv(env: Path, tmp_path: Path) -> None:
    from assistant.db import make_engine, session_scope
    from assistant.faq.models import FaqEntry
    from assistant.indexing.models import IndexChange
    from assistant.settings import Settings
    from tests.support import shared_data

    stackfaq = shared_data("stackfaq", "faq_entries.json")
    runner = CliRunner()
    imported = runner.invoke(main, ["import-faq", str(stackfaq)])
    assert imported.exit_code == 0, imported.output
    assert "125 created" in imported.output and "125/125" in imported.output  # the progress bar's last state
    again = runner.invoke(main, ["import-faq", str(stackfaq)])
    assert "0 created, 0 updated, 125 unchanged" in again.output

    csv_path = tmp_path / "faq.csv"
    csv_path.write_text(
        "question,answer,tags,published,language\n"
        'How do I return an item?,"Print the label from your account, then drop it off.",returns;labels,true,en\n'
        "Draft: holiday returns,Not yet decided.,,false,\n"
    )
    assert runner.invoke(main, ["import-faq", str(csv_path)]).exit_code == 0
    engine = make_engine(Settings.from_env().resolved_database_url)
    with session_scope(engine) as session:
        rows = session.exec(select(FaqEntry)).all()
        assert len(rows) == 127 and all(row.embedding and row.embedding_model for row in rows)
        draft = next(row for row in rows if row.question.startswith("Draft"))
        assert draft.published is False and draft.language is not None
        assert len(session.exec(select(IndexChange)).all()) == 127

    broken = tmp_path / "broken.json"
    broken.write_text('[{"question": "no answer"}]')
    failed = runner.invoke(main, ["import-faq", str(broken)])
    assert failed.exit_code != 0 and "entry 1 is not a valid FAQ entry" in failed.output


def test_import_cases_masks_pii(env: Path, tmp_path: Path) -> None:
    from assistant.cases.models import ResolvedCase
    from assistant.db import make_engine, session_scope
    from assistant.settings import Settings

    path = tmp_path / "cases.jsonl"
    path.write_text(
        '{"text": "Card 4111 1111 1111 1111 charged twice, mail me at a.b@example.com", '
        '"resolution": "Voided the duplicate.", "actions": ["void-duplicate-charge"], "intent": "double_charged", '
        '"first_contact": true, "external_id": "c-1"}\n'
        '{"text": "Parcel late", "resolution": "Chased carrier.", "actions": "check-tracking;contact-carrier"}\n'
    )
    runner = CliRunner()
    result = runner.invoke(main, ["import-cases", str(path)])
    assert result.exit_code == 0, result.output
    engine = make_engine(Settings.from_env().resolved_database_url)
    with session_scope(engine) as session:
        rows = {row.external_id: row for row in session.exec(select(ResolvedCase)).all()}
    assert "4111" not in rows["c-1"].summary and "a.b@example.com" not in rows["c-1"].summary
    assert rows["c-1"].first_contact is True and rows[None].actions == ["check-tracking", "contact-carrier"]
    # The same history again, the case without an id among it: no copies.
    again = runner.invoke(main, ["import-cases", str(path)])
    assert again.exit_code == 0 and "0 created, 2 updated" in again.output, again.output
    with session_scope(engine) as session:
        assert len(session.exec(select(ResolvedCase)).all()) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("text,resolution,actions\nhello,world,Not An Action\n")
    failed = runner.invoke(main, ["import-cases", str(bad)])
    assert failed.exit_code != 0 and "case 1 is not a valid resolved case" in failed.output


EVENT_HEADER = "source,event_id,ticket_id,kind,occurred_at,actor_type,text\n"


def event_line(n: int, ticket: str = "tq", text: str = "hello") -> str:
    return f"fz,q{n},{ticket},customer_reply,2026-11-16T09:0{n}:00Z,customer,{text}\n"


def stored_events(env: Path) -> int:
    from sqlalchemy import func

    from assistant.db import make_engine, session_scope
    from assistant.events.models import InteractionEvent

    engine = make_engine(f"sqlite:///{env / 'assistant.db'}")
    with session_scope(engine) as session:
        count = session.exec(select(func.count()).select_from(InteractionEvent)).one()
    engine.dispose()
    return int(count)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        # A quote left open would take every later line into one cell: the second event would be lost in the first.
        ("open_quote.csv", EVENT_HEADER + event_line(1, text='"unbalanced') + event_line(2), "not valid CSV"),
        ("ragged.csv", EVENT_HEADER + event_line(1).rstrip("\n") + ",extra\n", "more cells than the header"),
        ("twice.csv", EVENT_HEADER.replace("text", "kind") + event_line(1), "appear twice"),
        ("latin.csv", (EVENT_HEADER + event_line(1, text="café")).encode("latin-1"), "is not UTF-8 text"),
        ("deep.jsonl", "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply"),
        ("huge.csv", EVENT_HEADER + event_line(1, text="x" * 200_000), "not valid CSV"),
    ],
)
def test_an_unreadable_events_file_is_one_line_and_stores_nothing(
    env: Path, tmp_path: Path, name: str, content: str | bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = CliRunner().invoke(main, ["import-events", str(path)])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert stored_events(env) == 0


def test_a_bad_line_after_committed_batches_says_what_was_stored_and_times_it(env: Path, tmp_path: Path) -> None:
    path = tmp_path / "partial.jsonl"
    good = [
        json.dumps(
            {
                "source": "fz",
                "event_id": f"p{n}",
                "ticket_id": "tp1",
                "kind": kind,
                "occurred_at": f"2026-11-16T1{n}:00:00Z",
            }
        )
        for n, kind in enumerate(["ticket_created", "agent_reply", "solved"])
    ]
    path.write_text("\n".join([*good, "{oops"]) + "\n")
    runner = CliRunner()
    result = runner.invoke(main, ["import-events", str(path), "--batch", "2"])
    assert result.exit_code == 1 and "line 4 is not valid JSON" in result.output, result.output
    assert "The batches before the one holding it were committed: 2 events, 2 of them new" in result.output
    table = runner.invoke(main, ["kpis", "--from", "2026-11-16", "--to", "2026-11-17", "--group-by", "all"])
    assert table.exit_code == 0 and "\nall " in table.output and " 1 " in table.output, table.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["kpis", "--from", "0001-01-01T00:00+01:00"], "between 1970 and 2200"),
        (["kpis", "--to", "0001-01-02"], "between 1970 and 2200"),
        (["insights", "deflection", "--window-hours", "nan"], "number of hours"),
        (["insights", "deflection", "--window-hours", "0"], "--window-hours"),
        (["insights", "gaps", "--top", "0"], "--top"),
        (["keys", "revoke", "99999999999999999999999"], "KEY_ID"),
        (["train", "--holdout", "-0.5", "--data", str(DEMO_TICKETS)], "--holdout"),
        (["train", "--holdout", "nan", "--data", str(DEMO_TICKETS)], "--holdout"),
        (["import-events", "--batch", "0", str(DEMO_TICKETS)], "--batch"),
        (["keys", "create", "--name", "  ", "--role", "agent"], "needs a name"),
        (["keys", "create", "--name", "a\x00b", "--role", "agent"], "may not contain NUL"),
        # An argument in no UTF-8 at all reaches Python as lone surrogates; SQLite then refused it with a traceback.
        (["keys", "create", "--name", "a\udcff", "--role", "agent"], "lone surrogate"),
    ],
)
def test_out_of_range_options_are_refused_in_one_line(env: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert isinstance(result.exception, SystemExit), result.exception


def test_bad_training_files_are_refused_in_one_line(env: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    folder = runner.invoke(main, ["train", "--data", str(tmp_path)])
    assert folder.exit_code == 2 and "is a directory" in folder.output, folder.output
    blank = tmp_path / "blank.csv"
    blank.write_text("text,intent,team\nmy card is lost,lost_card,\ni was charged twice,double_charge,billing\n")
    result = runner.invoke(
        main, ["train", "--data", str(blank), "--label-column", "intent", "--department-column", "team"]
    )
    assert result.exit_code == 1 and "has a row with no 'team'" in result.output, result.output
    taxonomy = tmp_path / "taxonomy.json"
    taxonomy.write_text('{"departments": {"cards": [{"x": 1}]}}')
    shaped = runner.invoke(
        main, ["train", "--data", str(DEMO_TICKETS), "--label-column", "intent", "--taxonomy", str(taxonomy)]
    )
    assert shaped.exit_code == 1 and "must list its intents as names" in shaped.output, shaped.output


def test_case_actions_that_are_not_names_are_refused(env: Path, tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text('{"text": "Card lost", "resolution": "Blocked it.", "actions": [{"a": 1}]}\n')
    result = CliRunner().invoke(main, ["import-cases", str(path)])
    assert result.exit_code == 1 and "case 1 is not a valid resolved case" in result.output, result.output


@pytest.mark.parametrize(
    ("command", "name", "content", "message"),
    [
        (
            "import-faq",
            "faq.csv",
            "question,answer,published\nHow?,Like so.,maybe\n",
            "entry 1 is not a valid FAQ entry",
        ),
        (
            "import-cases",
            "cases.csv",
            "text,resolution,first_contact\nLost,Found.,maybe\n",
            "case 1 is not a valid resolved case",
        ),
        (
            "import-cases",
            "cases.jsonl",
            '{"text": "Lost", "resolution": "Found.", "solved_at": "9999-12-31T23:59:59+00:00"}\n',
            "solved_at must lie between 1970 and tomorrow",
        ),
        (
            "import-cases",
            "cases.jsonl",
            '{"text": "Lost", "resolution": "Found.", "solved_at": "2026-11-16T09:00:00"}\n',
            "solved_at needs a time zone",
        ),
    ],
)
def test_knowledge_imports_refuse_values_they_would_have_guessed(
    env: Path, tmp_path: Path, command: str, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    result = CliRunner().invoke(main, [command, str(path)])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output, result.output


def test_spreadsheet_exports_import_as_they_are(env: Path, tmp_path: Path) -> None:
    """Columns without a name and empty cells past the last column, as spreadsheets export them; a blank yes/no cell
    is the default. A quote left open is named by the line its row starts on."""
    cases = tmp_path / "cases.csv"
    cases.write_text("text,resolution,first_contact,,\nCard lost,Blocked it.,,,\nParcel late,Chased it.,yes,\n")
    imported = CliRunner().invoke(main, ["import-cases", str(cases)])
    assert imported.exit_code == 0 and "2 created" in imported.output, imported.output
    headless = tmp_path / "faq.csv"
    headless.write_text("q,a\n")
    refused = CliRunner().invoke(main, ["import-faq", str(headless)])
    assert refused.exit_code == 1 and "lacks the column(s) answer, question" in refused.output, refused.output
    opened = tmp_path / "open.csv"
    opened.write_text(EVENT_HEADER + event_line(1) + event_line(2) + event_line(3, text='"never closed'))
    result = CliRunner().invoke(main, ["import-events", str(opened)])
    assert "the row starting at line 4" in result.output, result.output


def test_an_faq_file_without_ids_imported_again_adds_nothing(env: Path, tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    rows = "question,answer\nHow do I return an item?,Print the label.\nWhere is my parcel?,Track it in your account.\n"
    path.write_text(rows)
    runner = CliRunner()
    assert "2 created" in runner.invoke(main, ["import-faq", str(path)]).output
    assert "0 created, 0 updated, 2 unchanged" in runner.invoke(main, ["import-faq", str(path)]).output
    path.write_text(rows.replace("Print the label.", "Print the label; then drop the parcel off."))
    assert "0 created, 1 updated, 1 unchanged" in runner.invoke(main, ["import-faq", str(path)]).output


@pytest.mark.parametrize("command", [["kpis"], ["train", "--data", str(DEMO_TICKETS)], ["serve", "--port", "18999"]])
def test_a_data_directory_that_is_a_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    occupied = tmp_path / "data"
    occupied.write_text("not a directory")
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(occupied))
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1 and result.exception is not None and isinstance(result.exception, SystemExit)
    assert f"data directory (ASSISTANT_DATA_DIR, --data-dir) {occupied} is a file, not a directory" in result.output

    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(occupied / "inner"))
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1
    assert f"cannot be made: {occupied} is a file, not a directory" in result.output


def test_a_data_directory_the_system_cannot_look_up_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asking whether a path exists can fail itself (a name too long here; a parent this user may not search)."""
    unreachable = tmp_path / ("a" * 300) / "data"
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(unreachable))
    result = CliRunner().invoke(main, ["kpis"])
    assert result.exit_code == 1 and result.output.rstrip().endswith("cannot be reached: File name too long")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to any directory, so none is unwritable for it")
def test_an_unwritable_data_directory_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    for data_dir, message in [(locked, "is not writable by this user"), (locked / "data", f"{locked} is not writable")]:
        monkeypatch.setenv("ASSISTANT_DATA_DIR", str(data_dir))
        result = CliRunner().invoke(main, ["kpis"])
        assert result.exit_code == 1 and message in result.output


@pytest.mark.parametrize(
    ("command", "name", "content"),
    [
        ("import-faq", "faq.json", '[{"question": "Café hours?", "answer": "Nine to five."}]'),
        ("import-cases", "cases.json", '[{"text": "Café order lost", "resolution": "Resent it."}]'),
        ("import-cases", "cases.jsonl", '{"text": "Café order lost", "resolution": "Resent it."}\n'),
        ("import-cases", "cases.csv", "text,resolution\nCafé order lost,Resent it.\n"),
    ],
)
def test_a_knowledge_file_that_is_not_utf8_is_one_line(
    env: Path, tmp_path: Path, command: str, name: str, content: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content.encode("latin-1"))
    result = CliRunner().invoke(main, [command, str(path)])
    assert result.exit_code == 1, result.output
    assert result.output.strip() == f'Error: {name} is not UTF-8 text; save it as UTF-8 (a spreadsheet\'s "CSV UTF-8").'
