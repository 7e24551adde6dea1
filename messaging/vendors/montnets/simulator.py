"""A Montnets gateway as strict as the v5.13 document: send_single, send_batch, get_rpt and the
RPT_REQ report push."""

from __future__ import annotations

import hmac
import json
import re
import time
from datetime import datetime
from urllib.parse import quote, unquote_plus

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
    MAX_NUMBERS_PER_BATCH,
    MAX_REPORTS_PER_POLL,
    SEND_BATCH_PATH,
    SEND_SINGLE_PATH,
    comparable_number,
    parse_local_time,
    password_digest,
)
from .codes import ERROR_CODES, REPORT_CODES

MAX_CONTENT_CHARS = 1000  # 2.1.3
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
NUMBER = re.compile(r"(\+|00)?[1-9]\d{6,14}")  # the three formats of 3.2
CUSTOM_FIELD = re.compile(r"[A-Za-z0-9_-]{0,64}")  # custid / exdata, 2.1.3
# Enough of the ITU list for the report's countrycode; other numbers get their first two digits.
COUNTRY_CODES = ("852", "853", "886", "1", "7", "44", "60", "61", "65", "81", "82", "86", "91")


def _json(body: dict) -> SimResponse:
    return SimResponse(
        json.dumps(body, ensure_ascii=False), content_type="application/json; charset=utf-8"
    )


def _number_error(mobile: str) -> str:
    if not mobile:
        return "-100012"
    return "" if NUMBER.fullmatch(mobile) else "-100274"


def _country_code(phone: str) -> int:
    digits = comparable_number(phone)
    return int(next((code for code in COUNTRY_CODES if digits.startswith(code)), digits[:2]))


class MontnetsSimulator(VendorSimulator):
    key = "montnets"
    min_poll_interval_s = 5.0
    push_batch_size = 500  # 2.3.1

    def handle(self, request: SimRequest) -> SimResponse:
        return self._serve(request, out_of_credit=False)

    # The gateway's own refusals for the misbehaviour switch.
    def rate_limited(self, request: SimRequest) -> SimResponse:
        return self._failure(request.path, "-100056")

    def auth_failed(self, request: SimRequest) -> SimResponse:
        return self._failure(request.path, "-100001")

    def no_balance(self, request: SimRequest) -> SimResponse:
        return self._serve(request, out_of_credit=True)

    def control(self, action: str, payload: dict) -> dict:
        if action == "freeze_clock":
            # Lets the document's samples, signed at "0803192020", pass the timestamp check.
            now = payload.get("now")
            self.state.vendor_state[self.key]["frozen_now"] = parse_local_time(now) if now else None
            return {"ok": True}
        raise KeyError(action)

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
        return _json({"result": int(code), "desc": desc, **FAILURE_FIELDS.get(path, {})})

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
        return _json(
            {
                "result": 0,
                "desc": quote(SUCCESS_DESC),
                "msgid": int(message.vendor_message_id),
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
            answers.append({"mobile": number, "msgid": int(message.vendor_message_id)})
        return _json({"result": 0, "desc": quote(SUCCESS_DESC), "messages": answers})

    def _accept(
        self,
        account: SimAccount,
        mobile: str,
        fields: dict[str, str],
        custid: str,
        out_of_credit: bool,
    ) -> AcceptedMessage:
        content = fields["content"]
        parts = segments(content)
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
        messages = (
            []
            if account.push_url
            else self.state.take_reports(self.key, account.account_id, retsize)
        )
        with self.state.lock:
            empty_at = self.state.vendor_state[self.key].setdefault("empty_poll_at", {})
            if messages:
                empty_at.pop(account.account_id, None)
            else:
                empty_at[account.account_id] = time.monotonic()
        # 2.2.6: errdesc is encoded like the request's content, i.e. URL-encoded.
        rpts = [self._report_item(m, escape_errdesc=True) for m in messages]
        return _json({"result": 0, "desc": quote(SUCCESS_DESC, encoding="gb2312"), "rpts": rpts})

    def _too_soon(self, account: SimAccount) -> bool:
        with self.state.lock:
            empty_at = self.state.vendor_state[self.key].get("empty_poll_at", {})
            last = empty_at.get(account.account_id)
        return (
            self.state.enforce_poll_interval
            and last is not None
            and time.monotonic() - last < self.min_poll_interval_s
        )

    def _report_item(self, message: AcceptedMessage, *, escape_errdesc: bool) -> dict:
        errcode = OUTCOME_CODES.get(message.outcome, "UNDELIV")
        errdesc = message.extra.get("errdesc") or (
            "success" if errcode == "DELIVRD" else REPORT_CODES[errcode].en
        )
        return {
            "msgid": int(message.vendor_message_id),
            "custid": message.custom_id,
            # One report per message, as for its last part.
            "pknum": message.parts,
            "pktotal": message.parts,
            "mobile": message.phone,
            "countrycode": _country_code(message.phone),
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
        timestamp = self._now().strftime("%m%d%H%M%S")
        body = {
            "userid": account.account_id.upper(),
            "pwd": password_digest(account.account_id, account.secret, timestamp),
            "timestamp": timestamp,
            "cmd": "RPT_REQ",
            "seqid": self.state.next_id(),
            # 2.3.3: in a JSON push errdesc is plain UTF-8.
            "rpts": [self._report_item(m, escape_errdesc=False) for m in messages],
        }
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
            and answer.get("seqid") == json.loads(call.body)["seqid"]
            and answer.get("result") == 0
        )
