"""Fuzzing every way data comes in: the five vendors' push receivers, the portal's filters and
searches, and the spreadsheet readers (CSV in several encodings, XLSX, XLS, damaged copies).

Hypothesis drives each target with hostile values — random bytes and text, NUL, lone
surrogates, huge numbers, digits that are no ASCII digits, odd encodings, times of year 0001 and
9999 — mixed with valid items taken from the vendors' documents.  Properties: never a 500 (nor
an exception out of a reader other than ``SpreadsheetError``, whose message the marketer sees),
nothing a database cannot hold reaches a query, and every valid item beside the garbage is
stored (pushes: its ``DeliveryReport`` / ``InboundMessage`` row; imports: its recipient).

Bounded so the unit loop stays fast: a fixed number of examples per target, no deadline,
derandomized (the same examples on every run, so CI is stable) and no example database.  The
module is marked ``fuzz``; ``-m "not fuzz"`` leaves it out.
"""

import contextlib
import csv
import datetime as dt
import io
import itertools
import json
import random
import zipfile
from pathlib import Path
from urllib.parse import quote, urlencode

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from messaging.importing import service
from messaging.importing.readers import SpreadsheetError, open_table
from messaging.models import (
    Campaign,
    DeliveryReport,
    ImportJob,
    InboundMessage,
    Recipient,
    RecipientList,
    Template,
    VendorAccount,
)
from messaging.vendors.montnets.client import password_digest

from .test_input_portal import unstorable_parameters

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VENDORS = FIXTURES / "vendors"


def fuzz(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# --------------------------------------------------------------------------- hostile values

SPECIAL = [
    "\x00",
    "a\x00b",
    "²",
    "٣",
    "１３８００００００００",
    "9" * 40,
    "-1",
    "0",
    "1e999",
    "NaN",
    "0001-01-01",
    "9999-12-31",
    "0000-00-00 00:00:00",
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59",
    "00010101000000",
    "99991231235959",
    "2024-02-30",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%00",
    "%ff%fe",
    "\u202e",
    "ＴＤ",
    "退订",
    "\r\n",
    "\ufeff",
    "𠀀",
    "\x1b[31m",
    "=cmd|' /C calc'!A0",
]
lone_surrogates = st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=3)
nasty_text = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(max_size=40),
    st.integers(-(10**40), 10**40).map(str),
    st.binary(max_size=24).map(lambda b: b.decode("latin-1")),
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=5), lone_surrogates, st.text(max_size=5)),
)
nasty_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**40), 10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    nasty_text,
)


def nasty_json(keys: list[str]):
    """JSON values, and objects with the vendor's own keys holding hostile values."""
    leaves = nasty_scalar
    return st.one_of(
        leaves,
        st.dictionaries(st.sampled_from(keys), leaves, max_size=len(keys)),
        st.lists(leaves, max_size=3),
    )


def mutated(item: dict, keys: list[str]):
    """A valid item with some of its fields replaced by hostile values (or dropped): the
    garbage that gets furthest into a parser."""
    return st.builds(
        lambda changes, dropped: {k: v for k, v in {**item, **changes}.items() if k not in dropped},
        st.dictionaries(st.sampled_from(keys), nasty_scalar, min_size=1, max_size=3),
        st.sets(st.sampled_from(keys), max_size=1),
    )


def garbage_items(keys: list[str], *samples: dict):
    return st.lists(
        st.one_of(nasty_json(keys), *(mutated(sample, keys) for sample in samples)), max_size=6
    )


def percent(text: str, encoding: str) -> str:
    return quote(
        text.encode(encoding, errors="surrogatepass" if encoding == "utf-8" else "replace")
    )


ENCODINGS = st.sampled_from(["utf-8", "gbk", "gb2312", "latin-1"])


# --------------------------------------------------------------------------- pushes

SERIAL = itertools.count(1)


def vendor_account(vendor: str, account_id: str, secret: str = "pw") -> VendorAccount:
    return VendorAccount.objects.create(
        vendor=vendor,
        name=f"{vendor} fuzz",
        base_url=f"http://127.0.0.1:9/{vendor}",
        account_id=account_id,
        secret=secret,
        signature="【测试商城】",
    )


@pytest.fixture
def anonymous():
    return Client(raise_request_exception=False)


def interleave(draw, valid: list, garbage: list, *, flagged: bool = False) -> list:
    """``valid`` and ``garbage`` in one list, in an order Hypothesis chooses (with flagged,
    each as ``(is valid, item)``)."""
    items = [(True, v) for v in valid] + [(False, g) for g in garbage]
    order = draw(st.permutations(range(len(items))))
    return [items[i] if flagged else items[i][1] for i in order]


def post_json(client, path: str, payload) -> object:
    body = json.dumps(payload, ensure_ascii=True)  # lone surrogates travel as \\udXXX
    return client.post(path, data=body.encode("ascii"), content_type="application/json")


def assert_answered(response) -> None:
    assert response.status_code < 500, response.content[:300]


ACTIONGW_SAMPLE = json.loads((VENDORS / "actiongw" / "push_request.json").read_bytes())
ACTIONGW_KEYS = ["flag", "mid", "spid", "accessCode", "mobile", "content", "stat", "time"]


@st.composite
def actiongw_push(draw):
    n = next(SERIAL)
    reply = dict(ACTIONGW_SAMPLE[0], mid=f"fzr{n}", mobile=f"1890000{n:04d}", content=f"ok {n}")
    report = dict(ACTIONGW_SAMPLE[1], mid=f"fzs{n}", mobile=f"1890001{n:04d}")
    garbage = draw(garbage_items(ACTIONGW_KEYS, *ACTIONGW_SAMPLE))
    return n, interleave(draw, [reply, report], garbage)


@fuzz(100)
@given(push=actiongw_push())
def test_fuzz_actiongw_push(anonymous, push):
    account = fuzz_account("actiongw", "922011")
    n, items = push
    with unstorable_parameters() as found:
        response = post_json(anonymous, account.push_path, items)
    assert (response.status_code, response.content) == (200, b"OK")
    assert found == []
    assert InboundMessage.objects.filter(phone=f"1890000{n:04d}", content=f"ok {n}").exists()
    assert DeliveryReport.objects.filter(vendor_message_id=f"fzs{n}").exists()


def fuzz_account(vendor: str, account_id: str, secret: str = "pw") -> VendorAccount:
    """One account per vendor for all of a test's examples."""
    return VendorAccount.objects.filter(vendor=vendor).first() or vendor_account(
        vendor, account_id, secret
    )


ASHX5G_REPORTS = json.loads(
    (VENDORS / "ashx5g" / "report_push.json").read_text().replace('{uid"', '{"uid"')
)
ASHX5G_REPLIES = json.loads((VENDORS / "ashx5g" / "mo_push.json").read_bytes())
ASHX5G_REVIEW = json.loads((VENDORS / "ashx5g" / "template_review_push.json").read_bytes())
ASHX5G_KEYS = sorted({*ASHX5G_REPORTS[0], *ASHX5G_REPLIES[0], "mms_id", "code", "status"})


@st.composite
def ashx5g_push(draw):
    n = next(SERIAL)
    report = dict(ASHX5G_REPORTS[1], seq=f"fzs{n}", pn=f"1890001{n:04d}")
    reply = dict(ASHX5G_REPLIES[0], pn=f"1890000{n:04d}", msg=f"ok {n}")
    garbage = draw(garbage_items(ASHX5G_KEYS, ASHX5G_REPORTS[0], ASHX5G_REPLIES[0], ASHX5G_REVIEW))
    return n, interleave(draw, [report, reply], garbage)


@fuzz(100)
@given(push=ashx5g_push())
def test_fuzz_ashx5g_push(anonymous, push):
    account = fuzz_account("ashx5g", "123456")
    n, items = push
    with unstorable_parameters() as found:
        response = post_json(anonymous, account.push_path, items)
    assert (response.status_code, response.content) == (200, b"0")
    assert found == []
    assert InboundMessage.objects.filter(phone=f"1890000{n:04d}", content=f"ok {n}").exists()
    assert DeliveryReport.objects.filter(vendor_message_id=f"fzs{n}").exists()


MONTNETS_SAMPLE = json.loads((VENDORS / "montnets" / "rpt_push_request_json.txt").read_text())
MONTNETS_KEYS = sorted(MONTNETS_SAMPLE["rpts"][0])


@st.composite
def montnets_push(draw):
    n = next(SERIAL)
    valid = [
        dict(MONTNETS_SAMPLE["rpts"][0], msgid=9_000_000 + 10 * n + k, pknum=1, pktotal=1)
        for k in range(2)
    ]
    garbage = draw(garbage_items(MONTNETS_KEYS, MONTNETS_SAMPLE["rpts"][0]))
    as_form = draw(st.booleans())
    return n, interleave(draw, valid, garbage), as_form


@fuzz(100)
@given(push=montnets_push())
def test_fuzz_montnets_push(anonymous, push):
    account = fuzz_account("montnets", "J10003", secret="111111")
    n, rpts, as_form = push
    head = {
        "userid": "J10003",
        "pwd": password_digest("J10003", "111111", "0803192020"),
        "timestamp": "0803192020",
        "cmd": "RPT_REQ",
        "seqid": n,
    }
    with unstorable_parameters() as found:
        if as_form:
            fields = {**head, "rpts": json.dumps(rpts, ensure_ascii=True)}
            response = anonymous.post(
                account.push_path,
                data=urlencode(fields).encode(),
                content_type="application/x-www-form-urlencoded",
            )
        else:
            response = post_json(anonymous, account.push_path, {**head, "rpts": rpts})
    assert response.status_code == 200
    assert json.loads(response.content) == {"cmd": "RPT_RESP", "seqid": n, "result": 0}
    assert found == []
    for k in range(2):
        assert DeliveryReport.objects.filter(vendor_message_id=str(9_000_000 + 10 * n + k)).exists()


def _texts(fields: dict) -> dict:
    """Form fields are text: a hostile value as the text a vendor would send."""
    return {k: "" if v is None else str(v) for k, v in fields.items()}


SMSADMIN_KEYS = ["Class", "SmsName", "Mobile", "Message", "LinkId", "Report", "ReportTime"]


@st.composite
def smsadmin_pushes(draw):
    """Pushes one by one (the vendor pushes one item each): valid ones among garbage ones."""
    n = next(SERIAL)
    valid = [
        {"Class": "mo", "SmsName": "ID", "Mobile": f"1890000{n:04d}", "Message": f"ok {n}"},
        {"Class": "rpt", "SmsName": "ID", "Mobile": f"1890001{n:04d}", "LinkId": f"fz{n}"}
        | {"Report": "DELIVRD", "ReportTime": draw(st.sampled_from(SPECIAL))},
    ]
    garbage = draw(
        st.lists(
            st.dictionaries(st.sampled_from(SMSADMIN_KEYS), nasty_text, max_size=7)
            | mutated(valid[0], SMSADMIN_KEYS).map(_texts)
            | mutated(valid[1], SMSADMIN_KEYS).map(_texts)
            | st.builds(
                lambda d: {**d, "SmsName": "ID"},
                st.dictionaries(st.sampled_from(SMSADMIN_KEYS), nasty_text),
            ),
            max_size=4,
        )
    )
    pushes = interleave(draw, valid, garbage, flagged=True)
    return n, [(ok, fields, draw(ENCODINGS), draw(st.booleans())) for ok, fields in pushes]


def send_fields(client, path: str, fields: dict, encoding: str, as_form: bool):
    query = "&".join(f"{percent(k, encoding)}={percent(v, encoding)}" for k, v in fields.items())
    if as_form:
        return client.post(
            path, data=query.encode(), content_type="application/x-www-form-urlencoded"
        )
    return client.get(f"{path}?{query}")


@fuzz(80)
@given(pushes=smsadmin_pushes())
def test_fuzz_smsadmin_pushes(anonymous, pushes):
    account = fuzz_account("smsadmin", "ID")
    n, sequence = pushes
    with unstorable_parameters() as found:
        for valid, fields, encoding, as_form in sequence:
            response = send_fields(
                anonymous, account.push_path, fields, "gb2312" if valid else encoding, as_form
            )
            assert_answered(response)
            if valid:
                assert response.status_code == 200
    assert found == []
    assert InboundMessage.objects.filter(phone=f"1890000{n:04d}", content=f"ok {n}").exists()
    assert DeliveryReport.objects.filter(phone=f"1890001{n:04d}").exists()


SMSCN_KEYS = ["cmd", "uid", "mobile", "mobileids", "status", "content", "time"]


@st.composite
def smscn_pushes(draw):
    n = next(SERIAL)
    valid = [
        {"cmd": "res", "uid": "demo", "mobile": f"1890000{n:04d}", "content": f"ok {n}"}
        | {"time": draw(st.sampled_from(SPECIAL))},
        {"cmd": "res", "uid": "demo", "mobile": f"1890001{n:04d}", "mobileids": f"fz{n}"}
        | {"status": "DELIVRD"},
    ]
    garbage = draw(
        st.lists(
            st.dictionaries(st.sampled_from(SMSCN_KEYS), nasty_text, max_size=7)
            | mutated(valid[0], SMSCN_KEYS).map(_texts)
            | mutated(valid[1], SMSCN_KEYS).map(_texts)
            | st.builds(
                lambda d: {**d, "cmd": "res", "uid": "demo"},
                st.dictionaries(st.sampled_from(SMSCN_KEYS), nasty_text),
            ),
            max_size=4,
        )
    )
    pushes = interleave(draw, valid, garbage, flagged=True)
    return n, [(ok, fields, draw(ENCODINGS), draw(st.booleans())) for ok, fields in pushes]


@fuzz(80)
@given(pushes=smscn_pushes())
def test_fuzz_smscn_pushes(anonymous, pushes):
    account = fuzz_account("smscn", "demo")
    n, sequence = pushes
    with unstorable_parameters() as found:
        for valid, fields, encoding, as_form in sequence:
            response = send_fields(
                anonymous, account.push_path, fields, "gbk" if valid else encoding, as_form
            )
            assert_answered(response)
            if valid:
                assert response.content == b"OK"
    assert found == []
    assert InboundMessage.objects.filter(phone=f"1890000{n:04d}", content=f"ok {n}").exists()
    assert DeliveryReport.objects.filter(vendor_message_id=f"fz{n}").exists()


@fuzz(100)
@given(
    vendor=st.sampled_from(["actiongw", "ashx5g", "montnets", "smsadmin", "smscn"]),
    body=st.one_of(
        st.binary(max_size=300),
        nasty_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.tuples(nasty_text, st.sampled_from(["gbk", "utf-16", "utf-32", "latin-1"])).map(
            lambda p: p[0].encode(p[1], "replace")
        ),
    ),
    content_type=st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain", "", "x/\x00"]
    ),
    query=st.dictionaries(nasty_text, nasty_text, max_size=4),
    method=st.sampled_from(["get", "post"]),
    token_suffix=st.sampled_from(["", "%00", "x", "%ff"]),
)
def test_fuzz_raw_push_bodies(anonymous, vendor, body, content_type, query, method, token_suffix):
    """Whatever arrives at a push URL (or one beside it) is answered, never with a 500."""
    ids = {"actiongw": "922011", "ashx5g": "123456", "montnets": "J10003"}
    account = fuzz_account(vendor, ids.get(vendor, "ID" if vendor == "smsadmin" else "demo"))
    qs = "&".join(f"{percent(k, 'utf-8')}={percent(v, 'utf-8')}" for k, v in query.items())
    path = account.push_path[:-1] + token_suffix + "/" + (f"?{qs}" if qs else "")
    with unstorable_parameters() as found:
        if method == "get":
            response = anonymous.get(path)
        else:
            response = anonymous.post(path, data=body, content_type=content_type)
    assert_answered(response)
    assert found == []


# --------------------------------------------------------------------------- portal filters


@pytest.fixture
def portal(marketer, vendor_account):
    """A marketer's client and something on every page to filter."""
    template = Template.objects.create(name="t", body="周末大促", created_by=marketer)
    recipients = RecipientList.objects.create(name="名单", columns=["name"])
    Recipient.objects.create(
        recipient_list=recipients, phone="13800000001", variables={"name": "张"}
    )
    campaign = Campaign.objects.create(
        name="c",
        template=template,
        vendor_account=vendor_account,
        recipient_list=recipients,
        created_by=marketer,
    )
    InboundMessage.objects.create(
        vendor_account=vendor_account,
        campaign=campaign,
        phone="13800000001",
        content="收到",
        received_at="2024-05-01T10:00:00+08:00",
    )
    client = Client(raise_request_exception=False)
    client.force_login(marketer)
    return client, campaign


PORTAL_PAGES = [
    ("/portal/campaigns/", ["q", "status", "page"]),
    ("/portal/lists/", ["q", "page"]),
    (
        "/portal/inbox/",
        ["q", "campaign", "account", "read", "unread", "opt_out", "date_from", "date_to", "page"],
    ),
    ("/portal/", ["q"]),
    ("/portal/compose/", ["template", "recipient_list", "vendor_account", "kind"]),
    ("/portal/replies.csv", ["campaign"]),
    ("/portal/replies.xlsx", ["campaign"]),
    ("/portal/campaigns/{campaign}/", ["sent"]),
    ("/portal/campaigns/{campaign}/stats.json", ["sent"]),
    ("/portal/lists/{list}/", ["page"]),
    ("/portal/lists/{list}/recipients.xlsx", []),
    ("/portal/campaigns/{campaign}/messages.csv", []),
]
filter_value = st.one_of(
    nasty_text,
    st.sampled_from(["1", "2", "true", "false", "draft", "sending", "2024-05-01", "-0", "1.5"]),
)


@fuzz(200)
@given(
    page=st.sampled_from(PORTAL_PAGES),
    values=st.lists(filter_value, min_size=1, max_size=9),
    extra=st.dictionaries(nasty_text, nasty_text, max_size=2),
    htmx=st.booleans(),
)
def test_fuzz_portal_filters(portal, page, values, extra, htmx):
    client, campaign = portal
    path, keys = page
    path = path.format(campaign=campaign.pk, list=campaign.recipient_list_id)
    params = dict(zip(keys, values, strict=False)) | extra
    qs = "&".join(f"{percent(k, 'utf-8')}={percent(v, 'utf-8')}" for k, v in params.items())
    headers = {"HX-Request": "true", "HX-Target": "results"} if htmx else {}
    with unstorable_parameters() as found:
        response = client.get(f"{path}?{qs}", headers=headers)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert_answered(response)
    assert found == []


@fuzz(60)
@given(
    ids=st.lists(nasty_text, max_size=6),
    filters=st.dictionaries(
        st.sampled_from(["q", "campaign", "account", "read", "opt_out", "date_from", "date_to"]),
        filter_value,
    ),
    everything=st.booleans(),
    mark=st.sampled_from(["read", "unread", "\x00", ""]),
    next_url=st.sampled_from(["", "/portal/inbox/?q=%00", "https://evil.example/", "\x00", "//x"]),
)
def test_fuzz_inbox_marking(portal, marketer, ids, filters, everything, mark, next_url):
    from django.contrib.auth.models import Permission

    marketer.user_permissions.add(Permission.objects.get(codename="change_inboundmessage"))
    client, _campaign = portal
    fields = [*filters.items(), *(("ids", i) for i in ids), ("mark", mark), ("next", next_url)]
    if everything:
        fields.append(("all", "1"))
    # Encoded by hand: a lone surrogate arrives as the bytes a browser would send for it.
    body = urlencode(fields, encoding="utf-8", errors="surrogatepass")
    with unstorable_parameters() as found:
        response = client.post(
            "/portal/inbox/mark/", body, content_type="application/x-www-form-urlencoded"
        )
    assert response.status_code == 302
    assert response["Location"].startswith("/") and not response["Location"].startswith("//")
    assert found == []


# --------------------------------------------------------------------------- readers

PHONE_HEADER = "手机号"
# Header names: no delimiter candidates (the delimiter is sniffed from the first line), no
# quotes or line breaks, and never empty (an empty name starts a two-level header).
header_name = st.text(
    alphabet=st.characters(
        blacklist_categories=["Cs", "Cc", "Zl", "Zp"], blacklist_characters=',;|\t"'
    ),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() and not any(ch.isdigit() for ch in s))
# Data cells: anything a text cell holds, but no NUL or other control character (a CSV with
# them in its first 8 KB is refused as binary, by design: then nothing is imported).
cell_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=40
) | st.sampled_from([s for s in SPECIAL if not any(ord(c) < 32 for c in s)])


@st.composite
def table(draw, cells=cell_text):
    """A header naming the phone column and garbage ones, valid rows among garbage rows."""
    n = next(SERIAL)
    names = draw(st.lists(header_name, min_size=1, max_size=5, unique=True))
    width = len(names) + 1
    valid = [
        [
            f"1{3 + k % 7}9{n % 10000:04d}{k:04d}",
            *draw(st.lists(cells, min_size=len(names), max_size=len(names))),
        ]
        for k in range(draw(st.integers(1, 6)))
    ]
    garbage = draw(st.lists(st.lists(cells, min_size=1, max_size=width + 2), max_size=6))
    rows = interleave(draw, valid, garbage)
    return [PHONE_HEADER, *names], rows, [row[0] for row in valid]


def csv_bytes(header, rows, encoding: str, delimiter: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    text = out.getvalue()
    if encoding == "utf-16":
        return text.encode("utf-16")  # with its BOM, as Excel's "Unicode text"
    return text.encode(encoding)


def import_bytes(recipient_list: RecipientList, name: str, data: bytes) -> ImportJob | None:
    """Upload, map and import as the pages do; None when the file is refused (with a
    ``SpreadsheetError``, the only refusal a reader may raise)."""
    try:
        job = service.inspect_upload(recipient_list, SimpleUploadedFile(name, data))
    except SpreadsheetError as e:
        assert str(e)
        return None
    job.phone_column = job.phone_column or PHONE_HEADER
    job.save()
    with contextlib.suppress(SpreadsheetError):  # shown on the mapping page
        service.preview(job)
    return service.run_import(job.pk)


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@fuzz(100)
@given(
    data=table(),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]),
    delimiter=st.sampled_from([",", ",", "\t", ";"]),
)
def test_fuzz_csv_imports_every_valid_row(media_root, data, encoding, delimiter):
    header, rows, phones = data
    target = RecipientList.objects.create(name="fuzz")
    job = import_bytes(target, "fuzz.csv", csv_bytes(header, rows, encoding, delimiter))
    assert job is not None and job.state == ImportJob.State.DONE, job and job.error
    stored = set(target.recipients.values_list("phone", flat=True))
    assert set(phones) <= stored


xlsx_cell = st.one_of(
    cell_text.map(lambda s: ILLEGAL_CHARACTERS_RE.sub("", s)),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.datetimes(min_value=dt.datetime(1900, 3, 1)),
)


def xlsx_bytes(header, rows) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@fuzz(60)
@given(data=table(cells=xlsx_cell))
def test_fuzz_xlsx_imports_every_valid_row(media_root, data):
    header, rows, phones = data
    target = RecipientList.objects.create(name="fuzz")
    job = import_bytes(target, "fuzz.xlsx", xlsx_bytes(header, rows))
    assert job is not None and job.state == ImportJob.State.DONE, job and job.error
    assert set(phones) <= set(target.recipients.values_list("phone", flat=True))


def xls_bytes(header, rows) -> bytes:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("名单")
    for r, row in enumerate([header, *rows]):
        for c, value in enumerate(row[:200]):
            sheet.write(r, c, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


xls_cell = st.one_of(
    cell_text.map(lambda s: s[:255]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)


@fuzz(50)
@given(data=table(cells=xls_cell))
def test_fuzz_xls_imports_every_valid_row(media_root, data):
    header, rows, phones = data
    target = RecipientList.objects.create(name="fuzz")
    job = import_bytes(target, "fuzz.xls", xls_bytes(header, rows))
    assert job is not None and job.state == ImportJob.State.DONE, job and job.error
    assert set(phones) <= set(target.recipients.values_list("phone", flat=True))


def damage(data: bytes, seed: int, flips: int, cut: float | None) -> bytes:
    rng = random.Random(seed)
    damaged = bytearray(data)
    for _ in range(flips):
        damaged[rng.randrange(len(damaged))] = rng.randrange(256)
    if cut is not None:
        damaged = damaged[: max(1, int(len(damaged) * cut))]
    return bytes(damaged)


@fuzz(120)
@given(
    data=table(cells=xlsx_cell),
    fmt=st.sampled_from(["xlsx", "xls", "csv-utf-8", "csv-gb18030", "csv-utf-16"]),
    seed=st.integers(0, 2**32),
    flips=st.integers(0, 6),
    cut=st.none() | st.floats(0.05, 0.99),
    junk=st.binary(max_size=64),
)
def test_fuzz_damaged_files_are_refused_clearly(media_root, data, fmt, seed, flips, cut, junk):
    """Any file — damaged, cut short, random bytes — is read or refused with a message; it
    never raises anything else, at upload, on the mapping page or while importing."""
    header, rows, _phones = data
    if fmt == "xlsx":
        original = xlsx_bytes(header, rows)
    elif fmt == "xls":
        original = xls_bytes(
            header, [[v for v in r if not isinstance(v, int) or abs(v) < 2**50] for r in rows]
        )
    else:
        text_rows = [[str(v) for v in row] for row in rows]
        original = csv_bytes(header, text_rows, fmt[4:], ",")
    target = RecipientList.objects.create(name="fuzz")
    for content in (damage(original, seed, flips, cut), junk + original[len(junk) :]):
        job = import_bytes(target, f"fuzz.{fmt[:4]}", content)
        assert job is None or job.state in (ImportJob.State.DONE, ImportJob.State.FAILED)
        if job is not None and job.state == ImportJob.State.FAILED:
            assert "Traceback" not in job.error and job.error


@fuzz(40)
@given(
    data=table(cells=xlsx_cell),
    fmt=st.sampled_from(["xlsx", "csv"]),
    seed=st.integers(0, 2**32),
    flips=st.integers(0, 4),
)
def test_fuzz_upload_pages_never_fail(media_root, marketer, data, fmt, seed, flips):
    client = Client(raise_request_exception=False)
    client.force_login(marketer)
    header, rows, _phones = data
    target = RecipientList.objects.create(name="fuzz")
    if fmt == "xlsx":
        content = xlsx_bytes(header, rows)
    else:
        content = csv_bytes(header, [[str(v) for v in r] for r in rows], "utf-8", ",")
    content = damage(content, seed, flips, None)
    response = client.post(
        f"/portal/lists/{target.pk}/import/upload/",
        {"file": SimpleUploadedFile(f"f.{fmt}", content)},
    )
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 302:
        mapping = client.get(response["Location"])
        assert mapping.status_code == 200
        confirm = client.post(response["Location"], {"phone_column": PHONE_HEADER, "confirm": "1"})
        assert confirm.status_code in (200, 302)


def test_fuzz_readers_open_only_with_spreadsheet_errors(tmp_path):
    """The readers on their own, on every fixture cut at every length class."""
    for source in sorted((FIXTURES / "spreadsheets").iterdir()):
        if source.suffix not in (".csv", ".xlsx", ".xls"):
            continue
        data = source.read_bytes()
        for cut in (1, 8, 100, len(data) // 3, len(data) // 2, len(data) - 10):
            path = tmp_path / f"cut{source.suffix}"
            path.write_bytes(data[:cut])
            try:
                table_ = open_table(str(path))
                list(table_.rows())
            except SpreadsheetError:
                pass
    with zipfile.ZipFile(tmp_path / "empty.xlsx", "w") as archive:
        archive.writestr("xl/workbook.xml", "")
    with pytest.raises(SpreadsheetError):
        open_table(str(tmp_path / "empty.xlsx"))
