"""Creating a campaign's messages (``write_messages``): rendered in Python and streamed into
the database elsewhere, rendered inside PostgreSQL there.

A start writes the messages a chunk of recipients at a time (a ``Span``: the recipients with
``after < pk <= upto``, numbered on from the chunks before), each chunk in its own short
transaction, so the first batches are sent while the rest is still being rendered
(``services.sending.start_campaign``).  On PostgreSQL one INSERT … SELECT per chunk renders
every recipient's message, counts its parts, decides sendable or skipped and assigns its batch
(``create_messages``).  A million-recipient start
streamed through Python (the generic twin's ``_MessageWriter``) spends most of its half minute
moving rows out of and back into the database; here they never leave it.  The rules are the
Python ones, written once more in SQL, and ``tests/sending/test_start_in_database.py`` and
``tests/foundation/test_sql_dialect_twins.py`` hold the two to the same output row for row:

* placeholders: ``compose.MessageRenderer`` (a value that is missing or blank takes the
  placeholder's default, ``<name|default>``; without one it leaves the ``<name>`` in place and
  makes the recipient "missing");
* the text: signature + rendered body + the opt-out suffix for marketing unless present;
* parts: ``vendors.base.segments`` with the vendor's limits, or 1 for an MMS / video / 5G
  template message (``compose.billed_as_one_message``);
* custom ids, skipped reasons and batch numbering: ``_MessageWriter``;
* frequency caps: ``compliance.capped_phones`` — here worked out once per start (``_capped``);
* text the account's request encoding cannot carry: ``compose.Encodability``, decided by
  Python's own codec, never PostgreSQL's conversions (they differ: see ``_misfit_class``).

Values are read with ``->>`` (text), exactly as the Python path reads them on PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import connection
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ...models import Campaign, Message, Recipient, SendBatch, Suppression, VendorAccount
from ...statuses import Status
from .. import wording
from ..campaign_commands import CampaignError
from ..compliance import SENT_STATUSES, CapRule, capped_phones
from ..compose import (
    PLACEHOLDER,
    Encodability,
    MessageRenderer,
    billed_as_one_message,
    placeholder_defaults,
    placeholder_name,
    placeholders,
    signature_for,
)
from . import for_bulk, twin
from .rows import insert_rows

# Python's str.strip() blank test as a regular expression: every character Python counts as
# whitespace, spelled out (PostgreSQL's [[:space:]] depends on the database's locale).
BLANK = "^[" + "".join(f"\\u{ord(c):04x}" for c in map(chr, range(0x3001)) if c.isspace()) + "]*$"


@dataclass(frozen=True)
class Plan:
    campaign: Campaign
    account: VendorAccount
    shape: str
    batch_size: int
    template_values: bool
    suppress: bool
    segment_limits: tuple[int, int, int, int]
    cap: CapRule | None = None
    """The frequency caps the start applies (``compliance.cap_rule``): None, none."""


@dataclass(frozen=True)
class Span:
    """One chunk of a start: the list's recipients with ``after < pk <= upto`` (``size`` of
    them), numbered on from the chunks written before: ``numbered`` messages (custom ids
    continue) and ``batches`` batches (batch numbers continue).  A chunk's sendable messages
    make batches of their own: none spans two chunks."""

    after: int
    upto: int
    size: int
    numbered: int = 0
    batches: int = 0


EVERYONE = Span(after=0, upto=2**63 - 1, size=0)
"""Every recipient of the list (the check before a start that stops on missing values)."""


@dataclass(frozen=True)
class Created:
    sendable: int
    skipped: int
    missing: int
    """Recipients (not suppressed) lacking a value."""
    batch_ids: list[int]
    first_missing: tuple[str, list[str]] | None


def _misfit_class(
    plan: Plan, span: Span, encodability: Encodability, names: list[str]
) -> tuple[str, bool]:
    """A regular expression bracket matching every character of the campaign's texts that the
    account's request encoding cannot carry ("" when there is none), and whether the
    template's fixed text has one (then every text has).

    Only the values vary: the template's fixed text (signature, literals, suffix) is checked
    here once, and the values' distinct non-ASCII characters are read with one query and
    each tested with Python's codec, the very rule of the Python path and of the vendor's
    client.  PostgreSQL's own conversions are not used: its GBK carries €, Python's (which
    the smscn client sends with) does not, and testing each value with ``convert_to`` in a
    plpgsql exception block costs a subtransaction per value (2.7 s per pass over a million
    recipients, against 0.2 s for this bracket).  The query and the bracket add about 0.3 s
    to a 1.7 s start of 100,000 recipients, 2.6 s to a 12.8 s start of a million (1.1 s of
    it the query)."""
    if not encodability.checks:
        return "", False
    template = plan.campaign.template
    suffix = plan.account.opt_out_suffix if template.is_marketing else ""
    fixed = signature_for(template, plan.account) + "".join(PLACEHOLDER.split(template.body)[0::2])
    fixed_misfits = encodability.misfits(fixed + suffix)
    # A default shows only where a value is missing: its characters are among the values'.
    chars = set(fixed_misfits) | set("".join(placeholder_defaults(template.body).values()))
    if names:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT DISTINCT c.ch
                FROM {Recipient._meta.db_table} r
                CROSS JOIN LATERAL unnest(%(names)s::text[]) AS n(name)
                CROSS JOIN LATERAL unnest(string_to_array(
                    regexp_replace(r.variables ->> n.name, '[\\x01-\\x7f]+', '', 'g'), NULL
                )) AS c(ch)
                WHERE r.recipient_list_id = %(list_id)s AND r.id > %(after)s AND r.id <= %(upto)s
                """,  # noqa: S608 - identifiers only
                {
                    "names": names,
                    "list_id": plan.campaign.recipient_list_id,
                    "after": span.after,
                    "upto": span.upto,
                },
            )
            chars.update(row[0] for row in cursor.fetchall())
    misfits = sorted(char for char in chars if not char.isascii() and not encodability.fits(char))
    if not misfits:
        return "", False
    return "[" + "".join(_escaped(char) for char in misfits) + "]", bool(fixed_misfits)


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


CAPPED_TABLE = "pg_temp.start_capped"
"""The phones over a frequency cap of the campaign this connection is starting (a temporary
table: this session's alone, gone with it)."""


def _capped(plan: Plan, params: dict) -> str:
    """SQL true for a recipient (``v``) whose phone is over a frequency cap: the rule of
    ``compliance.capped_phones`` (the same counts), worked out once per start and session.

    Looking each recipient's phone up among the messages (the ``message_phone`` index, a
    heap fetch per message sent to it) cost 9 s per 100,000 recipients; the history's
    messages of the last seven days are instead aggregated once, by a hash join with the
    list's phones, into a temporary table the chunks look the phone up in (indexed, as the
    suppression list).  A start continued by another worker (``recover``) works it out
    again there."""
    cap = plan.cap
    if cap is None or not (cap.per_day or cap.per_week):
        return "false"
    campaign_id = plan.campaign.pk
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {CAPPED_TABLE.split('.')[1]} "
            "(campaign_id bigint NOT NULL, phone text NOT NULL, PRIMARY KEY (campaign_id, phone))"
        )
        cursor.execute(
            f"SELECT 1 FROM {CAPPED_TABLE} WHERE campaign_id = %s AND phone = ''",  # noqa: S608
            [campaign_id],
        )
        if cursor.fetchone() is None:
            over = []
            if cap.per_week:
                over.append("count(*) >= %(per_week)s")
            if cap.per_day:
                over.append(
                    "count(*) FILTER (WHERE m.submitted_at >= %(day_start)s) >= %(per_day)s"
                )
            # One start at a time per connection: an earlier start's phones go.  The row with
            # no phone marks the campaign's as worked out (it may have none).
            cursor.execute(f"DELETE FROM {CAPPED_TABLE}")  # noqa: S608
            cursor.execute(
                f"""
                INSERT INTO {CAPPED_TABLE} (campaign_id, phone)
                SELECT %(campaign_id)s, ''
                UNION ALL
                SELECT %(campaign_id)s, m.phone
                FROM {Message._meta.db_table} m
                WHERE m.id >= (
                          -- Ids grow with time: no message of these campaigns is older than
                          -- the first of each (the week's end of a table of 30 days or more).
                          SELECT min(f.first)
                          FROM unnest(%(campaigns)s::bigint[]) c(id),
                               LATERAL (SELECT i.id FROM {Message._meta.db_table} i
                                        WHERE i.campaign_id = c.id ORDER BY i.id LIMIT 1) f(first)
                      )
                      AND m.submitted_at >= %(week_start)s
                      AND m.campaign_id = ANY(%(campaigns)s::bigint[])
                      AND m.status = ANY(%(statuses)s::text[])
                      AND m.phone IN (SELECT r.phone FROM {Recipient._meta.db_table} r
                                      WHERE r.recipient_list_id = %(list_id)s)
                GROUP BY m.phone
                HAVING {" OR ".join(over)}
                """,  # noqa: S608 - identifiers only
                {
                    "campaign_id": campaign_id,
                    "campaigns": list(cap.campaign_ids),
                    "statuses": list(SENT_STATUSES),
                    "week_start": cap.week_start,
                    "day_start": cap.day_start,
                    "per_week": cap.per_week,
                    "per_day": cap.per_day,
                    "list_id": plan.campaign.recipient_list_id,
                },
            )
            cursor.execute(f"ANALYZE {CAPPED_TABLE}")
    params["capped_campaign"] = campaign_id
    return (
        f"EXISTS (SELECT 1 FROM {CAPPED_TABLE} k "  # noqa: S608
        "WHERE k.campaign_id = %(capped_campaign)s AND k.phone = v.phone)"
    )


def _selection(plan: Plan, span: Span, params: dict, encodability: Encodability) -> str:
    """The span's recipients with their values, flags, rendered text, parts and the characters of
    the text the account's encoding cannot carry (``misfits``, NULL when none: a SELECT)."""
    template = plan.campaign.template
    names = placeholders(template.body)
    defaults = placeholder_defaults(template.body)
    pieces = PLACEHOLDER.split(template.body)
    params.update(
        list_id=plan.campaign.recipient_list_id, after=span.after, upto=span.upto, blank=BLANK
    )
    values, missing = [], []
    for i, name in enumerate(names):
        params[f"name{i}"] = name
        params[f"hole{i}"] = f"<{name}>"
        value = f"(r.variables ->> %(name{i})s)"
        if name in defaults:
            # compose.effective_value: a blank value shows the default, never "missing".
            params[f"default{i}"] = defaults[name]
            values.append(
                f"CASE WHEN {value} IS NULL OR {value} ~ %(blank)s THEN %(default{i})s "
                f"ELSE {value} END AS v{i}"
            )
        else:
            values.append(f"{value} AS v{i}")
            missing.append(f"CASE WHEN v{i} IS NULL OR v{i} ~ %(blank)s THEN %(name{i})s END")
    slot = {name: i for i, name in enumerate(names)}
    body = []
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            params[f"lit{index}"] = piece
            body.append(f"%(lit{index})s")
        elif (name := placeholder_name(piece)) in defaults:
            body.append(f"v{slot[name]}")
        else:
            i = slot[name]
            body.append(
                f"(CASE WHEN v{i} IS NULL OR v{i} ~ %(blank)s THEN %(hole{i})s ELSE v{i} END)"
            )
    rendered = " || ".join(body) or "''"
    suffix = plan.account.opt_out_suffix if template.is_marketing else ""
    params.update(signature=signature_for(template, plan.account), suffix=suffix)
    with_suffix = (
        "(CASE WHEN strpos(b.body, %(suffix)s) > 0 THEN b.body ELSE b.body || %(suffix)s END)"
        if suffix
        else "b.body"
    )
    single, multi, gsm_single, gsm_multi = plan.segment_limits
    params.update(single=single, multi=multi, gsm_single=gsm_single, gsm_multi=gsm_multi)
    params["one_part"] = billed_as_one_message(template)
    suppressed = (
        # Only a suppression in force (``Suppression.objects.active``): a lifted one is history.
        f"EXISTS (SELECT 1 FROM {Suppression._meta.db_table} s"  # noqa: S608
        " WHERE s.phone = r.phone AND s.lifted_at IS NULL)"
        if plan.suppress
        else "false"
    )
    capped = _capped(plan, params)
    recipients = Recipient._meta.db_table
    params["misfit"], fixed_misfit = _misfit_class(plan, span, encodability, names)
    # Whether the text has a misfit: the values are matched (shorter than the text, and
    # evaluated once per row where the text is evaluated more than once), or every text has
    # one.  Then each misfit once, in the order the text first shows it
    # (compose.Encodability.misfits): only for the few texts that have one.
    if fixed_misfit:
        has_misfit = "true"
    elif params["misfit"]:
        has_misfit = " OR ".join(f"v{i} ~ %(misfit)s" for i in range(len(names)))
    else:
        has_misfit = "false"
    misfits = (
        """CASE WHEN r.has_misfit THEN (
                   SELECT string_agg(m.ch, ', ' ORDER BY m.at)
                   FROM (SELECT t.ch, min(t.at) AS at
                         FROM unnest(string_to_array(c.content, NULL)) WITH ORDINALITY t(ch, at)
                         WHERE t.ch ~ %(misfit)s GROUP BY t.ch) m
               ) END"""
        if params["misfit"]
        else "NULL::text"
    )
    # The two ``OFFSET 0`` keep PostgreSQL from flattening the subqueries: flattened, every
    # mention of a value (``v0``) or of the text re-evaluated its whole expression — the
    # JSON lookups, the blank tests, the rendering — five or six times per row.  Fenced,
    # each is computed once per row: 780 ms → 280 ms for 49,000 recipients (EXPLAIN ANALYZE
    # of the selection alone).
    return f"""
        SELECT r.id, r.phone, r.suppressed, r.capped, r.missing, r.vals, c.content,
               {misfits} AS misfits,
               CASE
                 WHEN %(one_part)s THEN 1
                 WHEN char_length(c.content) = 0 THEN 0
                 WHEN c.content ~ '^[\\x01-\\x7f]*$' THEN
                   CASE WHEN char_length(c.content) <= %(gsm_single)s THEN 1
                        ELSE ceil(char_length(c.content)::numeric / %(gsm_multi)s)::int END
                 ELSE
                   CASE WHEN char_length(c.content) <= %(single)s THEN 1
                        ELSE ceil(char_length(c.content)::numeric / %(multi)s)::int END
               END AS parts
        FROM (
            SELECT v.id, v.phone, v.suppressed, NOT v.suppressed AND {capped} AS capped,
                   array_remove(ARRAY[{", ".join(missing) or "NULL"}]::text[], NULL) AS missing,
                   ARRAY[{", ".join(f"coalesce(v{i}, '')" for i in range(len(names)))}]::text[]
                       AS vals,
                   {rendered} AS body,
                   {has_misfit} AS has_misfit
            FROM (
                SELECT r.id, r.phone, {suppressed} AS suppressed
                       {"".join(", " + value for value in values)}
                FROM {recipients} r
                WHERE r.recipient_list_id = %(list_id)s AND r.id > %(after)s
                      AND r.id <= %(upto)s
                OFFSET 0
            ) v
            OFFSET 0
        ) r
        CROSS JOIN LATERAL (SELECT r.body) b(body)
        CROSS JOIN LATERAL (SELECT %(signature)s || {with_suffix}) c(content)
    """  # noqa: S608 - identifiers only; every value is a parameter


def create_messages(plan: Plan, span: Span, *, check_all: bool) -> Created:
    """Write the span's messages and batches (in the caller's transaction).

    A recipient is skipped for the first of: suppressed, missing a value, text the account's
    request encoding cannot carry.  With ``check_all`` (a start that stops on those, at its
    first chunk) the whole list is checked first and nothing is written when any recipient
    misses a value (``first_missing`` says who, for the caller's error) or else has such text
    (raises ``CampaignError``, as the generic ``write_messages``)."""
    encodability = Encodability(plan.account)
    first_missing, missing_count = None, 0
    if check_all:
        params: dict = {}
        selection = _selection(plan, EVERYONE, params, encodability)
        # Stopping needs to know before anything is written: one pass counts both kinds.
        with connection.cursor() as cursor:
            for_bulk(cursor)
            cursor.execute(
                f"""
                SELECT count(*) FILTER (WHERE cardinality(missing) > 0),
                       (array_agg(ARRAY[phone, array_to_string(missing, ', ')] ORDER BY id)
                            FILTER (WHERE cardinality(missing) > 0))[1:1],
                       count(*) FILTER (WHERE cardinality(missing) = 0),
                       (array_agg(ARRAY[phone, misfits] ORDER BY id)
                            FILTER (WHERE cardinality(missing) = 0))[1:1]
                FROM ({selection}) s
                WHERE NOT suppressed AND NOT capped
                      AND (cardinality(missing) > 0 OR misfits IS NOT NULL)
                """,  # noqa: S608
                params,
            )
            missing_count, first, unencodable_count, first_unencodable = cursor.fetchone()
        if missing_count:
            first_missing = (first[0][0], first[0][1].split(", "))
            return Created(0, 0, missing_count, [], first_missing)
        if unencodable_count:
            phone, misfits = first_unencodable[0]
            raise CampaignError(encodability.refusal(unencodable_count, phone, misfits.split(", ")))

    params = {}
    selection = _selection(plan, span, params, encodability)
    # One pass: batch ids are reserved up front for the most batches the span could need
    # (unused ones are simply never created), so the INSERT can point at them; the batch rows
    # follow in the same transaction once the counts are known.
    most_batches = max(1, -(-span.size // plan.batch_size))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [SendBatch._meta.db_table, most_batches],
        )
        reserved = [row[0] for row in cursor.fetchall()]
    params.update(
        campaign_id=plan.campaign.pk,
        account_id=plan.account.pk,
        batch_ids=reserved,
        batch_size=plan.batch_size,
        numbered=span.numbered,
        queued=Status.QUEUED,
        skipped=Status.SKIPPED,
        suppressed_reason=wording.both(SUPPRESSED),
        capped_reason=wording.both(CAPPED),
        # The reasons in both languages with a hole where the names or characters go.
        hole=wording.HOLE,
        missing_reason=missing_reason(wording.HOLE),
        misfits_reason=encodability.reason([wording.HOLE]),
        created_at=timezone.now(),
    )
    values_json = "to_jsonb(s.vals)" if plan.template_values else "'[]'::jsonb"
    with connection.cursor() as cursor:
        for_bulk(cursor)
        cursor.execute(
            f"""
            WITH written AS (
                INSERT INTO {Message._meta.db_table} (
                    campaign_id, send_batch_id, vendor_account_id, phone, content, segments,
                    variables, custom_id, status, error, vendor_message_id, vendor_batch_id,
                    vendor_status_code, vendor_status_description, attempts, created_at
                )
                SELECT %(campaign_id)s,
                       CASE WHEN s.sendable THEN
                           (%(batch_ids)s::bigint[])[(s.sendable_number - 1) / %(batch_size)s + 1]
                       END,
                       %(account_id)s, s.phone, s.content, s.parts, {values_json},
                       %(campaign_id)s::text || CASE WHEN s.number < 1000000000
                            THEN lpad(s.number::text, 9, '0') ELSE s.number::text END,
                       CASE WHEN s.sendable THEN %(queued)s ELSE %(skipped)s END,
                       CASE WHEN s.sendable THEN ''
                            WHEN s.suppressed THEN %(suppressed_reason)s
                            WHEN s.capped THEN %(capped_reason)s
                            WHEN cardinality(s.missing) > 0 THEN replace(
                                %(missing_reason)s, %(hole)s, array_to_string(s.missing, ', '))
                            ELSE replace(%(misfits_reason)s, %(hole)s, s.misfits) END,
                       '', '', '', '', 0, %(created_at)s
                FROM (
                    SELECT t.*,
                           %(numbered)s + row_number() OVER (ORDER BY t.id) AS number,
                           row_number() OVER (PARTITION BY t.sendable ORDER BY t.id)
                               AS sendable_number
                    FROM (
                        SELECT x.*, NOT x.suppressed AND cardinality(x.missing) = 0
                                    AND NOT x.capped AND x.misfits IS NULL AS sendable
                        FROM ({selection}) x
                    ) t
                ) s
                RETURNING status
            )
            SELECT count(*) FILTER (WHERE status = %(queued)s), count(*) FROM written
            """,  # noqa: S608
            params,
        )
        sendable, written = cursor.fetchone()
    batch_count = -(-sendable // plan.batch_size)
    SendBatch.objects.bulk_create(
        SendBatch(
            pk=reserved[n - 1],
            campaign=plan.campaign,
            number=span.batches + n,
            size=min(plan.batch_size, sendable - (n - 1) * plan.batch_size),
            request_shape=plan.shape,
        )
        for n in range(1, batch_count + 1)
    )
    return Created(sendable, written - sendable, missing_count, reserved[:batch_count], None)


# --------------------------------------------------------------------------- the twins


@twin
def write_messages(plan: Plan, span: Span, *, check_all: bool) -> tuple[int, int, list[int]]:
    """Write the span's messages and batches (in the caller's transaction); returns
    ``(sendable, skipped, batch ids)``.  The generic twin renders each recipient's message in
    Python and streams them into the database a batch at a time.

    A recipient is skipped for the first of: suppressed, missing a value, text the account's
    request encoding cannot carry (``compose.Encodability``).  With ``check_all`` (a start
    that stops on the last two, checked at its first chunk) the whole list is checked first:
    when any recipient misses a value or has such text nothing is written and the error
    names the count and the first recipient (missing values first), as the PostgreSQL twin
    does."""
    if check_all:
        _check_all(plan)
    campaign, account = plan.campaign, plan.account
    writer = _MessageWriter(campaign, account, plan.shape, plan.batch_size, span)
    for phone, content, parts, variables, reason in _rendered(plan, span):
        template_values = variables if plan.template_values else None
        if reason:
            writer.skip(phone, content, parts, template_values, str(reason))
        else:
            writer.send(phone, content, parts, template_values)
    writer.flush()
    return writer.sendable, writer.skipped, writer.batch_ids


SUPPRESSED = gettext_lazy("Suppressed (opted out)")
CAPPED = gettext_lazy("Frequency cap")


def missing_reason(names: str) -> str:
    """A skip reason for missing values, in both languages (``wording``)."""
    return wording.both(lambda: _("Missing values: %(names)s") % {"names": names})


class _Missing(str):
    """A skip reason for missing values (``names``: which)."""

    names: list[str]


class _Misfit(str):
    """A skip reason for text the account's encoding cannot carry (``chars``: which)."""

    chars: list[str]


def _rendered(plan: Plan, span: Span):
    """The span's recipients in pk order as ``(phone, content, parts, values, reason)``
    (``values``: what a template send passes, defaults applied); ``reason`` is empty for a
    sendable message."""
    campaign, account, template = plan.campaign, plan.account, plan.campaign.template
    names = placeholders(template.body)
    suppressed = (
        set(Suppression.objects.active().values_list("phone", flat=True))
        if plan.suppress
        else set()
    )
    span_recipients = Recipient.objects.filter(
        recipient_list=campaign.recipient_list, pk__gt=span.after, pk__lte=span.upto
    )
    capped = capped_phones(plan.cap, span_recipients.values("phone"))
    renderer = MessageRenderer(template, account)
    encodability = Encodability(account)
    # Only the placeholders' values, extracted by the database as text: decoding every
    # recipient's whole JSON in Python cost more than rendering.
    values = {f"v{i}": KeyTextTransform(name, "variables") for i, name in enumerate(names)}
    rows = (
        Recipient.objects.filter(
            recipient_list=campaign.recipient_list, pk__gt=span.after, pk__lte=span.upto
        )
        .order_by("pk")
        .annotate(**values)
        .values_list("phone", *values)
    )
    suppressed_reason, capped_reason = wording.both(SUPPRESSED), wording.both(CAPPED)
    missing_with_hole = missing_reason(wording.HOLE)
    misfits_with_hole = encodability.reason([wording.HOLE])
    for phone, *variables in rows.iterator(chunk_size=10000):
        content, parts, missing = renderer.render(variables)
        reason = ""
        if phone in suppressed:
            reason = suppressed_reason
        elif phone in capped:
            reason = capped_reason
        elif missing:
            reason = _Missing(missing_with_hole.replace(wording.HOLE, ", ".join(missing)))
            reason.names = missing
        elif misfits := encodability.misfits(content):
            reason = _Misfit(misfits_with_hole.replace(wording.HOLE, ", ".join(misfits)))
            reason.chars = misfits
        yield phone, content, parts, renderer.template_values(variables), reason


def _check_all(plan: Plan) -> None:
    """Raise ``CampaignError`` when a recipient of the list (not suppressed) misses a value
    (first) or has text the account's encoding cannot carry."""
    missing_count = unencodable_count = 0
    first_missing = first_unencodable = None
    for phone, _content, _parts, _values, reason in _rendered(plan, EVERYONE):
        if isinstance(reason, _Missing):
            missing_count += 1
            first_missing = first_missing or (phone, reason.names)
        elif isinstance(reason, _Misfit):
            unencodable_count += 1
            first_unencodable = first_unencodable or (phone, reason.chars)
    # In both languages: a task starts a scheduled campaign (``wording``).
    if first_missing:
        phone, missing = first_missing
        raise CampaignError(
            wording.both(
                lambda: (
                    _(
                        "%(n)d recipients lack a value for a placeholder "
                        "(first: %(phone)s lacks %(names)s)."
                    )
                    % {"n": missing_count, "phone": phone, "names": ", ".join(missing)}
                )
            )
        )
    if first_unencodable:
        encodability = Encodability(plan.account)
        raise CampaignError(
            wording.both(lambda: encodability.refusal(unencodable_count, *first_unencodable))
        )


class _MessageWriter:
    """Collects a campaign's new messages and writes them a batch at a time: the batch row
    first (messages point at it), then its messages through COPY."""

    COLUMNS = (
        "campaign_id",
        "send_batch_id",
        "vendor_account_id",
        "phone",
        "content",
        "segments",
        "variables",
        "custom_id",
        "status",
        "error",
        "vendor_message_id",
        "vendor_batch_id",
        "vendor_status_code",
        "vendor_status_description",
        "attempts",
        "created_at",
    )

    def __init__(
        self, campaign: Campaign, account: VendorAccount, shape: str, batch_size: int, span: Span
    ):
        self.campaign, self.account = campaign, account
        self.campaign_id, self.account_id = campaign.pk, account.pk
        self.shape, self.batch_size = shape, batch_size
        self.numbered, self.batches = span.numbered, span.batches
        self.created_at = connection.ops.adapt_datetimefield_value(timezone.now())
        self.pending: list[tuple] = []
        self.skipped_rows: list[tuple] = []
        self.sendable = self.skipped = 0
        self.batch_ids: list[int] = []

    def _row(self, batch_id, phone, content, parts, values, status, error) -> tuple:
        number = self.numbered + self.sendable + self.skipped
        return (
            self.campaign_id,
            batch_id,
            self.account_id,
            phone,
            content,
            parts,
            json.dumps(values, ensure_ascii=False) if values else "[]",
            f"{self.campaign_id}{number:09d}",
            status,
            error,
            "",
            "",
            "",
            "",
            0,
            self.created_at,
        )

    def send(self, phone, content, parts, values) -> None:
        self.sendable += 1
        self.pending.append(self._row(None, phone, content, parts, values, Status.QUEUED, ""))
        if len(self.pending) == self.batch_size:
            self._write_batch()

    def skip(self, phone, content, parts, values, reason) -> None:
        self.skipped += 1
        self.skipped_rows.append(
            self._row(None, phone, content, parts, values, Status.SKIPPED, reason)
        )
        if len(self.skipped_rows) == 10_000:
            insert_rows(Message._meta.db_table, self.COLUMNS, self.skipped_rows)
            self.skipped_rows = []

    def _write_batch(self) -> None:
        batch = SendBatch.objects.create(
            campaign=self.campaign,
            number=self.batches + len(self.batch_ids) + 1,
            size=len(self.pending),
            request_shape=self.shape,
        )
        self.batch_ids.append(batch.pk)
        insert_rows(
            Message._meta.db_table,
            self.COLUMNS,
            ((row[0], batch.pk, *row[2:]) for row in self.pending),
        )
        self.pending = []

    def flush(self) -> None:
        if self.pending:
            self._write_batch()
        if self.skipped_rows:
            insert_rows(Message._meta.db_table, self.COLUMNS, self.skipped_rows)
            self.skipped_rows = []


@write_messages.on_postgresql
def write_messages_postgresql(
    plan: Plan, span: Span, *, check_all: bool
) -> tuple[int, int, list[int]]:
    created = create_messages(plan, span, check_all=check_all)
    if created.first_missing:
        phone, missing = created.first_missing
        raise CampaignError(
            _("%(n)d recipients lack a value for a placeholder (first: %(phone)s lacks %(names)s).")
            % {"n": created.missing, "phone": phone, "names": ", ".join(missing)}
        )
    return created.sendable, created.skipped, created.batch_ids
