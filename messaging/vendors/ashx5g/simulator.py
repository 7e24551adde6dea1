"""Simulator of the ashx5g gateway, as strict as its document ("5G SMS Interface" v8.33).

Accepts GET, form POST and JSON POST (section 7) on every endpoint except the POST-only
``mts_var.ashx`` and ``mms_create.ashx``; checks plain and md5+ts credentials, UTF-8, required
fields, numbers, content, balance, the 50,000-group and 5,000,000-number limits, template values
and titles, and the 5-second interval that spaces every manual call of an account (rpt, mo,
balance, bi) together, and answers with the document's ``result`` codes in ``rf=json`` or
``rf=kv``.

Account options (``SimAccount.options``): ``auth_mode="md5"`` refuses plain passwords (914);
``uid`` is the ``uid`` of report and reply items; ``rate_limit_reply="frequency_deny"`` makes
the account answer like the older gateway family - a too-frequent call (and the engine's
``rate_limit`` misbehaviour) gets the plain text "frequency deny.please query slowly.f:5sec."
with HTTP 200 instead of result=920, ``frequency_deny_s`` giving the seconds it names.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from datetime import datetime
from urllib.parse import parse_qsl, quote

import requests

from messaging.statuses import Status

from ..base import segments
from ..simulator import (
    CHINA,
    AcceptedMessage,
    PushCall,
    SimAccount,
    SimReply,
    SimRequest,
    SimResponse,
    VendorSimulator,
)
from . import codes
from .client import (
    MAX_TITLE_CHARS,
    TEMPLATE_FILE_TYPES,
    TS_FORMAT,
    VARIABLE_SEPARATOR,
    Ashx5gClient,
    md5_password,
    title_length,
)

JSON_TYPE = "application/json; charset=UTF-8"
DASHED_TIME = "%Y-%m-%d %H:%M:%S"
"""The time format of reply items and template answers (3.7, 5.1)."""
PHONE = re.compile(r"(?:\+?86)?1\d{10}")
MSG_FORMATS = frozenset({"0", "3", "4", "8", "15"})
"""msg_fmt values the overview allows (item 9)."""
REPLY_FORMATS = frozenset({"json", "xml", "kv"})
"""rf values (2.1, 3.1)."""
MANUAL_CALLS = "manual"
"""The one poll-interval clock of rpt, mo, balance and bi (3, item 4)."""
FREQUENCY_DENY = "frequency deny.please query slowly.f:{seconds}sec."
"""The older gateways' too-frequent answer (plain text, HTTP 200)."""
TEMPLATE_VARIABLE = re.compile(r"\{var\d+\}")
"""Placeholders in a template's text: {var1}, {var2}... (5.1 notes)."""
# Quirk: the address table (1) lists mms_create.ashx as [GET POST], but 5.1 says POST, and its
# files cannot travel in a query string: POST only, like mts_var.ashx.
POST_ONLY = frozenset({"/mts_var.ashx", "/mms_create.ashx"})
REPORT_CODE_OF_OUTCOME = {
    Status.DELIVERED: "DELIVRD",
    Status.EXPIRED: "EXPIRED",
    Status.REJECTED: "REJECTD",
}


def _is_timestamp(text: str) -> bool:
    try:
        datetime.strptime(text, TS_FORMAT)
    except ValueError:
        return False
    return len(text) == 14


def _kv(fields: dict) -> str:
    return "&".join(
        f"{name}={value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
        for name, value in fields.items()
    )


def _template_frames(files: object) -> list[tuple[str, bytes]] | None:
    """(content_type, data) per file of an upload, or None when one is malformed."""
    if not isinstance(files, list) or not files:
        return None
    frames = []
    for file in files:
        if not isinstance(file, dict) or file.get("content_type") not in TEMPLATE_FILE_TYPES:
            return None
        if not all(str(file.get(name, "")) for name in ("index", "id", "content")):
            return None
        try:
            data = bytes.fromhex(str(file["content"]))
            if file["content_type"] == "text/plain":
                data.decode("utf-8")  # "编码格式:UTF-8" (5.1)
        except ValueError:
            return None
        frames.append((file["content_type"], data))
    return frames


class Ashx5gSimulator(VendorSimulator):
    key = "ashx5g"
    min_poll_interval_s = codes.POLL_INTERVAL_S
    max_content_chars = 1000
    """The document has code 915 (content length) but names no maximum: this one is ours."""
    max_group_numbers = 4_999_999
    """"单批次 <500 万" (overview item 13)."""

    def handle(self, request: SimRequest) -> SimResponse:
        endpoint = {
            "/mt.ashx": self._mt,
            "/mts.ashx": self._mts,
            "/mts_var.ashx": self._mts_var,
            "/rpt.ashx": self._rpt,
            "/mo.ashx": self._mo,
            "/bi.ashx": self._bi,
            "/balance.ashx": self._balance,
            "/mms_create.ashx": self._mms_create,
        }.get(request.path)
        if endpoint is None:
            return SimResponse("Not Found", status=404)
        try:
            fields = self._fields(request)
        except ValueError:  # not UTF-8 ("平台内容编码方式为 UTF-8"), or unreadable JSON
            return self._error(request.path, {}, "-1")
        if request.method != "POST" and request.path in POST_ONLY:
            return self._error(request.path, fields, "918")
        if str(fields.get("rf", "json")) not in REPLY_FORMATS:
            return self._error(request.path, {}, "-1")
        account, refusal = self._authenticate(fields)
        if refusal:
            return self._error(request.path, fields, refusal)
        return endpoint(account, fields)

    # the vendor's own answers to the shared misbehaviour switch ------------
    def rate_limited(self, request: SimRequest) -> SimResponse:
        try:
            fields = self._fields(request)
        except ValueError:
            fields = {}
        account = self.find_account(str(fields.get("account", "")))
        return self._too_frequent(request.path, fields, account)

    def auth_failed(self, request: SimRequest) -> SimResponse:
        return self._error_for(request, "901")

    def no_balance(self, request: SimRequest) -> SimResponse:
        return self._error_for(request, "906")

    def _error_for(self, request: SimRequest, code: str) -> SimResponse:
        try:
            fields = self._fields(request)
        except ValueError:
            fields = {}
        return self._error(request.path, fields, code)

    # request reading -------------------------------------------------------
    @staticmethod
    def _fields(request: SimRequest) -> dict:
        """The request's fields; ValueError when they are not UTF-8 (overview item 1)."""
        if request.content_type == "application/json":
            # 7.2.2: the same fields as a JSON object; files and vars may be real arrays.
            body = request.json()  # decodes UTF-8 strictly
            if not isinstance(body, dict):
                raise ValueError("JSON body is not an object")
            return {k: v if isinstance(v, list | dict) else str(v) for k, v in body.items()}
        fields = request.params("utf-8")  # fast, but bytes that are not UTF-8 become U+FFFD
        if any("\ufffd" in name or "\ufffd" in value for name, value in fields.items()):
            # Read again strictly (UnicodeDecodeError is a ValueError): a U+FFFD sent as such
            # is UTF-8, a GBK byte is not.
            parse_qsl(request.query_string, True, encoding="utf-8", errors="strict")
            if request.content_type == "application/x-www-form-urlencoded":
                parse_qsl(request.body.decode("utf-8"), True, encoding="utf-8", errors="strict")
        return fields

    def _authenticate(self, fields: dict) -> tuple[SimAccount | None, str]:
        account_id, password = str(fields.get("account", "")), str(fields.get("pswd", ""))
        if not account_id and not password:
            return None, "905"
        if not account_id:
            return None, "910"
        if not password:
            return None, "911"
        account = self.find_account(account_id)
        if account is None:
            return None, "-1"
        ts = str(fields.get("ts", ""))
        if ts:
            # The document gives ts no validity window, so only its format is checked.
            if not _is_timestamp(ts):
                return None, "903"
            # "MD5(...)的小写结果" (overview item 14): the lower-case hex digest, exactly.
            if password != md5_password(account_id, account.secret, ts):
                return None, "902"
        elif account.options.get("auth_mode") == "md5":
            return None, "914"
        elif password != account.secret:
            return None, "901"
        return account, ""

    # sending ---------------------------------------------------------------
    def _mt(self, account: SimAccount, fields: dict) -> SimResponse:
        phone, content = fields.get("pn", "").strip(), fields.get("msg", "")
        refusal = (
            ("912" if not phone else "")
            or self._content_refusal(account, fields, content)
            or ("" if PHONE.fullmatch(phone) else "916")
            or self._options_refusal(fields)
            or self._balance_refusal(account, fields, [content])
        )
        if refusal:
            return self._error("/mt.ashx", fields, refusal)
        smsid = fields.get("smsid", "")
        message = self._accept(account, fields, phone, content, smsid=smsid)
        return self._answer(
            fields,
            {
                "result": "0",
                "seq": message.vendor_message_id,
                "smsid": smsid,
                "help": fields.get("help", ""),
            },
        )

    def _mts(self, account: SimAccount, fields: dict) -> SimResponse:
        phones = [p.strip() for p in fields.get("pn", "").split(",") if p.strip()]
        content = fields.get("msg", "")
        # The document does not say what a group send does with some bad numbers: like most
        # gateways, the simulator leaves them out of seqs and answers 916 only if none is valid.
        valid = [phone for phone in phones if PHONE.fullmatch(phone)]
        if len(phones) > self.max_group_numbers:
            return self._error("/mts.ashx", fields, "-1")  # no code of its own: "提交失败"
        refusal = (
            ("912" if not phones else "")
            or self._content_refusal(account, fields, content)
            or ("" if valid else "916")
            or self._options_refusal(fields)
            or self._balance_refusal(account, fields, [content] * len(valid))
        )
        if refusal:
            return self._error("/mts.ashx", fields, refusal)
        batch_id, smsid = self._new_id(), fields.get("smsid", "")
        seqs = [
            {
                "pn": phone,
                "seq": self._accept(
                    account, fields, phone, content, smsid=smsid, batch_id=batch_id
                ).vendor_message_id,
            }
            for phone in valid
        ]
        # As in the sample (2.2), seq repeats the batch id.
        return self._answer(
            fields,
            {
                "result": "0",
                "seq": batch_id,
                "sid": batch_id,
                "smsid": smsid,
                "help": fields.get("help", ""),
                "seqs": seqs,
            },
        )

    def _mts_var(self, account: SimAccount, fields: dict) -> SimResponse:
        variables = fields.get("vars")
        if not variables:
            return self._error("/mts_var.ashx", fields, "919")
        try:
            items = json.loads(variables) if isinstance(variables, str) else variables
        except ValueError:
            items = None
        limit = Ashx5gClient.capabilities.max_personalised_per_request
        if (
            not isinstance(items, list)
            or len(items) > limit
            or not all(isinstance(item, dict) for item in items)
        ):
            # No code of its own for unreadable or too many groups: -1 "提交失败".
            return self._error("/mts_var.ashx", fields, "-1")
        recipients = []
        for item in items:
            phone, content = str(item.get("pn", "")).strip(), str(item.get("msg", ""))
            msg_fmt = item.get("msg_fmt", 8)
            # "可不填, 填写必为 Int 型" (2.3)
            if not isinstance(msg_fmt, int) or str(msg_fmt) not in MSG_FORMATS:
                return self._error("/mts_var.ashx", fields, "-1")
            refusal = "912" if not phone else self._content_refusal(account, fields, content)
            if refusal:
                return self._error("/mts_var.ashx", fields, refusal)
            if PHONE.fullmatch(phone):  # bad numbers are left out, as in _mts
                recipients.append((phone, content, item))
        refusal = (
            ("" if recipients else "916")
            or self._options_refusal(fields)
            or self._balance_refusal(account, fields, [content for _, content, _ in recipients])
        )
        if refusal:
            return self._error("/mts_var.ashx", fields, refusal)
        batch_id = self._new_id()
        seqs = [
            {
                "pn": phone,
                "seq": self._accept(
                    account,
                    fields,
                    phone,
                    content,
                    smsid=str(item.get("smsid", "")),
                    batch_id=batch_id,
                    help_text=str(item.get("help", "")),
                ).vendor_message_id,
            }
            for phone, content, item in recipients
        ]
        return self._answer(fields, {"result": "0", "sid": batch_id, "seqs": seqs})

    def _content_refusal(self, account: SimAccount, fields: dict, content: str) -> str:
        template_id = fields.get("mms_id", "")
        if template_id:
            # With a template, msg holds its "|"-joined variable values (2.4, 5.1).
            return self._template_refusal(account, template_id, content)
        if not content:
            return "913"
        return "915" if len(content) > self.max_content_chars else ""

    def _template_refusal(self, account: SimAccount, template_id: str, values: str) -> str:
        template = self._templates().get(template_id)
        if (
            template is None
            or template["account_id"] != account.account_id
            or template["status"] != "approved"
        ):
            return "-1"  # only approved templates may be sent ("已审核的模板编号")
        given = len(values.split(VARIABLE_SEPARATOR)) if values else 0
        needed = template["variables"]
        if given < needed:
            return "919"
        # More values than placeholders: a value held a "|" (there is no escape), or the
        # values are not this template's.  No code of its own: "提交失败".
        return "-1" if needed and given > needed else ""

    @staticmethod
    def _options_refusal(fields: dict) -> str:
        if fields.get("msg_fmt", "8") not in MSG_FORMATS:
            return "-1"
        scheduled = fields.get("atm", "")
        return "917" if scheduled and not _is_timestamp(scheduled) else ""

    @staticmethod
    def _parts(fields: dict, content: str) -> int:
        # A template message is one MMS / rich message, whatever its variables' length.
        return 1 if fields.get("mms_id") else max(1, segments(content))

    def _balance_refusal(self, account: SimAccount, fields: dict, contents: list[str]) -> str:
        needed = sum(self._parts(fields, content) for content in contents)
        return "906" if needed > account.balance else ""

    def _accept(
        self,
        account: SimAccount,
        fields: dict,
        phone: str,
        content: str,
        *,
        smsid: str,
        batch_id: str = "",
        help_text: str | None = None,
    ) -> AcceptedMessage:
        return self.state.accept(
            account,
            phone=phone,
            content=content,
            vendor_message_id=self._new_id(),
            custom_id=smsid,
            batch_id=batch_id,
            extension=fields.get("ext", ""),
            parts=self._parts(fields, content),
            extra={
                "mms_id": fields.get("mms_id", ""),
                "help": fields.get("help", "") if help_text is None else help_text,
            },
        )

    def _new_id(self) -> str:
        # 18 digits like the samples' "111619420000000031": keep them as text everywhere.
        minute = int(time.time() // 60)
        if self._id_minute[0] != minute:
            self._id_minute = (minute, f"{datetime.now(CHINA):%m%d%H%M}")
        return f"{self._id_minute[1]}{self.state.next_id():010d}"

    _id_minute: tuple[int, str] = (0, "")

    # polling ---------------------------------------------------------------
    def _rpt(self, account: SimAccount, fields: dict) -> SimResponse:
        limit = self._poll_limit(fields)
        if limit is None:
            return self._error("/rpt.ashx", fields, "-1")
        if self._too_soon(account):
            return self._too_frequent("/rpt.ashx", fields, account)
        messages = self.state.take_reports(self.key, account.account_id, limit)
        self._counters()["rpt_out", account.account_id] += len(messages)
        items = [self._report_item(account, message) for message in messages]
        return self._answer(fields, {"result": "0"}, items)

    def _mo(self, account: SimAccount, fields: dict) -> SimResponse:
        limit = self._poll_limit(fields)
        if limit is None:
            return self._error("/mo.ashx", fields, "-1")
        if self._too_soon(account):
            return self._too_frequent("/mo.ashx", fields, account)
        replies = self.state.take_replies(self.key, account.account_id, limit)
        self._counters()["mo_out", account.account_id] += len(replies)
        # The kv records carry no time of their own (3.7).
        with_time = fields.get("rf") != "kv"
        items = [self._reply_item(account, reply, with_time=with_time) for reply in replies]
        # Quirk kept: the JSON list is "mos" (3.7), but the empty answer shows "rpts" (3, 6).
        return self._answer(fields, {"result": "0"}, items, list_key="mos" if items else "rpts")

    def _too_soon(self, account: SimAccount) -> bool:
        """ "手动获取状态报告与上行, 应采用单线程, 操作间隔 5 秒以上 ... 如果请求状态报告、上行和
        余额接口的频率小于 5 秒, 则返回错误码 result=920" (3, item 4): one clock for every
        manual call of the account, whatever its kind (the engine's enforce_poll_interval
        switch turns it off)."""
        return self.state.poll_too_soon(
            self.key, account.account_id, MANUAL_CALLS, self.min_poll_interval_s
        )

    def _too_frequent(self, path: str, fields: dict, account: SimAccount | None) -> SimResponse:
        """The answer to a call that came too soon: 920, or the older gateways' plain text."""
        options = account.options if account is not None else {}
        if options.get("rate_limit_reply") == "frequency_deny":
            seconds = options.get("frequency_deny_s", int(self.min_poll_interval_s))
            return SimResponse(
                FREQUENCY_DENY.format(seconds=seconds), content_type="text/plain; charset=utf-8"
            )
        return self._error(path, fields, "920")

    @staticmethod
    def _poll_limit(fields: dict) -> int | None:
        try:
            limit = int(fields.get("num", "200"))  # "默认 200 [1-10000]" (3.1)
        except ValueError:
            return None
        return limit if 1 <= limit <= Ashx5gClient.capabilities.max_reports_per_poll else None

    def _report_item(self, account: SimAccount, message: AcceptedMessage) -> dict:
        # The samples show DELIVRD and UNDELIV; sc is "一般为 7 为字符" (the CMPP stat), so an
        # expired or rejected message reports EXPIRED / REJECTD, any other failure UNDELIV.
        code = REPORT_CODE_OF_OUTCOME.get(message.outcome, "UNDELIV")
        return {
            "uid": str(self._uid(account)),
            "uname": account.account_id,
            "seq": message.vendor_message_id,
            "pn": message.phone,
            "stm": datetime.fromtimestamp(message.accepted_at, CHINA).strftime(TS_FORMAT),
            "sc": code,
            "sc_chn": codes.REPORT_CODES[code].zh,
            "st": self.now_text(),
            # A single send's report carries its own seq as sid (3.3 sample).
            "sid": message.batch_id or message.vendor_message_id,
            "pid": 1,
            "row": message.parts,
            "smsid": message.custom_id,
            "help": message.extra.get("help", ""),
        }

    def _reply_item(self, account: SimAccount, reply: SimReply, *, with_time: bool) -> dict:
        item = {
            "ct": reply.received_at.astimezone(CHINA).strftime(DASHED_TIME),
            "uid": self._uid(account),
            "uname": account.account_id,
            "pn": reply.phone,
            # Carrier and region of the sender: the simulator does not know them.
            "sp": "",
            "lc": "",
            "ext": reply.extension,
            "msg": reply.content,
        }
        if not with_time:
            del item["ct"]
        return item

    @staticmethod
    def _uid(account: SimAccount) -> int:
        return int(account.options.get("uid", 1))

    # account ---------------------------------------------------------------
    def _balance(self, account: SimAccount, fields: dict) -> SimResponse:
        if self._too_soon(account):
            return self._too_frequent("/balance.ashx", fields, account)
        return self._answer(fields, {"result": "0", "balance": str(account.balance)})

    def _bi(self, account: SimAccount, fields: dict) -> SimResponse:
        # bi is the balance interface with counters: the same clock (3, item 4).
        if self._too_soon(account):
            return self._too_frequent("/bi.ashx", fields, account)
        key = (self.key, account.account_id)
        self.state.tick()
        with self.state.lock:
            sent = sum(1 for m in self.state.accepted if (m.vendor, m.account_id) == key)
            reports_waiting = len(self.state.ready_reports[key])
            replies_waiting = len(self.state.replies[key])
        counters = self._counters()
        reports_out, replies_out = counters["rpt_out", key[1]], counters["mo_out", key[1]]
        pushsrv = ";".join(
            [
                "Access:HTTPAPI",
                f"Status:{'Running' if account.push_url else 'Pause'}",
                f"Report:{reports_waiting}",
                f"Mo:{replies_waiting}",
                f"Today RptIn:{sent}",
                f"Today RptOut:{reports_out}",
                f"Today Moln:{replies_out + replies_waiting}",  # "Moln" (sic), as in 4.3
                f"Today MoOut:{replies_out}",
            ]
        )
        # 4.2 asks for rt as URL-encoded UTF-8 (the sample shows it plain).
        rt = quote(f"RT 监控:账号 {account.account_id};发送:{sent}")
        answer = {"result": "0", "balance": str(account.balance), "rt": rt, "pushsrv": pushsrv}
        return self._answer(fields, answer, json_only=True)  # "bi 接口只返回 json"

    # templates -------------------------------------------------------------
    def _mms_create(self, account: SimAccount, fields: dict) -> SimResponse:
        title, files = str(fields.get("title", "")), fields.get("files")
        kind = fields.get("isvar", "0")
        frames = _template_frames(files)  # a JSON array, so a JSON body (5.1)
        if (
            not title
            or title_length(title) > MAX_TITLE_CHARS  # "长度小于等于 15", as .NET counts
            or frames is None
            or kind not in ("0", "1", "2")
        ):
            # The table has no code for a malformed upload: -1 "提交失败".
            return self._error("/mms_create.ashx", fields, "-1")
        text = "".join(
            data.decode("utf-8") for content_type, data in frames if content_type == "text/plain"
        )
        template_id = str(self.state.next_id())
        self._templates()[template_id] = {
            "account_id": account.account_id,
            "title": title,
            "push_url": str(fields.get("push_url", "")),
            "variables": 0 if kind == "0" else len(set(TEMPLATE_VARIABLE.findall(text))),
            "status": "pending",
        }
        return self._json(
            {"ct": self.now_text(DASHED_TIME), "code": "0", "mms_id": template_id, "status": "成功"}
        )

    def template_review_push(
        self, template_id: str, approved: bool, reason: str = ""
    ) -> PushCall | None:
        """5.2: the review result, shaped like the upload's answer, POSTed to the upload's
        push_url ("不填写即不需要推送": none without one)."""
        template = self._templates()[template_id]
        if not template["push_url"]:
            return None
        # The document only shows the approval (code 0); a refusal gets -1 and the reason.
        result = {
            "ct": self.now_text(DASHED_TIME),
            "code": "0" if approved else "-1",
            "mms_id": template_id,
            "status": "审核成功" if approved else reason or "审核失败",
        }
        return PushCall(
            "POST",
            template["push_url"],
            body=json.dumps(result, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": JSON_TYPE},
        )

    def control(self, action: str, payload: dict) -> dict:
        """``template_review`` {mms_id, approved=true, reason}: decide a template's review and
        push the result, as the vendor does once its staff have looked at the template."""
        if action != "template_review":
            raise KeyError(action)
        return self.review_template(
            str(payload["mms_id"]),
            bool(payload.get("approved", True)),
            str(payload.get("reason", "")),
        )

    def pending_templates(self) -> list[dict]:
        return [
            {"id": template_id, "account_id": t["account_id"], "title": t["title"]}
            for template_id, t in self._templates().items()
            if t["status"] == "pending"
        ]

    def review_template(self, template_id: str, approved: bool, reason: str = "") -> dict:
        call = self.template_review_push(template_id, approved, reason)
        self._templates()[template_id]["status"] = "approved" if approved else "rejected"
        if call is None:
            return {"mms_id": template_id, "pushed": False}
        try:
            response = call.send()
        except requests.RequestException as exc:
            return {"mms_id": template_id, "pushed": False, "error": str(exc)}
        return {
            "mms_id": template_id,
            "pushed": True,
            "status": response.status_code,
            "acknowledged": self.push_acknowledged(call, response),
        }

    # pushes ----------------------------------------------------------------
    def report_push(self, account: SimAccount, messages: list[AcceptedMessage]) -> PushCall:
        return self._push_call(account, [self._report_item(account, m) for m in messages])

    def reply_push(self, account: SimAccount, replies: list[SimReply]) -> PushCall:
        return self._push_call(
            account, [self._reply_item(account, reply, with_time=True) for reply in replies]
        )

    @staticmethod
    def _push_call(account: SimAccount, items: list[dict]) -> PushCall:
        # "GET 推送(单条)、POST 推送(多条)" (3, item 1): one item as query parameters, several
        # as a JSON array (3.4, 3.8).
        if len(items) == 1:
            return PushCall(
                "GET",
                account.push_url,
                params={name: str(value) for name, value in items[0].items()},
            )
        return PushCall(
            "POST",
            account.push_url,
            body=json.dumps(items, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": JSON_TYPE},
        )

    def push_acknowledged(self, call: PushCall, response: requests.Response) -> bool:
        if response.status_code != 200:
            return False
        # A review push (a JSON object) must be answered "0" (5.2).  For reports and replies
        # the document names no answer, so HTTP 200 is taken as receipt.
        return not call.body.startswith(b"{") or response.text.strip() == "0"

    # answers ---------------------------------------------------------------
    def _answer(
        self,
        fields: dict,
        header: dict,
        records: list[dict] | None = None,
        *,
        list_key: str = "rpts",
        json_only: bool = False,
    ) -> SimResponse:
        header = {"ct": self.now_text(), **header}
        # rf=xml is offered too, but the document shows no xml sample: it gets json.
        if json_only or fields.get("rf") != "kv":
            return self._json(header if records is None else {**header, list_key: records})
        lines = [_kv(header)]
        if records:
            # The first record continues the header's line; the others follow \r\n (3.3).
            lines[0] += "&" + _kv(records[0])
            lines += [_kv(record) for record in records[1:]]
        return SimResponse("\r\n".join(lines), content_type="text/plain; charset=UTF-8")

    @staticmethod
    def _json(payload: dict) -> SimResponse:
        return SimResponse(json.dumps(payload, ensure_ascii=False), content_type=JSON_TYPE)

    def _error(self, path: str, fields: dict, code: str) -> SimResponse:
        if path == "/mms_create.ashx":
            return self._json(
                {
                    "ct": self.now_text(DASHED_TIME),
                    "code": code,
                    "status": codes.ERROR_CODES[code].zh,
                }
            )
        return self._answer(fields, {"result": code}, json_only=path == "/bi.ashx")

    # simulator-side bookkeeping --------------------------------------------
    def _templates(self) -> dict[str, dict]:
        return self.state.vendor_state[self.key].setdefault("templates", {})

    def _counters(self) -> Counter:
        return self.state.vendor_state[self.key].setdefault("counters", Counter())
