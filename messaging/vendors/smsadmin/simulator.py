"""smsadmin.cn gateway simulator: the document's interfaces, answers and pushes, in GB2312.

Where the document is silent the simulator picks the gateway's most plausible behaviour:

* malformed numbers are dropped silently, as the document says of malformed 点点通 groups, and
  a request left with none is answered ``5 手机号或发送信息不能为空!``;
* a 点点通 group must have exactly the fields its template needs (the phone, then one per
  ``{valueN}``), else it is "格式不符" and dropped: an ASCII ``,`` inside a value makes one field
  too many.  Groups are split on ``;`` first, so a ``;`` inside a value cuts the group: its head
  goes out with the value truncated, its tail (no phone) is dropped;
* text that is not GB2312 cannot be read: a 点点通 group holding such bytes is dropped, and a plain
  send whose message holds them has, for the gateway, no message (``5``);
* the engine's ``phone_refusals``: the answer is one code per request, so a number refused as
  ``no_balance`` makes the whole request ``2 余额不足!``; any other reason drops the number
  silently, as a malformed one (it is never sent and never reported);
* with the engine's ``reports_without_ids`` a report carries an empty 流水号 (linkid), which the
  document allows ("有可能有值，有可能为空"), both polled and pushed;
* polling sooner than every 5 s is answered ``150`` / ``160`` (nothing to fetch): the document
  asks for the interval but names no error for breaking it, so the records simply stay queued;
* the document has no rate-limit answer, so ``rate_limited`` keeps the engine's HTTP 429.
"""

from __future__ import annotations

import re
from functools import partial
from urllib.parse import quote_plus, unquote_plus, urlencode

import requests

from ..base import segments
from ..simulator import (
    AcceptedMessage,
    PushCall,
    SimAccount,
    SimReply,
    SimRequest,
    SimResponse,
    VendorSimulator,
)
from .client import API_PATH, FORM, MAX_PER_POLL, TIME_FORMAT, md5_hex

ENCODING = "gb2312"
CHANNEL_MAX_CHARS = 500
SENSITIVE_WORDS = ("发票", "赌博", "代开")
REPORT_VALUES = {
    "delivered": "DELIVRD",
    "undelivered": "UNDELIV",
    "expired": "EXPIRED",
    "rejected": "REJECTD",
}
# endpoint: (HTTP method, most numbers or groups, md5 password, fields url-encoded by the caller)
SEND_ENDPOINTS = {
    "get_send": ("GET", 100, False, ()),
    "get_send_md5": ("GET", 100, True, ()),
    "get_send_urldecode": ("GET", 100, False, ("msg",)),
    "post_send": ("POST", 1000, False, ()),
    "post_send_md5": ("POST", 1000, True, ()),
    "post_send_urldecode": ("POST", 1000, False, ("uid", "msg")),
    "post_send_ddt": ("POST", 1000, True, ("msg", "params")),
}
AUTH_ERROR = "1 用户名或密码错误!"
NO_BALANCE = "2 余额不足!"
_MOBILE = re.compile(r"1\d{10}")
_VARIABLE = re.compile(r"\{value(\d+)\}")
UNREADABLE = "\ufffd"
"""What decoding as GB2312 leaves where the bytes were not GB2312."""


def _answer(text: str, status: int = 200) -> SimResponse:
    return SimResponse(
        text.encode(ENCODING, errors="replace"),
        status=status,
        content_type="text/plain; charset=gb2312",
    )


NOT_FOUND = SimResponse(
    "<html><body>404 Not Found</body></html>", status=404, content_type="text/html"
)


class SmsAdminSimulator(VendorSimulator):
    key = "smsadmin"
    encoding = ENCODING
    min_poll_interval_s = 5.0
    push_batch_size = 1  # the gateway pushes one report or reply per request

    def handle(self, request: SimRequest) -> SimResponse:
        endpoint = request.path.removeprefix(API_PATH).strip("/")
        if endpoint in SEND_ENDPOINTS:
            method, limit, hashed, url_encoded = SEND_ENDPOINTS[endpoint]
            if request.method != method:
                return NOT_FOUND
            fields = self._fields(request, url_encoded)
            account = self._authenticate(fields, hashed)
            if account is None:
                return self.auth_failed(request)
            return self._send(account, endpoint, fields, limit)
        handlers = {
            "user_info": self._user_info,
            "user_info_urldecode": self._user_info,
            "mgz": self._mgz,
            "reve": partial(self._replies, urlencoded=False),
            "reve_urlencode": partial(self._replies, urlencoded=True),
            "report": self._reports,
        }
        if endpoint not in handlers or request.method != "GET":
            return NOT_FOUND
        fields = self._fields(request, ("uid",) if endpoint == "user_info_urldecode" else ())
        account = self._authenticate(fields, hashed=False)
        if account is None:
            return self.auth_failed(request)
        return handlers[endpoint](account, fields)

    # ------------------------------------------------------------------ vendor's own errors

    def auth_failed(self, request: SimRequest) -> SimResponse:
        return _answer(AUTH_ERROR)

    def no_balance(self, request: SimRequest) -> SimResponse:
        return _answer(NO_BALANCE)

    # ------------------------------------------------------------------ interfaces

    def _fields(self, request: SimRequest, url_encoded: tuple[str, ...]) -> dict[str, str]:
        fields = request.params(self.encoding)
        for name in url_encoded:
            fields[name] = unquote_plus(fields.get(name, ""), encoding=self.encoding)
        return fields

    def _authenticate(self, fields: dict[str, str], hashed: bool) -> SimAccount | None:
        account = self.find_account(fields.get("uid", ""))
        if account is None:
            return None
        expected = md5_hex(account.secret) if hashed else account.secret
        return account if fields.get("pwd") == expected else None

    def _send(self, account: SimAccount, endpoint: str, fields: dict, limit: int) -> SimResponse:
        if account.options.get("frozen"):
            return _answer("8 用户已冻结, 请联系客服人员!")
        if account.options.get("send_disabled"):
            return _answer("4 此用户不允许发送!")
        if endpoint == "post_send_ddt":
            template = fields.get("msg", "")
            recipients = self._ddt_recipients(
                fields.get("params", ""), "" if UNREADABLE in template else template
            )
        else:
            content = fields.get("msg", "")
            phones = [p.strip() for p in fields.get("mobile", "").split(";") if p.strip()]
            readable = content and UNREADABLE not in content
            recipients = [(phone, content) for phone in phones] if readable else []
        if not recipients:
            return _answer("5 手机号或发送信息不能为空!")
        if len(recipients) > limit:
            return _answer(f"3 超过发送最大量 {limit} 条")
        if any(
            content is not None and len(content) > CHANNEL_MAX_CHARS for _, content in recipients
        ):
            # "一个英文字符和汉字占相同字数": every character counts one.
            return _answer(f"7 超过 {CHANNEL_MAX_CHARS} 个字,请修改后发送!")
        unique = {}  # repeated numbers are dropped (v1.0.3 item 5), the first one kept
        for phone, content in recipients:
            if content is not None and _MOBILE.fullmatch(phone):
                unique.setdefault(phone, content)
        refusals = {phone: self.state.refusal(phone) for phone in unique}
        if "no_balance" in refusals.values():
            return _answer(NO_BALANCE)
        unique = {phone: text for phone, text in unique.items() if not refusals[phone]}
        if not unique:
            return _answer("5 手机号或发送信息不能为空!")
        # Letters and digits count alike here too, so ASCII text has the 70 / 67 limits.
        parts = {
            phone: segments(text, gsm_single=70, gsm_multi=67) for phone, text in unique.items()
        }
        if sum(parts.values()) > account.balance:
            return _answer(NO_BALANCE)
        # An empty linkid gets one from the gateway.
        linkid = fields.get("linkid", "") or str(self.state.next_id())
        for phone, content in unique.items():
            self.state.accept(
                account,
                phone=phone,
                content=content,
                vendor_message_id=f"{linkid}:{phone}",
                batch_id=linkid,
                extension=account.extension,
                parts=parts[phone],
                extra={"endpoint": endpoint},
            )
        return _answer("0 发送成功!")

    @staticmethod
    def _ddt_recipients(params: str, template: str) -> list[tuple[str, str | None]]:
        """(phone, rendered content) per group; None for a group whose fields do not fit the
        template (one too few or too many, or bytes that are not GB2312), which the gateway
        filters out ("格式不符的参数, 系统自动过滤掉").  {valueN} is the group's N-th field,
        field 0 being the phone.  Groups are split on ";", then fields on ",", with no escape."""
        needed = max((int(n) for n in _VARIABLE.findall(template)), default=0) + 1
        recipients = []
        for group in filter(str.strip, params.split(";")):
            values = group.split(",")
            content = None
            if template and len(values) == needed and UNREADABLE not in group:
                content = _VARIABLE.sub(lambda m, fields=values: fields[int(m[1])], template)
            recipients.append((values[0].strip(), content))
        return recipients

    def _user_info(self, account: SimAccount, fields: dict) -> SimResponse:
        return _answer(f"用户 ID={account.account_id} 剩余资费={account.balance}")

    def _mgz(self, account: SimAccount, fields: dict) -> SimResponse:
        words = [word for word in SENSITIVE_WORDS if word in fields.get("msg", "")]
        # "敏感字:敏感字 1;敏感字 2;敏感字 3;": every word is followed by ";".
        return _answer(
            ("敏感字:" + "".join(f"{word};" for word in words)) if words else "不含敏感字"
        )

    def _reports(self, account: SimAccount, fields: dict) -> SimResponse:
        if self.state.poll_too_soon(
            self.key, account.account_id, "report", self.min_poll_interval_s
        ):
            return _answer("160")
        messages = self.state.take_reports(self.key, account.account_id, MAX_PER_POLL)
        if not messages:
            return _answer("160")
        now = self.now_text(TIME_FORMAT)
        return _answer(
            "\n".join(
                f"{m.phone}/{now}/{self._linkid_of(m)}/{_report_value(m)}/{m.extension}"
                for m in messages
            )
        )

    def _linkid_of(self, message: AcceptedMessage) -> str:
        """A report's 流水号: the request's linkid, or empty with ``reports_without_ids``."""
        return "" if self.state.reports_without_ids else message.batch_id

    def _replies(self, account: SimAccount, fields: dict, *, urlencoded: bool) -> SimResponse:
        if self.state.poll_too_soon(self.key, account.account_id, "mo", self.min_poll_interval_s):
            return _answer("150")
        replies = self.state.take_replies(self.key, account.account_id, MAX_PER_POLL)
        if not replies:
            return _answer("150")
        lines = []
        for reply in replies:
            content = quote_plus(reply.content, encoding=ENCODING, errors="replace")
            lines.append(
                f"{reply.phone}/{reply.received_at.strftime(TIME_FORMAT)}/"
                f"{self._linkid_for(reply)}/{content if urlencoded else reply.content}/"
                f"{reply.extension}"
            )
        return _answer("\n".join(lines))

    def _linkid_for(self, reply: SimReply) -> str:
        """The linkid of the latest message this account sent to the replying phone."""
        with self.state.lock:
            for message in reversed(self.state.accepted):
                if (message.vendor, message.account_id, message.phone) == (
                    self.key,
                    reply.account_id,
                    reply.phone,
                ):
                    return message.batch_id
        return ""

    # ------------------------------------------------------------------ pushes

    def report_push(self, account: SimAccount, messages: list[AcceptedMessage]) -> PushCall:
        (message,) = messages  # push_batch_size is 1
        return _push(
            account,
            {
                "Class": "rpt",
                "SmsName": account.account_id,
                "Mobile": message.phone,
                "LinkId": self._linkid_of(message),
                "Report": _report_value(message),
                "ReportTime": self.now_text(TIME_FORMAT),
            },
        )

    def reply_push(self, account: SimAccount, replies: list[SimReply]) -> PushCall:
        (reply,) = replies
        return _push(
            account,
            {
                "Class": "mo",
                "SmsName": account.account_id,
                "Mobile": reply.phone,
                "Message": reply.content,
                "LinkId": self._linkid_for(reply),
                "RevertTime": reply.received_at.strftime(TIME_FORMAT),
            },
        )

    def push_acknowledged(self, call: PushCall, response: requests.Response) -> bool:
        # The document names no answer; reaching the receiver is all the gateway checks.
        return response.status_code == 200


def _report_value(message: AcceptedMessage) -> str:
    return REPORT_VALUES.get(message.outcome, "UNDELIV")


def _push(account: SimAccount, fields: dict[str, str]) -> PushCall:
    body = urlencode(fields, encoding=ENCODING, errors="replace").encode("ascii")
    return PushCall("POST", account.push_url, body=body, headers={"Content-Type": FORM})
