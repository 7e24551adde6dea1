"""Every PostgreSQL statement beside its generic twin (``messaging.services.sql``): each pair
runs here on PostgreSQL on the same data — the generic twin forced with ``sql.forcing`` — and
must return the same and leave the same rows, compared row for row, value for value.

Each run happens in a savepoint rolled back afterwards, so both twins meet identical rows
(the same primary keys); only values a run takes from the clock or a sequence (a new row's id,
``received_at`` stamped on insert) are left out of the comparison, and said so where they are.
"""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone, translation

from messaging.models import (
    Campaign,
    CampaignCodeCount,
    DeliveryReport,
    Message,
    PushRecord,
    Recipient,
    RecipientList,
    SendBatch,
    Template,
)
from messaging.services import campaign_stats, lifecycle, reports, sql, wording
from messaging.services.campaign_commands import CampaignError
from messaging.services.campaigns import refresh_counters
from messaging.services.sql import campaign_start, estimates, locks, rows
from messaging.services.sql import messages as messages_sql
from messaging.services.sql import reports as reports_sql
from messaging.services.sql import stats as stats_sql
from messaging.statuses import Status
from messaging.vendors.base import StatusEvent

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL twins"),
]

MESSAGE_FIELDS = [
    f.attname for f in Message._meta.concrete_fields if f.attname not in ("id", "created_at")
]
COUNTERS = (
    "total_count",
    "pending_count",
    "skipped_count",
    "submitted_count",
    "delivered_count",
    "failed_count",
    "unknown_count",
    "no_report_count",
    "segment_count",
)
TRICKY_TEXT = ["tab\there", "line\nbreak", "back\\slash", 'quote"d', "回T退订 ，", "", "😀\r"]


def both_ways(run, read):
    """``(generic, postgresql)``: what ``run`` returned and what ``read`` found after it, for
    each twin, each run on the same rows in a savepoint rolled back afterwards."""
    results = {}
    for name in (sql.GENERIC, sql.POSTGRESQL):
        savepoint = transaction.savepoint()
        try:
            with sql.forcing(name):
                returned = run()
            results[name] = (returned, read())
        finally:
            transaction.savepoint_rollback(savepoint)
    return results[sql.GENERIC], results[sql.POSTGRESQL]


def message_rows(**where):
    return list(Message.objects.filter(**where).order_by("pk").values_list("pk", *MESSAGE_FIELDS))


def counters(campaign):
    """The campaign's counters and its kept stats (``services.campaign_stats``)."""
    return (
        Campaign.objects.filter(pk=campaign.pk).values_list(*COUNTERS).get(),
        campaign_stats.kept(campaign.pk),
    )


STATUSES = [
    Status.QUEUED,
    Status.SUBMITTING,
    Status.UNKNOWN,
    Status.SUBMITTED,
    Status.DELIVERED,
    Status.NO_REPORT,
    Status.FAILED,
]


@pytest.fixture
def campaign(vendor_account, administrator):
    """A campaign whose messages stand in every status a statement may meet, in one batch."""
    template = Template.objects.create(name="t", body="x", created_by=administrator)
    recipients = RecipientList.objects.create(name="l")
    campaign = Campaign.objects.create(
        name="twins",
        template=template,
        vendor_account=vendor_account,
        recipient_list=recipients,
    )
    batch = SendBatch.objects.create(campaign=campaign, number=1, size=len(STATUSES) * 3)
    submitted_at = timezone.now() - timedelta(minutes=10)
    Message.objects.bulk_create(
        Message(
            campaign=campaign,
            send_batch=batch,
            vendor_account=vendor_account,
            phone=f"1380000{i:04d}",
            content=f"x{i}",
            segments=1 + i % 2,
            variables=[f"v{i}", "张三"],
            custom_id=f"c{i}",
            vendor_message_id=f"known{i}"
            if status not in (Status.QUEUED, Status.SUBMITTING)
            else "",
            status=status,
            error=f"HTTP 50{i % 2}" if status == Status.UNKNOWN else "",
            submitted_at=None if status == Status.QUEUED else submitted_at,
        )
        for i, status in enumerate(STATUSES * 3)
    )
    refresh_counters([campaign.pk])
    return campaign


# --------------------------------------------------------------------------- sql.messages


def test_take_off(campaign):
    batch = campaign.batches.get()
    pks = list(Message.objects.filter(campaign=campaign).values_list("pk", flat=True))
    now = timezone.now()
    generic, postgresql = both_ways(
        lambda: sorted(messages_sql.take_off(batch.pk, pks, now)),
        lambda: message_rows(campaign=campaign),
    )
    assert generic == postgresql
    assert len(generic[0]) == 3 and generic[0][0][4] == ["v0", "张三"]


def test_record_submitted(campaign):
    pks = list(
        Message.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True)
    )
    answers = [(pk, f"v{n}", "b1") for n, pk in enumerate(pks)]
    generic, postgresql = both_ways(
        # Through the lifecycle, which counts the moves the twin reports.
        lambda: sorted(lifecycle.record_submitted(answers)),
        lambda: (message_rows(campaign=campaign), counters(campaign)),
    )
    assert generic == postgresql
    assert {old for _, old, _ in generic[0]} == {Status.SUBMITTING, Status.UNKNOWN}
    # The twins themselves: the moves, with the error of each message that was unknown.
    generic, postgresql = both_ways(
        lambda: sorted(messages_sql.record_submitted(answers)), lambda: None
    )
    assert generic == postgresql
    assert {move[5] for move in generic[0]} == {"", "HTTP 500", "HTTP 501"}


def test_save_report_moves(campaign):
    now = timezone.now()

    def targets():
        found = []
        rows_ = Message.objects.filter(campaign=campaign).order_by("pk")
        for n, (pk, status) in enumerate(rows_.values_list("pk", "status")):
            new = [Status.DELIVERED, Status.UNDELIVERED, Status.SUBMITTED][n % 3]
            found.append(
                reports._Target(
                    pk=pk,
                    vendor_message_id=f"r{n}",
                    custom_id="",
                    phone="",
                    status=new,
                    campaign_id=campaign.pk,
                    segments=1,
                    old_status=status,
                    code="DELIVRD" if new == Status.DELIVERED else "X",
                    description=TRICKY_TEXT[n % len(TRICKY_TEXT)],
                    final_at=now if new != Status.SUBMITTED else None,
                )
            )
        return found

    generic, postgresql = both_ways(
        lambda: messages_sql.save_report_moves(targets()),
        lambda: message_rows(campaign=campaign),
    )
    assert generic == postgresql
    # Forward only, both ways; a message keeps the vendor id it has, and learns one if not.
    _, moved = generic
    assert {row[9] for row in moved} == {f"known{i}" for i in range(21) if i % 7 > 1} | {
        f"r{i}" for i in range(21) if i % 7 < 2
    }
    assert Message.objects.filter(campaign=campaign, vendor_message_id="known4").exists()


def report_rows(account):
    """Stored reports; ``received_at`` is the clock's and left out, ``matched_at`` is said
    only as set or not (the fast path and the general path each read the clock)."""
    return [
        (*row[:-1], row[-1] is not None)
        for row in DeliveryReport.objects.filter(vendor_account=account)
        .order_by("vendor_message_id", "custom_id", "phone", "part_index", "status", "raw")
        .values_list(
            "source",
            "vendor_message_id",
            "custom_id",
            "phone",
            "status",
            "vendor_code",
            "description",
            "done_at",
            "part_index",
            "part_count",
            "raw",
            "message_id",
            "matched_at",
        )
    ]


def test_deliver_submitted_the_report_fast_path(campaign):
    """The fast path (PostgreSQL) and the general path alone (generic) apply a push alike."""
    account = campaign.vendor_account
    done = timezone.now().replace(microsecond=0) - timedelta(minutes=1)

    def event(vendor_id, status, code="", **fields):
        fields.setdefault("done_at", done)
        return StatusEvent(vendor_id, status, code, "成功\t", "Delivered", raw=vendor_id, **fields)

    events = [
        event("known3", Status.DELIVERED, "DELIVRD"),  # submitted → delivered: the fast path
        event("known3", Status.DELIVERED, "DELIVRD"),  # its duplicate
        event("known10", Status.UNDELIVERED, "MK:1"),  # submitted → undelivered
        event("known10", Status.DELIVERED, "DELIVRD"),  # a later, better report
        event("known4", Status.UNDELIVERED, "late"),  # delivered stays delivered
        event("known2", Status.DELIVERED, "DELIVRD"),  # unknown → delivered (general path)
        event("known17", Status.DELIVERED, "DELIVRD", part_index=1, part_count=2),  # a part
        event("known17", Status.DELIVERED, "DELIVRD", part_index=2, part_count=2),
        event("early", Status.DELIVERED, "DELIVRD"),  # no message yet: stored unmatched
        event("", Status.DELIVERED, "DELIVRD", custom_id="c8"),  # by our id
        event("", Status.DELIVERED, "DELIVRD", phone="13800000015"),  # by phone (submitting)
        event("known6", Status.SUBMITTED, "ACK"),  # failed: no move
    ]
    generic, postgresql = both_ways(
        lambda: reports.apply_status_events(account, events, source="push"),
        lambda: (message_rows(campaign=campaign), report_rows(account), counters(campaign)),
    )
    assert generic == postgresql
    assert generic[0].advanced >= 4 and generic[0].matched == len(events) - 1


# --------------------------------------------------------------------------- sql.reports


def test_message_rows_by_vendor_id(campaign):
    """The same messages both ways; the PostgreSQL twin leaves out the last three columns
    (the report moves keep them in SQL whenever the status does not move)."""
    wanted = {f"known{i}" for i in range(21)} | {"", "nothing", 'quo"te', "back\\slash"}
    generic, postgresql = both_ways(
        lambda: sorted(reports_sql.message_rows_by_vendor_id(campaign.vendor_account_id, wanted)),
        lambda: None,
    )
    kept = len(reports_sql.TARGET_COLUMNS) - 3
    assert [row[:kept] for row in generic[0]] == [row[:kept] for row in postgresql[0]]
    assert len(generic[0]) == 15
    assert {row[kept:] for row in postgresql[0]} == {("", "", None)}


def test_insert_reports(campaign):
    account = campaign.vendor_account
    message = Message.objects.filter(campaign=campaign).order_by("pk").first()
    now = timezone.now()
    stored = [
        reports._Report(
            vendor_message_id=f"id{n}",
            custom_id=text[:64],
            phone="13800000001",
            status=[Status.DELIVERED, Status.UNDELIVERED, Status.UNKNOWN][n % 3],
            vendor_code=text[:32],
            description=text,
            done_at=None if n % 2 else now - timedelta(seconds=n),
            raw=f"raw {text}",
            message_id=message.pk if n % 3 == 0 else None,
            part_index=1 + n % 2,
            part_count=2,
        )
        for n, text in enumerate(TRICKY_TEXT * 2)
    ]
    generic, postgresql = both_ways(
        lambda: reports_sql.insert_reports(account.pk, "poll", stored, now),
        lambda: [
            (*row, matched == now)
            for *row, matched in DeliveryReport.objects.order_by("vendor_message_id").values_list(
                *[
                    f.attname
                    for f in DeliveryReport._meta.concrete_fields
                    if f.attname not in ("id", "received_at", "matched_at")
                ],
                "matched_at",
            )
        ],
    )
    assert generic == postgresql
    assert len(generic[1]) == len(stored)


def test_insert_push(vendor_account):
    def run():
        record = PushRecord(
            vendor_account=vendor_account,
            method="POST",
            path="/push/1/token",
            query="a=1&b=回",
            content_type="application/octet-stream",
            body=b"\x00\xff\xfe binary \\x00 " + "退订".encode("gbk") + bytes(range(256)),
            outcome=PushRecord.Outcome.ACCEPTED,
            error="line\nbreak",
            item_count=3,
        )
        reports_sql.insert_push(record)
        return record.pk is not None

    generic, postgresql = both_ways(
        run,
        lambda: [
            (*row[:-1], bytes(row[-1]))
            for row in PushRecord.objects.values_list(
                *[
                    f.attname
                    for f in PushRecord._meta.concrete_fields
                    if f.attname not in ("id", "received_at", "body")
                ],
                "body",
            )
        ],
    )
    assert generic == postgresql
    assert generic[0] is True and len(generic[1]) == 1


# --------------------------------------------------------------------------- sql.rows


def recipient_rows(recipient_list):
    return list(
        Recipient.objects.filter(recipient_list=recipient_list)
        .order_by("phone")
        .values_list("phone", "variables", "source_row")
    )


def test_insert_rows():
    recipients = RecipientList.objects.create(name="rows")
    new = [
        (recipients.pk, f"1390000{n:04d}", json.dumps({"name": text}, ensure_ascii=False), n)
        for n, text in enumerate(TRICKY_TEXT * 3)
    ]
    new.append((recipients.pk, "13911112222", "{}", None))
    generic, postgresql = both_ways(
        lambda: rows.insert_rows(
            Recipient._meta.db_table,
            ("recipient_list_id", "phone", "variables", "source_row"),
            iter(new),
        ),
        lambda: recipient_rows(recipients),
    )
    assert generic == postgresql
    assert generic[0] == len(new) and generic[1][0][1] == {"name": TRICKY_TEXT[0]}


def stage(tmp_path: Path, list_id: int, phones) -> str:
    """A staging file as phase 1 of an import writes it (COPY's text format)."""
    lines = []
    for n, phone in enumerate(phones, start=2):
        variables = json.dumps({"name": TRICKY_TEXT[n % len(TRICKY_TEXT)]}, ensure_ascii=False)
        variables = variables.replace("\\", "\\\\")
        lines.append(f"{list_id}\t{phone}\t{variables}\t{n}\n")
    path = tmp_path / f"stage-{list_id}.tsv"
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("late_duplicate", [False, True])
def test_insert_staged_recipients(tmp_path, late_duplicate):
    """A clean save, and one that meets a phone added to the list after it was checked (the
    PostgreSQL twin falls back to a temporary table; both skip the phone)."""
    recipients = RecipientList.objects.create(name="import")
    phones = [f"1370000{n:04d}" for n in range(23)]
    if late_duplicate:
        Recipient.objects.create(recipient_list=recipients, phone=phones[5], source_row=99)
    path = stage(tmp_path, recipients.pk, phones)
    progress = []
    generic, postgresql = both_ways(
        lambda: rows.insert_staged_recipients(
            recipients.pk,
            path,
            accepted=len(phones),
            stage_name="import_stage_twins",
            chunk_size=10,
            progress=progress.append,
        ),
        lambda: recipient_rows(recipients),
    )
    assert generic == postgresql
    assert generic[0] == len(phones) - late_duplicate
    assert progress  # both heard how far the save went


# --------------------------------------------------------------------------- sql.campaign_start


def test_write_messages_applies_frequency_caps(vendor_account, administrator):
    """The caps as the start applies them (``compliance.CapRule``): a phone sent its day's or
    week's marketing messages by other campaigns is skipped for "frequency cap", the same
    phones both ways; only what the vendor took counts, only within the days counted."""
    from messaging.services.compliance import CapRule

    template = Template.objects.create(
        name="t", body="<name>您好", is_marketing=True, created_by=administrator
    )
    earlier_list = RecipientList.objects.create(name="earlier")
    earlier = Campaign.objects.create(
        name="earlier", template=template, vendor_account=vendor_account,
        recipient_list=earlier_list,
    )  # fmt: skip
    now = timezone.now()
    day_start, week_start = now - timedelta(hours=2), now - timedelta(days=6)
    sent = [
        ("13600000001", Status.DELIVERED, now - timedelta(hours=1)),  # today: capped by day
        ("13600000002", Status.SUBMITTED, now - timedelta(days=2)),  # this week, once
        ("13600000003", Status.SUBMITTED, now - timedelta(days=2)),  # ... three times
        ("13600000003", Status.UNDELIVERED, now - timedelta(days=3)),
        ("13600000003", Status.DELIVERED, now - timedelta(days=4)),
        ("13600000004", Status.FAILED, now - timedelta(hours=1)),  # refused: never sent
        ("13600000005", Status.DELIVERED, now - timedelta(days=9)),  # before the week
    ]
    Message.objects.bulk_create(
        Message(
            campaign=earlier, vendor_account=vendor_account, phone=phone, content="x",
            custom_id=f"h{n}", status=status, submitted_at=at,
        )
        for n, (phone, status, at) in enumerate(sent)
    )  # fmt: skip
    recipients = RecipientList.objects.create(name="now")
    Recipient.objects.bulk_create(
        Recipient(recipient_list=recipients, phone=f"1360000000{n}", variables={"name": "张"})
        for n in range(1, 7)
    )
    campaign = Campaign.objects.create(
        name="now", template=template, vendor_account=vendor_account, recipient_list=recipients
    )
    plan = campaign_start.Plan(
        campaign=campaign,
        account=vendor_account,
        shape="personalised",
        batch_size=4,
        template_values=False,
        suppress=True,
        segment_limits=(70, 67, 160, 153),
        cap=CapRule(
            per_day=1,
            per_week=3,
            day_start=day_start,
            week_start=week_start,
            campaign_ids=(earlier.pk,),
        ),
    )

    def written():
        return list(
            Message.objects.filter(campaign=campaign)
            .order_by("phone")
            .values_list("phone", "status", "error")
        )

    def start():
        with translation.override("en"):
            return campaign_start.write_messages(
                plan, campaign_start.Span(after=0, upto=2**62, size=6), check_all=True
            )[:2]

    generic, postgresql = both_ways(start, written)
    assert generic == postgresql
    assert generic[0] == (4, 2)
    skipped = {
        phone: wording.shown(error, "en")
        for phone, status, error in generic[1]
        if status == Status.SKIPPED
    }
    assert skipped == {"13600000001": "Frequency cap", "13600000003": "Frequency cap"}


def test_write_messages(vendor_account, administrator):
    """Creating a campaign's messages: rendered in SQL and in Python alike (the many tricky
    cases are ``tests/sending/test_start_in_database.py``'s; this holds the pair itself)."""
    recipients = RecipientList.objects.create(name="start")
    Recipient.objects.bulk_create(
        Recipient(
            recipient_list=recipients,
            phone=f"1360000{n:04d}",
            variables={"name": text} if n % 4 else {},
        )
        for n, text in enumerate(TRICKY_TEXT * 3)
    )
    template = Template.objects.create(
        name="t", body="<name>您好", is_marketing=True, created_by=administrator
    )
    campaign = Campaign.objects.create(
        name="start",
        template=template,
        vendor_account=vendor_account,
        recipient_list=recipients,
    )
    plan = campaign_start.Plan(
        campaign=campaign,
        account=vendor_account,
        shape="personalised",
        batch_size=4,
        template_values=False,
        suppress=True,
        segment_limits=(70, 67, 160, 153),
    )

    def written():
        return (
            [
                (*row[:-1], SendBatch.objects.get(pk=row[-1]).number if row[-1] else None)
                for row in Message.objects.filter(campaign=campaign)
                .order_by("custom_id")
                .values_list(*[f for f in MESSAGE_FIELDS if f != "send_batch_id"], "send_batch_id")
            ],
            list(
                SendBatch.objects.filter(campaign=campaign)
                .order_by("number")
                .values_list("number", "size", "state", "request_shape")
            ),
        )

    pks = list(recipients.recipients.order_by("pk").values_list("pk", flat=True))

    def in_chunks(sizes):
        """The start's chunks as it writes them: each a span of recipients by pk, numbered
        on from the ones before (the middle one not a whole number of batches)."""
        done, numbered, batches, results = 0, 0, 0, []
        for size in sizes:
            span = campaign_start.Span(
                after=pks[done - 1] if done else 0,
                upto=pks[min(done + size, len(pks)) - 1],
                size=min(size, len(pks) - done),
                numbered=numbered,
                batches=batches,
            )
            sendable, skipped, batch_ids = campaign_start.write_messages(
                plan, span, check_all=False
            )
            done += span.size
            numbered += sendable + skipped
            batches += len(batch_ids)
            results.append((sendable, skipped, len(batch_ids)))
        return results

    everyone = [len(pks)]
    generic, postgresql = both_ways(lambda: in_chunks(everyone), written)
    assert generic == postgresql
    assert generic[0] == [(13, 8, 4)]  # blank or no name: skipped
    chunked = [8, 7, 100]
    generic, postgresql = both_ways(lambda: in_chunks(chunked), written)
    assert generic == postgresql
    assert sum(n for n, _, _ in generic[0]) == 13
    assert [row[-1] for row in generic[1][1]][:1] == ["personalised"]
    # Custom ids run on across the chunks, one per recipient.
    custom_id = [f for f in MESSAGE_FIELDS if f != "send_batch_id"].index("custom_id")
    assert [row[custom_id] for row in generic[1][0]] == [
        f"{campaign.pk}{n:09d}" for n in range(1, len(pks) + 1)
    ]

    # A start that stops on missing values checks the whole list before its first chunk.
    def refused():
        try:
            campaign_start.write_messages(
                plan, campaign_start.Span(after=0, upto=pks[3], size=4), check_all=True
            )
        except CampaignError as exc:
            return str(exc)
        return None

    generic, postgresql = both_ways(refused, written)
    assert generic == postgresql
    assert "13600000000" in generic[0] and generic[1] == ([], [])  # nothing written


def test_write_messages_with_defaults(vendor_account, administrator):
    """``<name|default>``: both twins show the default for a blank or absent value, never count
    it missing, and pass it as the template send's value."""
    recipients = RecipientList.objects.create(name="defaults")
    Recipient.objects.bulk_create(
        Recipient(
            recipient_list=recipients,
            phone=f"1350000{n:04d}",
            variables={"name": text, "city": text[:1]} if n % 3 else {"city": "京"},
        )
        for n, text in enumerate(TRICKY_TEXT * 2)
    )
    template = Template.objects.create(
        name="d", body="<name|顾客>您好<city>，<name>", is_marketing=False, created_by=administrator
    )
    campaign = Campaign.objects.create(
        name="defaults", template=template, vendor_account=vendor_account, recipient_list=recipients
    )
    plan = campaign_start.Plan(
        campaign=campaign,
        account=vendor_account,
        shape="template",
        batch_size=5,
        template_values=True,
        suppress=False,
        segment_limits=(70, 67, 160, 153),
    )

    def written():
        return list(
            Message.objects.filter(campaign=campaign)
            .order_by("custom_id")
            .values_list("phone", "content", "variables", "status", "error")
        )

    def run():
        return campaign_start.write_messages(
            plan,
            campaign_start.Span(after=0, upto=2**62, size=recipients.recipients.count()),
            check_all=False,
        )[:2]

    generic, postgresql = both_ways(run, written)
    assert generic == postgresql
    rows = {phone: (content, values, error) for phone, content, values, _s, error in generic[1]}
    assert rows["13500000000"] == ("【测试商城】顾客您好京，顾客", ["顾客", "京"], "")
    # A blank city (the empty text's first character) has no default: missing.
    assert "city" in rows["13500000005"][2]


def test_estimated_rows(campaign):
    """The one pair that differs by design: the generic twin has no estimate (the admin then
    counts within a cap); PostgreSQL's is the planner's, equal to the count once analyzed, and
    none for a table never analyzed."""
    table = Message._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")
    with sql.forcing(sql.GENERIC):
        assert estimates.estimated_rows(table) is None
    assert estimates.estimated_rows(table) == Message.objects.count()
    assert estimates.estimated_rows("no_such_table") is None


# --------------------------------------------------------------------------- sql.locks


def test_campaign_locks_read_and_hold_alike(campaign):
    """Both twins read the status (None for no campaign) and hold a start; what each lock
    waits for is tested with two connections in tests/sending/test_campaign_locks.py."""
    for name in (sql.GENERIC, sql.POSTGRESQL):
        with sql.forcing(name), transaction.atomic():
            assert locks.look_at_campaign(campaign.pk) == campaign.status
            assert locks.look_at_campaign(campaign.pk + 1000) is None
            assert locks.hold_start(campaign.pk) is True
            assert locks.hold_start(campaign.pk, wait=False) is True  # this transaction's own


# --------------------------------------------------------------------------- every pair


# --------------------------------------------------------------------------- sql.stats


def test_add_finals(campaign):
    """Codes and timeline buckets added alike, to new rows and to rows already there."""
    minute = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=5)
    hour = minute.replace(minute=0)
    campaign_stats.record_finals([(campaign.pk, Status.DELIVERED, "DELIVRD", "", minute)])
    codes = [
        (campaign.pk, Status.DELIVERED, "DELIVRD", TRICKY_TEXT[1], 3),  # adds; words kept once
        (campaign.pk, Status.FAILED, "E:1", TRICKY_TEXT[0], 2),
        (campaign.pk, Status.UNDELIVERED, 'quo"te', "", 1),
    ]
    times = [
        (campaign.pk, 1, minute, 2, 1),
        (campaign.pk, 1, minute + timedelta(minutes=1), 0, 3),
        (campaign.pk, 60, hour, 2, 4),
    ]
    for number, (codes_only, times_only) in enumerate(((codes, times), (codes, []), ([], times))):
        generic, postgresql = both_ways(
            lambda c=codes_only, t=times_only: stats_sql.add_finals(c, t),
            lambda: (
                sorted(
                    CampaignCodeCount.objects.filter(campaign=campaign).values_list(
                        "status", "code", "description", "messages"
                    )
                ),
                campaign_stats.kept(campaign.pk)[1],
            ),
        )
        assert generic == postgresql
        if number == 0:
            assert (Status.DELIVERED, "DELIVRD", TRICKY_TEXT[1], 4) in generic[1][0]
            assert (1, minute, 3, 1) in generic[1][1]


def test_every_pair_is_held_equal_here():
    twins = sql.all_twins()
    tested = {
        "messages.take_off",
        "messages.record_submitted",
        "messages.save_report_moves",
        "messages.deliver_submitted",
        "reports.message_rows_by_vendor_id",
        "reports.insert_reports",
        "reports.insert_push",
        "rows.insert_rows",
        "rows.insert_staged_recipients",
        "campaign_start.write_messages",
        "estimates.estimated_rows",
        "stats.add_finals",
        "locks.look_at_campaign",
        "locks.hold_start",
    }
    assert set(twins) == tested
    assert all(twin.postgresql is not None for twin in twins.values())


def test_id_arrays_bound_as_one_text_read_back_as_the_ids():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s::bigint[], %s::bigint[]", [sql.pg_array([1, 2, 2**40]), sql.pg_array([])]
        )
        assert cursor.fetchone() == ([1, 2, 2**40], [])


def test_the_big_statements_run_without_jit_and_priced_for_index_lookups():
    with transaction.atomic(), connection.cursor() as cursor:
        sql.for_bulk(cursor)
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone() == ("1.1",)
        cursor.execute("SHOW work_mem")
        assert cursor.fetchone() == ("64MB",)
