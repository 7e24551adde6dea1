"""A fake sms.cn gateway, as strict as its document: md5(password+uid) on every request, GBK unless
``encode=utf8``, 50 numbers per GET and 2000 per POST, one stat code per request.

The answer to a send is one stat code for the whole request, so the engine's ``phone_refusals``
refuse the whole request that holds such a number, with the code the gateway would give:
``invalid_number`` 112 (号码错误, as for a malformed number), ``no_balance`` 102 (短信不足),
``content_rejected`` 104 (非法字符), or a code given as digits.  With the engine's
``reports_without_ids`` the /st/ lines leave the id field empty (mobileids is optional).
"""

from __future__ import annotations

import re
import time
from datetime import datetime

import requests

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
from .client import (
    GET_MAX_NUMBERS,
    POST_MAX_NUMBERS,
    RECORDS_PER_PAGE,
    REPLY_ENCODING,
    TIME_FORMAT,
    SmscnClient,
    form_encode,
    sign,
)
from .codes import STAT_CODES, STAT_OK

# The gateway number of the document's /rx/ sample; a reply's extension is appended to it.
ACCESS_NUMBER = "1068112227282"
# The document shows only report status 100; failures carry the operators' stat words, as
# gateways relaying CMPP reports do.
REPORT_CODE_FOR_OUTCOME = {
    "delivered": "100",
    "undelivered": "UNDELIV",
    "expired": "EXPIRED",
    "rejected": "REJECTD",
}
# A mobile, or a PHS number with its area code ("小灵通需加区号", e.g. 02185418874).
VALID_NUMBER = re.compile(r"1\d{10}|0\d{9,11}")
REFUSAL_STATS = {"invalid_number": "112", "no_balance": "102", "content_rejected": "104"}


def stat_reply(code: str, **fields: str) -> SimResponse:
    """``sms&stat=<code>&...``; errors carry ``message=`` with the table's words."""
    extra = fields or {"message": STAT_CODES[code].zh}
    text = "&".join(["sms", f"stat={code}", *(f"{k}={v}" for k, v in extra.items())])
    return text_reply(text)


def text_reply(text: str) -> SimResponse:
    # "请求响应返回内容是GBK编码" whatever the request's encoding.
    return SimResponse(
        text.encode(REPLY_ENCODING, errors="replace"),
        content_type=f"text/plain; charset={REPLY_ENCODING}",
    )


def china_time(moment: datetime | float) -> str:
    if isinstance(moment, float):
        moment = datetime.fromtimestamp(moment, CHINA)
    return moment.astimezone(CHINA).strftime(TIME_FORMAT)


class SmscnSimulator(VendorSimulator):
    key = "smscn"
    encoding = "gbk"
    min_poll_interval_s = SmscnClient.capabilities.min_poll_interval_s
    # A push is one set of name=value fields, so it carries exactly one reply.
    push_batch_size = 1
    max_per_poll = SmscnClient.capabilities.max_reports_per_poll

    def handle(self, request: SimRequest) -> SimResponse:
        handlers = {
            "mt": self._send,
            "st": self._reports,
            "rx": self._replies,
            "mm": self._counters,
            "rd": self._records,
        }
        handler = handlers.get(request.path.strip("/"))
        if handler is None:
            return SimResponse(
                "<html><body>404 Not Found</body></html>", status=404, content_type="text/html"
            )
        params = request.params(self.encoding)
        if params.get("encode") == "utf8":
            params = request.params("utf-8")
        account = self.find_account(params.get("uid", ""))
        if account is None or params.get("pwd") != sign(account.secret, account.account_id):
            return self.auth_failed(request)
        return handler(request, account, params)

    def rate_limited(self, request: SimRequest) -> SimResponse:
        return stat_reply("107")

    def auth_failed(self, request: SimRequest) -> SimResponse:
        return stat_reply("101")

    def no_balance(self, request: SimRequest) -> SimResponse:
        return stat_reply("102")

    # ------------------------------------------------------------------ /mt/
    def _send(self, request: SimRequest, account: SimAccount, params: dict) -> SimResponse:
        phones = [p.strip() for p in params.get("mobile", "").split(",") if p.strip()]
        content = params.get("content", "")
        if not phones or not content:
            return stat_reply("108")
        limit = POST_MAX_NUMBERS if request.method == "POST" else GET_MAX_NUMBERS
        if len(phones) > limit:
            return stat_reply("106")
        if not all(VALID_NUMBER.fullmatch(p) for p in phones):
            return stat_reply("112")
        for phone in phones:
            refused = self.state.refusal(phone)
            code = REFUSAL_STATS.get(refused, refused if refused.isdigit() else "")
            if code:
                return stat_reply(code) if code in STAT_CODES else text_reply(f"sms&stat={code}")
        # "格式为消息编号+逗号": a trailing comma is allowed.
        ids = [i.strip() for i in params.get("mobileids", "").split(",")]
        ids = ids[:-1] if ids and not ids[-1] else ids
        if ids and (len(ids) != len(phones) or not all(i.isdigit() for i in ids)):
            return stat_reply("103")
        blocked = self.state.vendor_state[self.key].get("blocked_words", ())
        if any(word in content for word in blocked):
            return stat_reply("104")
        parts = segments(content)
        with self.state.lock:
            if account.balance < parts * len(phones):
                return self.no_balance(request)
            millis = int(time.time() * 1000)
            for index, phone in enumerate(phones):
                # Without mobileids the gateway numbers messages "目标号码+当前时间戳".
                message_id = ids[index] if ids else f"{phone}{millis}{self.state.next_id()}"
                self.state.accept(
                    account,
                    phone=phone,
                    content=content,
                    vendor_message_id=message_id,
                    custom_id=ids[index] if ids else "",
                    extension=params.get("mid", ""),
                    parts=parts,
                    extra={"method": request.method, "encode": params.get("encode", "")},
                )
            counters = self.state.vendor_state[self.key].setdefault("sent", {})
            counters[account.account_id] = counters.get(account.account_id, 0) + parts * len(phones)
        return stat_reply(STAT_OK)

    # ------------------------------------------------------------------ /st/ and /rx/
    def _reports(self, request: SimRequest, account: SimAccount, params: dict) -> SimResponse:
        if self.state.poll_too_soon(self.key, account.account_id, "st", self.min_poll_interval_s):
            return self.rate_limited(request)
        messages = self.state.take_reports(self.key, account.account_id, self.max_per_poll)
        now = china_time(datetime.now(CHINA))
        without_ids = self.state.reports_without_ids
        # Exactly the document's line shape, space before the time included.
        return text_reply(
            "\n".join(
                f"{m.phone},{REPORT_CODE_FOR_OUTCOME[m.outcome]},"
                f"{'' if without_ids else m.vendor_message_id}, {now}"
                for m in messages
            )
        )

    def _replies(self, request: SimRequest, account: SimAccount, params: dict) -> SimResponse:
        if self.state.poll_too_soon(self.key, account.account_id, "rx", self.min_poll_interval_s):
            return self.rate_limited(request)
        replies = self.state.take_replies(self.key, account.account_id, self.max_per_poll)
        if not replies:
            return text_reply("")  # "无回复内容时返回空"
        items = (
            # "对回复的内容中有||会自动转成全角｜｜"
            f"{r.phone}||{r.content.replace('||', '｜｜')}||{china_time(r.received_at)}"
            f"||{ACCESS_NUMBER}{r.extension}"
            for r in replies
        )
        return text_reply("{&}".join([STAT_OK, *items]))

    # ------------------------------------------------------------------ /mm/ and /rd/
    def _counters(self, request: SimRequest, account: SimAccount, params: dict) -> SimResponse:
        command = params.get("cmd", "")
        if command == "send":
            sent = self.state.vendor_state[self.key].get("sent", {}).get(account.account_id, 0)
            return stat_reply(STAT_OK, remain=str(sent))
        if command:
            return stat_reply("103")
        return stat_reply(STAT_OK, remain=str(account.balance))

    def _records(self, request: SimRequest, account: SimAccount, params: dict) -> SimResponse:
        page = params.get("page", "1")
        if not page.isdigit() or int(page) < 1:
            return stat_reply("103")
        with self.state.lock:
            records = [
                m
                for m in self.state.accepted
                if m.vendor == self.key
                and m.account_id == account.account_id
                and china_time(m.accepted_at).startswith(params.get("date", ""))
                and m.phone == params.get("key", m.phone)
            ]
        if not records:
            return text_reply("")  # "无回复内容时返回空"
        start = (int(page) - 1) * RECORDS_PER_PAGE
        shown = records[start : start + RECORDS_PER_PAGE]
        pages = -(-len(records) // RECORDS_PER_PAGE)
        return text_reply(
            "|#|".join(
                [f"{len(records)}||{len(shown)}||{pages}", *(self._record(m) for m in shown)]
            )
        )

    @staticmethod
    def _record(message: AcceptedMessage) -> str:
        # The document does not list the record statuses: show the report code it will get.
        return (
            f"{china_time(message.accepted_at)}||{message.phone}||{message.content}"
            f"||{REPORT_CODE_FOR_OUTCOME[message.outcome]}"
        )

    # ------------------------------------------------------------------ pushes
    def reply_push(self, account: SimAccount, replies: list[SimReply]) -> PushCall:
        (reply,) = replies
        return mo_push(account, reply)

    def push_acknowledged(self, call: PushCall, response: requests.Response) -> bool:
        # The document names no answer, so any 200 counts as received.
        return response.status_code == 200

    def control(self, action: str, payload: dict) -> dict:
        if action == "blocked_words":
            # Content with one of these words is answered 104 非法字符.
            self.state.vendor_state[self.key]["blocked_words"] = tuple(payload["words"])
            return {"ok": True}
        raise KeyError(action)


def mo_push(account: SimAccount, reply: SimReply) -> PushCall:
    """The ``cmd=res`` reply push with the fields of the document's table, as a GBK form."""
    fields = {
        "cmd": "res",
        "uid": account.account_id,
        "time": china_time(reply.received_at),
        "mobile": reply.phone,
        "content": reply.content,
    }
    return PushCall(
        method="POST",
        url=account.push_url,
        body=form_encode(fields, REPLY_ENCODING).encode("ascii"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
