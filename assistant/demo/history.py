"""A seeded, realistic support-desk event history: the demo's KPI data, and the KPI scale benchmark's.

Every ticket follows the same life as in a real help desk: created (by the customer, or by an agent who logged a
call), an auto reply on e-mail, internal notes, rounds of agent and customer replies, sometimes a transfer to
another department, solved, sometimes reopened and solved again, and closed some days later. Agents answer only
in staffed hours, so replies to tickets written at night or at the weekend wait for the next shift, as they do.
Everything after the end of the period is cut off, as in an export taken then: the newest tickets are still open
or unanswered.

The tickets are drawn column-wise with numpy (one array per step of the life, across all tickets) and the events
are written as JSON lines in time order across tickets, the way a ticketing system exports them.

    .venv/bin/python -m assistant.demo.history out.jsonl [--tickets 100000] [--seed 7]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from assistant.events.models import ActorType, EventKind

SOURCE = "bench-desk"
# 26 whole weeks from a Monday, in the past, so every KPI "as of" is the end of the period.
PERIOD_START = datetime(2026, 5, 18, tzinfo=UTC)
PERIOD_DAYS = 182
# Berlin public holidays in the period (Whit Monday, Corpus Christi): fewer tickets, nobody staffed.
HOLIDAYS = (date(2026, 5, 25), date(2026, 6, 4))

DEPARTMENTS = {
    "billing_payments": 0.20,
    "shipping_delivery": 0.18,
    "returns_refunds": 0.14,
    "technical_support": 0.14,
    "account_access": 0.12,
    "orders": 0.12,
    "subscriptions": 0.10,
}
# Technical questions take longer to answer than "where is my parcel".
DEPARTMENT_SLOWNESS = {
    "billing_payments": 1.0,
    "shipping_delivery": 0.8,
    "returns_refunds": 1.1,
    "technical_support": 1.6,
    "account_access": 0.9,
    "orders": 0.8,
    "subscriptions": 1.0,
}
CHANNELS = {"email": 0.42, "chat": 0.28, "phone": 0.15, "web": 0.15}
AGENTS = 40
CUSTOMERS = 70_000

# Weekday (Mon … Sun) and UTC hour-of-day shares of new tickets: a Monday peak, quiet weekends and nights.
WEEKDAY_WEIGHT = np.array([1.35, 1.15, 1.08, 1.03, 0.95, 0.45, 0.38])
HOUR_WEIGHT = np.array(
    [0.15, 0.1, 0.08, 0.08, 0.12, 0.3, 0.7, 1.3, 1.8, 2.0, 1.95, 1.85, 1.6, 1.7, 1.75, 1.6, 1.4, 1.1, 0.9, 0.8,
     0.7, 0.55, 0.4, 0.25]
)  # fmt: skip
# Staffed hours in UTC seconds of the day per weekday (Berlin 08:30–19:00 in summer; a short Saturday shift).
STAFFED = np.array([[6.5, 17.0]] * 5 + [[8.0, 12.0], [0.0, 0.0]]) * 3600

# Agent replies per ticket before it is solved: many one-touch tickets, a long tail of back-and-forth.
REPLIES = np.array([0.37, 0.20, 0.13, 0.09, 0.07, 0.05, 0.035, 0.025, 0.015, 0.01, 0.005])

KIND_CODES = list(EventKind)
ACTOR_CODES = list(ActorType)
# Minutes, as medians of log-normal delays: (first reply, later agent reply, customer reply) per channel.
DELAYS = {
    "email": (180.0, 150.0, 300.0),
    "chat": (1.5, 1.0, 1.5),
    "phone": (2.0, 90.0, 600.0),
    "web": (150.0, 150.0, 300.0),
}


@dataclass
class History:
    """The drawn events, one array per column, in time order; codes index the module's lists."""

    ticket: np.ndarray
    seconds: np.ndarray  # since ``start``
    kind: np.ndarray
    actor_type: np.ndarray
    actor: np.ndarray  # agent number, customer number, or -1 (system)
    department: np.ndarray  # department number, or -1 where the event names none
    channel: np.ndarray  # of the ticket, on every event as exports carry it
    tickets: int
    # Per ticket number; a ticket created after ``end`` has no events.
    ticket_created: np.ndarray  # seconds since ``start``
    ticket_customer: np.ndarray  # customer number
    ticket_channel: np.ndarray
    ticket_department: np.ndarray  # after any transfer: where the ticket belonged
    start: datetime = PERIOD_START
    end: datetime = PERIOD_START + timedelta(days=PERIOD_DAYS)
    departments: list[str] = field(default_factory=lambda: list(DEPARTMENTS))
    channels: list[str] = field(default_factory=lambda: list(CHANNELS))

    def __len__(self) -> int:
        return len(self.seconds)


class _Events:
    """Collects one column-wise batch of events per step of the ticket life."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []
        self.step = 0

    def add(
        self,
        tickets: np.ndarray,
        seconds: np.ndarray,
        kind: EventKind,
        actor_type: ActorType,
        actor: np.ndarray | int,
        department: np.ndarray | int = -1,
    ) -> None:
        n = len(tickets)
        if n == 0:
            return
        self.step += 1
        self.parts.append(
            (
                tickets.astype(np.int32),
                np.ceil(seconds).astype(np.int64),
                np.full(n, KIND_CODES.index(kind), np.int8),
                np.full(n, ACTOR_CODES.index(actor_type), np.int8),
                np.broadcast_to(np.asarray(actor, np.int32), (n,)).copy(),
                np.broadcast_to(np.asarray(department, np.int8), (n,)).copy(),
                np.full(n, self.step, np.int16),
            )
        )


def generate(
    tickets: int = 100_000,
    *,
    seed: int = 7,
    start: datetime = PERIOD_START,
    end: datetime | None = None,
    holidays: tuple[date, ...] = HOLIDAYS,
    departments: dict[str, float] | None = None,
) -> History:
    """``start`` is a midnight (UTC); tickets are created on the whole days from it, events after ``end`` are cut off
    (default: the end of those days). ``departments``: name → share of the tickets."""
    rng = np.random.default_rng(seed)
    shares = departments or DEPARTMENTS
    names = list(shares)
    period_end = end or start + timedelta(days=PERIOD_DAYS)
    days = max(1, math.ceil((period_end - start).total_seconds() / 86_400))
    cut = (period_end - start).total_seconds()
    holiday_days = np.array([(day - start.date()).days for day in holidays if 0 <= (day - start.date()).days < days])

    def lognormal(median_minutes: np.ndarray | float, sigma: float, n: int) -> np.ndarray:
        return np.maximum(np.asarray(median_minutes) * 60.0 * rng.lognormal(0.0, sigma, n), 5.0)

    def staffed(moments: np.ndarray) -> np.ndarray:
        """The moment an agent can act: now if in a shift, else the next shift's start plus a backlog wait."""
        moments = moments.astype(np.float64).copy()
        pending = np.ones(len(moments), bool)
        for _ in range(10):  # a holiday next to a weekend closes at most four days in a row
            if not pending.any():
                break
            index = np.flatnonzero(pending)
            day = np.floor(moments[index] / 86_400)
            in_day = moments[index] - day * 86_400
            weekday = (day.astype(np.int64) + start.weekday()) % 7
            opens, closes = STAFFED[weekday, 0], STAFFED[weekday, 1]
            closed = np.isin(day, holiday_days) | (opens == closes)
            inside = ~closed & (in_day >= opens) & (in_day < closes)
            early = ~closed & (in_day < opens)
            # The night's backlog is worked off through the morning, not all at the first minute.
            backlog = rng.exponential(45 * 60.0, int(early.sum()))
            moments[index[early]] = day[early] * 86_400 + opens[early] + backlog
            later = ~inside & ~early
            moments[index[later]] = (day[later] + 1) * 86_400
            pending[index[inside | early]] = False
        return moments

    # Creation moments: the day by weekday weight (holidays like Sundays), the hour by the daily curve.
    day_weight = WEEKDAY_WEIGHT[(np.arange(days) + start.weekday()) % 7].copy()
    if len(holiday_days):
        day_weight[holiday_days] = WEEKDAY_WEIGHT[6]
    day_weight *= np.linspace(0.9, 1.1, days)  # a business that grows over the half-year
    day = rng.choice(days, tickets, p=day_weight / day_weight.sum())
    hour = rng.choice(24, tickets, p=HOUR_WEIGHT / HOUR_WEIGHT.sum())
    created = np.sort(day * 86_400.0 + hour * 3600.0 + rng.uniform(0, 3600, tickets))
    ids = np.arange(tickets)

    weights = np.array(list(shares.values()), dtype=np.float64)
    department = rng.choice(len(names), tickets, p=weights / weights.sum())
    channel = rng.choice(len(CHANNELS), tickets, p=np.array(list(CHANNELS.values())))
    channel_name = np.array(list(CHANNELS))[channel]
    slowness = np.array([DEPARTMENT_SLOWNESS.get(name, 1.0) for name in names])
    customer = rng.integers(0, CUSTOMERS, tickets)
    # Agents belong to one department each; a ticket is worked by one agent of its department.
    agent_department = np.arange(AGENTS) % len(names)
    pools = [np.flatnonzero(agent_department == d) for d in range(len(names))]

    def agent_of(departments: np.ndarray) -> np.ndarray:
        sizes = np.array([len(pool) for pool in pools])[departments]
        picks = (rng.random(len(departments)) * sizes).astype(np.int64)
        return np.array([pool[0] for pool in pools])[departments] + picks * len(names)

    agent = agent_of(department)

    def delay(which: int, n_index: np.ndarray, sigma: float = 1.1) -> np.ndarray:
        medians = np.array([DELAYS[name][which] for name in CHANNELS])[channel[n_index]]
        return lognormal(medians * slowness[department[n_index]], sigma, len(n_index))

    events = _Events()
    # Logged calls: an agent opens the ticket; the customer's first message comes later and starts the clock.
    agent_made = (channel_name == "phone") & (rng.random(tickets) < 0.15)
    customer_made = ids[~agent_made]
    events.add(customer_made, created[customer_made], EventKind.ticket_created, ActorType.customer,
               customer[customer_made], department[customer_made])  # fmt: skip
    made = ids[agent_made]
    events.add(made, created[made], EventKind.ticket_created, ActorType.agent, agent[made], department[made])
    events.add(made, created[made] + 30, EventKind.internal_note, ActorType.agent, agent[made])
    clock = created.copy()
    clock[made] = created[made] + lognormal(20 * 60.0, 1.0, len(made))
    events.add(made, clock[made], EventKind.customer_reply, ActorType.customer, customer[made])

    email = ids[channel_name == "email"]
    events.add(email, created[email] + rng.uniform(2, 20, len(email)), EventKind.auto_reply, ActorType.system, -1)
    # Customers who add a detail or a screenshot before anyone has answered.
    extra = ids[~agent_made & (rng.random(tickets) < 0.25)]
    events.add(extra, created[extra] + lognormal(12.0, 1.2, len(extra)), EventKind.customer_reply,
               ActorType.customer, customer[extra])  # fmt: skip

    # Misrouted tickets go to another department, whose agent then answers.
    moved = ids[rng.random(tickets) < 0.05]
    moved_at = staffed(clock[moved] + lognormal(40.0, 1.0, len(moved)))
    target = (department[moved] + rng.integers(1, len(names), len(moved))) % len(names)
    events.add(moved, moved_at, EventKind.transferred, ActorType.agent, agent[moved], target)
    department[moved], agent[moved], clock[moved] = target, agent_of(target), moved_at

    # Spam and duplicates: solved without a word to the customer.
    silent = rng.random(tickets) < 0.01
    quiet = ids[silent]
    solved_at = np.full(tickets, np.nan)
    solved_at[quiet] = staffed(clock[quiet] + lognormal(60.0, 1.0, len(quiet)))

    replies = rng.choice(len(REPLIES), tickets, p=REPLIES / REPLIES.sum()) + 1
    replies[silent] = 0
    last = clock.copy()
    for round_ in range(1, len(REPLIES) + 1):
        active = ids[replies >= round_]
        if round_ > 1:
            asked = last[active] + delay(2, active, 1.2)
            events.add(active, asked, EventKind.customer_reply, ActorType.customer, customer[active])
            last[active] = staffed(asked + delay(1, active))
        else:
            last[active] = staffed(last[active] + delay(0, active, 1.3))
        # A colleague sometimes covers a reply (days off, shifts); the ticket's agent writes most of them.
        writer = np.where(rng.random(len(active)) < 0.85, agent[active], agent_of(department[active]))
        events.add(active, last[active], EventKind.agent_reply, ActorType.agent, writer)
    answered = ids[replies > 0]
    # Solved with the last reply ("submit as solved") or after waiting a while on the customer.
    waits = np.where(rng.random(len(answered)) < 0.6, rng.uniform(1, 30, len(answered)),
                     lognormal(18 * 60.0, 1.0, len(answered)))  # fmt: skip
    solved_at[answered] = last[answered] + waits
    events.add(ids, solved_at, EventKind.solved, ActorType.agent, agent)

    notes = rng.poisson(1.25, tickets)
    for number in range(1, int(notes.max()) + 1):
        noted = ids[notes >= number]
        span = np.maximum(solved_at[noted] - created[noted], 60.0)
        at = staffed(created[noted] + rng.uniform(0.05, 0.95, len(noted)) * span)
        events.add(noted, at, EventKind.internal_note, ActorType.agent, agent_of(department[noted]))

    # Reopened: the customer writes back that it is not fixed; one more reply and solved again.
    reopened = ids[rng.random(tickets) < 0.08]
    back = solved_at[reopened] + lognormal(30 * 60.0, 1.0, len(reopened))
    events.add(reopened, back, EventKind.customer_reply, ActorType.customer, customer[reopened])
    events.add(reopened, back + 1, EventKind.reopened, ActorType.system, -1)
    fixed = staffed(back + 1 + delay(1, reopened))
    events.add(reopened, fixed, EventKind.agent_reply, ActorType.agent, agent[reopened])
    solved_at[reopened] = fixed + rng.uniform(1, 60, len(reopened))
    events.add(reopened, solved_at[reopened], EventKind.solved, ActorType.agent, agent[reopened])

    # A thank-you after the solution, then the desk closes the ticket automatically three to five days on.
    closed_at = solved_at + rng.uniform(3, 5, tickets) * 86_400
    thanked = ids[rng.random(tickets) < 0.25]
    thanks = np.minimum(solved_at[thanked] + lognormal(120.0, 1.2, len(thanked)), closed_at[thanked] - 60)
    events.add(thanked, thanks, EventKind.customer_reply, ActorType.customer, customer[thanked])
    events.add(ids, closed_at, EventKind.closed, ActorType.system, -1)

    columns = [np.concatenate(parts) for parts in zip(*events.parts, strict=True)]
    ticket, seconds, kind, actor_type, actor, dept, step = columns
    # Only what had happened when the export was taken.
    keep = seconds < cut
    ticket, seconds, kind, actor_type, actor, dept, step = (c[keep] for c in columns)
    order = np.lexsort((step, ticket, seconds))
    ticket = ticket[order]
    return History(
        ticket=ticket,
        seconds=seconds[order],
        kind=kind[order],
        actor_type=actor_type[order],
        actor=actor[order],
        department=dept[order],
        channel=channel[ticket].astype(np.int8),
        tickets=tickets,
        ticket_created=created,
        ticket_customer=customer,
        ticket_channel=channel.astype(np.int8),
        ticket_department=department,
        start=start,
        end=period_end,
        departments=names,
    )


def ticket_name(number: int) -> str:
    return f"T{number:07d}"


def customer_name(number: int) -> str:
    return f"cust-{number:05d}"


def event_fields(history: History) -> Iterator[tuple[str, str, str, str, str, str | None, str, str | None]]:
    """Per event, in time order: event id, ticket id, kind, ISO time, actor type, actor id, channel, department."""
    origin = np.datetime64(history.start.astimezone(UTC).replace(tzinfo=None), "s")
    stamps = np.datetime_as_string(origin + history.seconds.astype("timedelta64[s]"), unit="s")
    kinds = [kind.value for kind in KIND_CODES]
    actor_types = [actor.value for actor in ACTOR_CODES]
    departments, channels = history.departments, history.channels
    agent_type, customer_type = ACTOR_CODES.index(ActorType.agent), ACTOR_CODES.index(ActorType.customer)
    for number, (ticket, stamp, kind, actor_type, actor, department, channel) in enumerate(
        zip(
            history.ticket.tolist(),
            stamps.tolist(),
            history.kind.tolist(),
            history.actor_type.tolist(),
            history.actor.tolist(),
            history.department.tolist(),
            history.channel.tolist(),
            strict=True,
        )
    ):
        if actor_type == agent_type:
            actor_id: str | None = f"agent-{actor:02d}"
        elif actor_type == customer_type:
            actor_id = customer_name(actor)
        else:
            actor_id = None
        yield (
            f"ev-{number:08d}",
            ticket_name(ticket),
            kinds[kind],
            f"{stamp}+00:00",
            actor_types[actor_type],
            actor_id,
            channels[channel],
            departments[department] if department >= 0 else None,
        )


def write_jsonl(history: History, path: Path) -> None:
    """One event per line in the format ``assistant import-events`` reads, in time order."""
    with path.open("w", encoding="utf-8") as handle:
        lines = []
        # Every value is a plain identifier, so formatting the JSON directly is exact and several times faster.
        for event_id, ticket_id, kind, stamp, actor_type, actor_id, channel, department in event_fields(history):
            actor = f',"actor_id":"{actor_id}"' if actor_id else ""
            named = f',"department":"{department}"' if department else ""
            lines.append(
                f'{{"source":"{SOURCE}","event_id":"{event_id}","ticket_id":"{ticket_id}","kind":"{kind}",'
                f'"occurred_at":"{stamp}","actor_type":"{actor_type}"{actor},"channel":"{channel}"{named}}}\n'
            )
            if len(lines) == 50_000:
                handle.writelines(lines)
                lines = []
        handle.writelines(lines)


def describe(history: History) -> dict[str, object]:
    counts = np.bincount(history.kind, minlength=len(KIND_CODES))
    agents = np.unique(history.actor[history.actor_type == ACTOR_CODES.index(ActorType.agent)])
    return {
        "tickets": len(np.unique(history.ticket)),
        "events": len(history),
        "per_kind": {kind.value: int(counts[i]) for i, kind in enumerate(KIND_CODES)},
        "agents": len(agents),
        "departments": len(history.departments),
        "period": f"{history.start:%Y-%m-%d} – {history.end:%Y-%m-%d}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    started = time.perf_counter()
    history = generate(args.tickets, seed=args.seed)
    drawn = time.perf_counter()
    write_jsonl(history, args.path)
    print(describe(history))
    print(f"drawn in {drawn - started:.1f} s, written in {time.perf_counter() - drawn:.1f} s")


if __name__ == "__main__":
    main()
