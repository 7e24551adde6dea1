"""A Montnets gateway as strict as the v5.13 document: send_single, send_batch, get_rpt and the
RPT_REQ report push.

By default it answers valid JSON with unsigned ids.  ``POST /_sim/montnets/quirks`` makes it
answer like the real gateway does (each flag on its own, ``{"bare_desc": true, ...}``):

``bare_desc``          ``"desc":%e6%88%90%e5%8a%9f`` unquoted, as in every JSON sample
``trailing_comma``     objects end ``,\\n}``
``positive_codes``     error results without their minus sign (``100001``)
``empty_rpts_string``  an empty get_rpt answers ``"rpts":""`` rather than ``[]``
``signed_ids``         msgids rendered as Java's signed long (2.2.6 "msgid allows negative")
``form_push``          RPT_REQ pushed as x-www-form-urlencoded with ``rpts`` as JSON text
"""

from __future__ import annotations

import hmac
import json
import re
import time
from collections import deque
from datetime import datetime
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode

import requests

from messaging.statuses import Status

from ..base import segments
from ..simulator import (
    CHINA,
    AcceptedMessage,
    PushCall,
    SimAccount,
    SimRequest,
    SimResponse,
    VendorSimulator,
)
from .client import (
    GET_RPT_PATH,
    MAX_CONTENT_CHARS,
    MAX_NUMBERS_PER_BATCH,
    MAX_REPORTS_PER_POLL,
    SEND_BATCH_PATH,
    SEND_SINGLE_PATH,
    MontnetsClient,
    msgid_number,
    parse_local_time,
    part_id,
    password_digest,
    stored_number,
)
from .codes import ERROR_CODES, REPORT_CODES

# The document asks for "accurate time" (3.1) but names no window; ten minutes is our choice.
TIMESTAMP_TOLERANCE_S = 600
# msgids above the signed 64-bit range, like the document's 9223372036854775808.
MSGID_BASE = 2**63
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
SUCCESS_DESC = "成功"
OUTCOME_CODES = {
    Status.DELIVERED: "DELIVRD",
    Status.UNDELIVERED: "UNDELIV",
    Status.EXPIRED: "EXPIRED",
    Status.REJECTED: "REJECTD",
}
# The document's error samples: each operation's answer keeps its own fields, emptied.
FAILURE_FIELDS: dict[str, dict] = {
    SEND_SINGLE_PATH: {"msgid": 0, "custid": ""},
    SEND_BATCH_PATH: {"messages": []},
    GET_RPT_PATH: {"rpts": ""},
}
QUIRKS = frozenset(
    {
        "bare_desc",
        "trailing_comma",
        "positive_codes",
        "empty_rpts_string",
        "signed_ids",
        "form_push",
    }
)
NUMBER = re.compile(r"(\+|00)?[1-9]\d{6,14}")  # the three formats of 3.2
# 3.2: "the country code must be included".  Eleven digits starting 13-19 with no prefix are a
# mainland mobile without its 86 (what the gateway refuses for 15805005050); a +1 number of
# that shape must come as +1… or 001….
MAINLAND_WITHOUT_COUNTRY_CODE = re.compile(r"1[3-9]\d{9}")
CUSTOM_FIELD = re.compile(r"[A-Za-z0-9_-]{0,64}")  # custid / exdata, 2.1.3
# Enough of the ITU list for the report's countrycode; other numbers get their first two digits.
COUNTRY_CODES = ("852", "853", "886", "1", "7", "44", "60", "61", "65", "81", "82", "86", "91")
SEGMENT_LIMITS = (
    *MontnetsClient.capabilities.sms_segment_chars,
    *MontnetsClient.capabilities.ascii_segment_chars,
)


def _number_error(mobile: str) -> str:
    if not mobile:
        return "-100012"
    if not NUMBER.fullmatch(mobile) or MAINLAND_WITHOUT_COUNTRY_CODE.fullmatch(mobile):
        return "-100274"  # "Mobile number does not meet the rules" (of 3.2)
    return ""


def _international_digits(phone: str) -> str:
    """A number of 3.2 as country code + number (form 1), as the gateway writes reports."""
    return phone[1:] if phone.startswith("+") else phone[2:] if phone.startswith("00") else phone


def _country_code(digits: str) -> int:
    return int(next((code for code in COUNTRY_CODES if digits.startswith(code)), digits[:2]))


class MontnetsSimulator(VendorSimulator):
    key = "montnets"
    min_poll_interval_s = 5.0
    push_batch_size = 500  # 2.3.1 (reports: a long message's parts count one each)
    replies = False  # the document has no MO (reply) interface

    def handle(self, request: SimRequest) -> SimResponse:
        return self._serve(request, out_of_credit=False)

    # The gateway's own refusals for the misbehaviour switch.
    def rate_limited(self, request: SimRequest) -> SimResponse:
        return self._failure(request.path, "-100056")

    def auth_failed(self, request: SimRequest) -> SimResponse:
        return self._failure(request.path, "-100001")

    def no_balance(self, request: SimRequest) -> SimResponse:
        return self._serve(request, out_of_credit=True)

    def account_id_error(self, account_id: str) -> str:
        # 2.1.3 (and every userid row): "User account: up to 6 characters in length, in
        # uppercase" ("the maximum length is 6 bytes" in 2.3.3).  The gateway issues no other
        # ids, and compares the userid it receives exactly: a lower-case id could never
        # authenticate, since clients upper-case it (3.1).
        if not account_id.isascii() or not 1 <= len(account_id) <= 6:
            return "a Montnets userid is 1 to 6 ASCII characters"
        if account_id != account_id.upper():
            return "a Montnets userid is upper case"
        return ""

    def control(self, action: str, payload: dict) -> dict:
        state = self.state.vendor_state[self.key]
        if action == "freeze_clock":
            # Lets the document's samples, signed at "0803192020", pass the timestamp check.
            now = payload.get("now")
            state["frozen_now"] = parse_local_time(now) if now else None
            return {"ok": True}
        if action == "quirks":
            unknown = set(payload) - QUIRKS
            if unknown:
                raise ValueError(f"unknown quirks: {sorted(unknown)}")
            quirks = set(state.get("quirks", ()))
            quirks |= {name for name, on in payload.items() if on}
            quirks -= {name for name, on in payload.items() if not on}
            state["quirks"] = frozenset(quirks)
            return {"quirks": sorted(quirks)}
        raise KeyError(action)

    def _quirks(self) -> frozenset[str]:
        return self.state.vendor_state[self.key].get("quirks", frozenset())

    # answers -------------------------------------------------------------
    def _json(self, body: dict) -> SimResponse:
        """An answer, valid JSON unless quirks say to answer like the real gateway."""
        quirks = self._quirks()
        if "positive_codes" in quirks and isinstance(body.get("result"), int):
            body["result"] = abs(body["result"])
        if "empty_rpts_string" in quirks and body.get("rpts") == []:
            body["rpts"] = ""
        if quirks & {"bare_desc", "trailing_comma"}:
            members = [
                f'"{name}":'
                + (
                    str(value)
                    if name == "desc" and value and "bare_desc" in quirks
                    else json.dumps(value, ensure_ascii=False)
                )
                for name, value in body.items()
            ]
            end = ",\n}" if "trailing_comma" in quirks else "\n}"
            text = "{\n" + ",\n".join(members) + end
        else:
            text = json.dumps(body, ensure_ascii=False)
        return SimResponse(text, content_type="application/json; charset=utf-8")

    def _msgid(self, value: int | str) -> int:
        number = msgid_number(value)
        if "signed_ids" in self._quirks() and number >= 2**63:
            return number - 2**64
        return number

    # requests ------------------------------------------------------------
    def _serve(self, request: SimRequest, *, out_of_credit: bool) -> SimResponse:
        if request.path not in FAILURE_FIELDS:
            return SimResponse("Not Found", status=404)
        fields = self._fields(request)
        if fields is None:
            return self._failure(request.path, "-100100")
        account, error = self._authenticate(fields)
        if account is None:
            return self._failure(request.path, error)
        if request.path == GET_RPT_PATH:
            return self._get_rpt(account, fields)
        if request.path == SEND_SINGLE_PATH:
            return self._send_single(account, fields, out_of_credit)
        return self._send_batch(account, fields, out_of_credit)

    def _fields(self, request: SimRequest) -> dict[str, str] | None:
        """The request's fields with the content decoded, or None for a body the gateway cannot
        read (-100100)."""
        if request.method == "POST" and request.content_type == "application/json":
            try:
                data = request.json()
            except ValueError:
                return None
            if not isinstance(data, dict):
                return None
            fields = {name: "" if value is None else str(value) for name, value in data.items()}
            # Inside JSON the content is still URL-encoded UTF-8 (2.1.3).
            fields["content"] = unquote_plus(fields.get("content", ""))
            return fields
        if request.path == SEND_BATCH_PATH:
            return None  # 2.4.2: send_batch takes a JSON POST only
        if request.method == "GET" or request.content_type == "application/x-www-form-urlencoded":
            # The form samples encode the content once, as the form encoding itself.
            return request.params()
        # XML: the document's XML samples lost every element name, so nobody can know the tags.
        return None

    def _authenticate(self, fields: dict[str, str]) -> tuple[SimAccount | None, str]:
        account = self.find_account(fields.get("userid", ""))
        timestamp = fields.get("timestamp", "")
        if account is None or not re.fullmatch(r"\d{10}", timestamp):
            return None, "-100001"
        expected = password_digest(account.account_id, account.secret, timestamp)
        if not hmac.compare_digest(fields.get("pwd", ""), expected):
            return None, "-100001"
        if not self._fresh(timestamp):
            return None, "-100268"
        return account, ""

    def _fresh(self, timestamp: str) -> bool:
        """MMDDHHMMSS has no year: the signed time may fall in the previous or the next year."""
        now = self._now()
        for year in (now.year - 1, now.year, now.year + 1):
            try:
                signed = datetime.strptime(f"{year}{timestamp}", "%Y%m%d%H%M%S")
            except ValueError:  # e.g. 0229 outside a leap year
                continue
            if abs((signed.replace(tzinfo=CHINA) - now).total_seconds()) <= TIMESTAMP_TOLERANCE_S:
                return True
        return False

    def _now(self) -> datetime:
        return self.state.vendor_state[self.key].get("frozen_now") or datetime.now(CHINA)

    def _failure(self, path: str, code: str) -> SimResponse:
        # desc is URL-encoded UTF-8, except get_rpt's, which its table says is GB2312.
        encoding = "gb2312" if path == GET_RPT_PATH else "utf-8"
        desc = quote(ERROR_CODES[code].zh, encoding=encoding)
        return self._json({"result": int(code), "desc": desc, **FAILURE_FIELDS.get(path, {})})

    # sending -------------------------------------------------------------
    def _content_error(self, fields: dict[str, str]) -> str:
        content = fields.get("content", "")
        if not content:
            return "-100271"
        if len(content) > MAX_CONTENT_CHARS:
            return "-100011"
        if not all(CUSTOM_FIELD.fullmatch(fields.get(name, "")) for name in ("custid", "exdata")):
            return "-100004"
        return ""

    def _send_single(self, account: SimAccount, fields: dict[str, str], out_of_credit: bool):
        mobile = fields.get("mobile", "").strip()
        if "," in mobile:
            return self._failure(SEND_SINGLE_PATH, "-100807")  # 5.4: one number per send_single
        error = _number_error(mobile) or self._content_error(fields)
        if error:
            return self._failure(SEND_SINGLE_PATH, error)
        # 2.1.6: without a custid the gateway makes one up for the batch and answers it.
        custid = fields.get("custid") or str(self.state.next_id())
        message = self._accept(account, mobile, fields, custid, out_of_credit)
        return self._json(
            {
                "result": 0,
                "desc": quote(SUCCESS_DESC),
                "msgid": self._msgid(message.vendor_message_id),
                "custid": custid,
            }
        )

    def _send_batch(self, account: SimAccount, fields: dict[str, str], out_of_credit: bool):
        # The table's example separates the numbers with ", ".
        numbers = [number.strip() for number in fields.get("mobile", "").split(",")]
        if len(numbers) > MAX_NUMBERS_PER_BATCH:
            return self._failure(SEND_BATCH_PATH, "-100014")
        # 3.2: one illegal number makes the whole request fail.
        error = next(filter(None, map(_number_error, numbers)), "") or self._content_error(fields)
        if error:
            return self._failure(SEND_BATCH_PATH, error)
        custid = fields.get("custid") or str(self.state.next_id())
        answers = []
        for number in numbers:
            message = self._accept(account, number, fields, custid, out_of_credit)
            answers.append({"mobile": number, "msgid": self._msgid(message.vendor_message_id)})
        return self._json({"result": 0, "desc": quote(SUCCESS_DESC), "messages": answers})

    def _accept(
        self,
        account: SimAccount,
        mobile: str,
        fields: dict[str, str],
        custid: str,
        out_of_credit: bool,
    ) -> AcceptedMessage:
        content = fields["content"]
        parts = segments(content, *SEGMENT_LIMITS)
        broke = out_of_credit or account.balance < parts
        message = self.state.accept(
            account,
            phone=mobile,
            content=content,
            vendor_message_id=str(MSGID_BASE + self.state.next_id()),
            custom_id=custid,
            extension=fields.get("exno", ""),
            parts=parts,
            extra={"exdata": fields.get("exdata", "")},
        )
        # Outcomes set for a number in our stored form (13800000001, +85292041234) apply to
        # it in whichever form of 3.2 it was sent.
        stored = stored_number(mobile)
        if mobile not in self.state.phone_outcomes and stored in self.state.phone_outcomes:
            message.outcome = self.state.phone_outcomes[stored]
        if broke:
            # The document has no submit-time balance error; its only word on credit is the
            # report errdesc example "Failed to submit: outstanding bill".  Nothing is charged.
            with self.state.lock:
                account.balance += parts
            message.outcome = Status.REJECTED
            message.extra["errdesc"] = "outstanding bill"
        return message

    # reports -------------------------------------------------------------
    def _get_rpt(self, account: SimAccount, fields: dict[str, str]) -> SimResponse:
        # 5.2 only asks for the 5 s pause after an empty answer, so that is what is enforced, with
        # the closest code the table has (the document has none for polling too often).
        if self._too_soon(account):
            return self._failure(GET_RPT_PATH, "-100056")
        try:
            retsize = int(fields.get("retsize") or 0)
        except ValueError:
            retsize = 0
        # 2.2.3: <= 0 or missing means the default 500; more than 500 is served as 500.
        retsize = MAX_REPORTS_PER_POLL if retsize <= 0 else min(retsize, MAX_REPORTS_PER_POLL)
        # 5.3: an account whose reports are pushed gets none from get_rpt.
        parts = [] if account.push_url else self._take_parts(account, retsize)
        with self.state.lock:
            empty_at = self.state.vendor_state[self.key].setdefault("empty_poll_at", {})
            if parts:
                empty_at.pop(account.account_id, None)
            else:
                empty_at[account.account_id] = time.monotonic()
        # 2.2.6: errdesc is encoded like the request's content, i.e. URL-encoded.
        rpts = [self._report_item(m, part, escape_errdesc=True) for m, part in parts]
        return self._json(
            {"result": 0, "desc": quote(SUCCESS_DESC, encoding="gb2312"), "rpts": rpts}
        )

    def _take_parts(self, account: SimAccount, limit: int) -> list[tuple[AcceptedMessage, int]]:
        """Up to ``limit`` part reports: one per part of a long message (pknum / pktotal).  Parts
        that do not fit wait for the next get_rpt, before any newer message's."""
        with self.state.lock:
            waiting = self.state.vendor_state[self.key].setdefault("waiting_parts", {})
            backlog = waiting.setdefault(account.account_id, deque())
            taken = [backlog.popleft() for _ in range(min(limit, len(backlog)))]
        if len(taken) < limit:
            for message in self.state.take_reports(
                self.key, account.account_id, limit - len(taken)
            ):
                for part in range(1, message.parts + 1):
                    if len(taken) < limit:
                        taken.append((message, part))
                    else:
                        with self.state.lock:
                            backlog.append((message, part))
        return taken

    def _too_soon(self, account: SimAccount) -> bool:
        with self.state.lock:
            empty_at = self.state.vendor_state[self.key].get("empty_poll_at", {})
            last = empty_at.get(account.account_id)
        return (
            self.state.enforce_poll_interval
            and last is not None
            and time.monotonic() - last < self.min_poll_interval_s
        )

    def _report_item(self, message: AcceptedMessage, part: int, *, escape_errdesc: bool) -> dict:
        errcode = OUTCOME_CODES.get(message.outcome, "UNDELIV")
        errdesc = message.extra.get("errdesc") or (
            "success" if errcode == "DELIVRD" else REPORT_CODES[errcode].en
        )
        digits = _international_digits(message.phone)
        return {
            # Part n of a long message has its own id, numbered as Montnets' SDK does.
            "msgid": self._msgid(part_id(int(message.vendor_message_id), part)),
            "custid": message.custom_id,
            "pknum": part,
            "pktotal": message.parts,
            "mobile": digits,
            "countrycode": _country_code(digits),
            "spno": "",
            "exno": message.extension,
            "stime": datetime.fromtimestamp(message.accepted_at, CHINA).strftime(TIME_FORMAT),
            "rtime": self._now().strftime(TIME_FORMAT),
            "status": 0 if errcode == "DELIVRD" else 1,
            "errcode": errcode,
            "errdesc": quote(errdesc) if escape_errdesc else errdesc,
            "exdata": message.extra.get("exdata", ""),
        }

    # pushes --------------------------------------------------------------
    def report_push(self, account: SimAccount, messages: list[AcceptedMessage]) -> PushCall:
        # 2.3.1: at most 500 reports per push, a long message's parts counting one each.  The
        # messages that do not fit go back to the queue, and leave the list the push loop puts
        # back should this push fail.
        count = 0
        for fitting, message in enumerate(messages):
            if fitting and count + message.parts > self.push_batch_size:
                self.state.put_back_reports(self.key, account.account_id, messages[fitting:])
                del messages[fitting:]
                break
            count += message.parts
        form = "form_push" in self._quirks()
        timestamp = self._now().strftime("%m%d%H%M%S")
        body = {
            "userid": account.account_id.upper(),
            "pwd": password_digest(account.account_id, account.secret, timestamp),
            "timestamp": timestamp,
            "cmd": "RPT_REQ",
            "seqid": self.state.next_id(),
            # 2.3.3: errdesc is plain UTF-8 in a JSON push, URL-encoded in a form push.
            "rpts": [
                self._report_item(m, part, escape_errdesc=form)
                for m in messages
                for part in range(1, m.parts + 1)
            ],
        }
        if form:
            body["rpts"] = json.dumps(body["rpts"], ensure_ascii=False)
            return PushCall(
                "POST",
                account.push_url,
                body=urlencode(body).encode("ascii"),
                headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            )
        return PushCall(
            "POST",
            account.push_url,
            body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )

    def push_acknowledged(self, call: PushCall, response: requests.Response) -> bool:
        """2.3.5: the receiver answers RPT_RESP with the push's seqid and result 0."""
        try:
            answer = response.json()
        except ValueError:
            return False
        return (
            response.status_code == 200
            and isinstance(answer, dict)
            and answer.get("cmd") == "RPT_RESP"
            and answer.get("seqid") == _pushed_seqid(call.body)
            and answer.get("result") == 0
        )


def _pushed_seqid(body: bytes) -> int | None:
    if body.lstrip().startswith(b"{"):
        return json.loads(body)["seqid"]
    seqid = dict(parse_qsl(body.decode("ascii"))).get("seqid", "")
    return int(seqid) if seqid.isdigit() else None
