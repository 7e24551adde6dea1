"""smsadmin.cn 通用短信平台 HTTP interface v1.0.5.

Everything travels in GB2312: form fields are percent-encoded GB2312 bytes and every answer is
GB2312 plain text such as ``0 发送成功!``.

The gateway answers a send with one code for the whole request and gives no message id.
Reports and replies carry the phone number and the ``linkid`` (流水号) we chose for the request,
so every request gets a fresh linkid, a phone appears at most once per request, and a message's
``vendor_message_id`` is ``<linkid>:<phone>``, the key a report for it rebuilds.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from urllib.parse import quote, unquote_plus, urlencode
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy

from ..base import (
    Balance,
    Capabilities,
    ContentCheck,
    InboundReply,
    InvalidRequest,
    NeedsSingleSend,
    OutgoingMessage,
    PollResult,
    PushInstruction,
    StatusEvent,
    SubmitResult,
    UnexpectedReply,
    VendorClient,
    vendor_time,
)
from .codes import RESULT_CODES, error_for, report_code

log = logging.getLogger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")
API_PATH = "/smsmarketing/wwwroot/api/"
REQUEST_ENCODING = "gb2312"
# GB18030 decodes every GB2312 byte sequence identically and never fails on the GBK characters
# a gateway might let through.
REPLY_ENCODING = "gb18030"
FORM = "application/x-www-form-urlencoded"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
GET_MAX_NUMBERS = 100
MAX_PER_POLL = 20
# 点点通 template: the whole rendered content rides in one variable.  {valueN} is the N-th
# comma-separated field of a group, field 0 being the phone: the document's own rendering of its
# example puts the group's second field (123456) where {value1} stands, although its wording
# ("第二个参数为模板中第一个变量") could be read as {value0}.
DDT_TEMPLATE = "{value1}"

# "0 发送成功!", "1 用户名或密码错误!", "150": a code, then words.  The look-ahead keeps a
# report or reply record ("13800138000/2014-10-11 18:39:24/...") from reading as a code.
_CODED_REPLY = re.compile(r"(\d{1,3})(?![\d/])\s*(.*)", re.S)
_PHONE = re.compile(r"\+?\d{3,20}")
_AMOUNT = re.compile(r"-?\d+(?:\.\d+)?")


def vendor_message_id(linkid: str, phone: str) -> str:
    return f"{linkid}:{phone}" if linkid else ""


def parse_time(text: str) -> datetime | None:
    """The gateway's Asia/Shanghai local time; None for a value that is no time at all (the
    document's samples show the placeholder ``0000-00-00 00:00:00``) or one outside
    ``vendor_time``'s window (the item's raw text keeps it)."""
    try:
        when = datetime.strptime(text.strip(), TIME_FORMAT)
    except ValueError:
        return None
    return vendor_time(when.replace(tzinfo=CHINA))


def md5_hex(secret: str) -> str:
    """``pwd`` for the md5 interfaces: 32 lowercase hex digits.  The password is hashed in the
    gateway's encoding (GB18030 equals GB2312 wherever GB2312 has the character)."""
    return hashlib.md5(secret.encode(REPLY_ENCODING)).hexdigest()  # noqa: S324 - vendor's rule


def coded_reply(text: str) -> tuple[str, str] | None:
    """(code, words) of an answer such as ``0 发送成功!``, or None for any other text."""
    match = _CODED_REPLY.fullmatch(text)
    return (match[1], match[2]) if match else None


def report_event(phone: str, linkid: str, value: str, time_text: str, raw: str) -> StatusEvent:
    code = report_code(value)
    return StatusEvent(
        vendor_message_id=vendor_message_id(linkid, phone),
        status=code.meaning,
        vendor_code=value,
        description_zh=code.zh,
        description_en=code.en,
        phone=phone,
        batch_id=linkid,
        done_at=parse_time(time_text),
        raw=raw,
    )


def inbound_reply(
    phone: str, linkid: str, content: str, time_text: str, extension: str, raw: str
) -> InboundReply:
    return InboundReply(
        phone=phone,
        content=content,
        received_at=parse_time(time_text),
        extension=extension,
        link_id=linkid,
        raw=raw,
    )


def _quote(text: str) -> str:
    """The ``*_urldecode`` and 点点通 interfaces take some fields url-encoded *before* the form is
    encoded, i.e. twice on the wire."""
    return quote(text, safe="", encoding=REQUEST_ENCODING)


def _gb2312_misfits(text: str) -> str:
    """The characters of ``text`` that GB2312 cannot carry."""
    misfits = []
    for char in dict.fromkeys(text):
        try:
            char.encode(REQUEST_ENCODING)
        except UnicodeEncodeError:
            misfits.append(char)
    return "".join(misfits)


def not_gb2312(misfits: str) -> str:
    """Our words for content the gateway cannot take ("本接口规范采用 GB2312 编码方式")."""
    shown = " ".join(misfits[:10]) + (" …" if len(misfits) > 10 else "")
    return (
        "Not sent: smsadmin accepts only GB2312 text, which has no "
        f"{shown} (emoji and rarer characters); rewrite them to send this message."
    )


def _split_record(line: str) -> tuple[str, str, str, str, str] | None:
    """phone/time/linkid/value/subcode.  A reply's content may itself hold "/", so three fields
    are split from the left and the subcode from the right."""
    head = line.split("/", 3)
    if len(head) != 4:
        return None
    phone, time_text, linkid, rest = (part.strip() for part in head)
    value, slash, subcode = rest.rpartition("/")
    if not slash or not _PHONE.fullmatch(phone):
        return None
    return phone, time_text, linkid, value.strip(), subcode.strip()


class SmsAdminClient(VendorClient):
    key = "smsadmin"
    label = "smsadmin.cn (通用短信平台)"
    capabilities = Capabilities(
        # 9 and 10: "由于用户服务器链接不成功，我方不再传递这时间段的返回信息。"
        pushed_reports_resent=False,
        max_numbers_per_request=1000,  # POST; the GET interfaces take 100
        max_personalised_per_request=1000,
        min_poll_interval_s=5.0,
        max_reports_per_poll=MAX_PER_POLL,
        pushes=frozenset({"report", "mo"}),
        request_encoding=REQUEST_ENCODING,
        reply_encoding=REPLY_ENCODING,
        # "英文和汉字同样计算": Latin letters are billed like Chinese characters.
        ascii_segment_chars=(70, 67),
        auth_modes=("plain", "md5"),
        content_check=True,
    )

    push_instructions = (
        PushInstruction(
            "report",
            gettext_lazy("POST, Class=rpt, GB2312"),
            gettext_lazy(
                "Ask the vendor's customer service to bind this URL for the report push "
                "(section 10). The gateway pushes only to port 80 and never again after a "
                "failed push."
            ),
        ),
        PushInstruction(
            "mo",
            gettext_lazy("POST, Class=mo, GB2312"),
            gettext_lazy("The same URL for the reply push (section 9), also on port 80."),
        ),
    )

    # ------------------------------------------------------------------ sending

    def send_same(self, messages: Sequence[OutgoingMessage], content: str) -> list[SubmitResult]:
        if not content:
            # Checked here so that the gateway's code 5 can only mean "no usable number".
            raise InvalidRequest("smsadmin cannot send empty content")
        linkid = uuid.uuid4().hex  # 32 letters and digits, the most the document allows
        refused = _repeated_phones(messages)
        phones = [m.phone for i, m in enumerate(messages) if i not in refused]
        fields = {
            "uid": self.config.account_id,
            "pwd": self.config.secret,
            "mobile": ";".join(phones),
            "msg": content,
            "dtime": "",  # empty: send now
            "linkid": linkid,
        }
        if self.config.auth_mode == "md5":
            # Only interface 2 (*_send_md5) takes a hashed password; there is no md5 variant of
            # the url-encoded interface, so line breaks then travel form-encoded only.
            variant = "_md5"
            fields["pwd"] = md5_hex(self.config.secret)
        elif any(char.isspace() for char in content):
            # The *_urldecode interfaces exist for content with line breaks and spaces.  POST
            # pre-encodes uid and msg (GET would pre-encode msg only).
            variant = "_urldecode"
            fields["msg"] = _quote(content)
            fields["uid"] = _quote(self.config.account_id)
        else:
            variant = ""
        # Always POST: sections 2 and 3 offer every send interface both ways to every user
        # ("范围: 全部用户"), and a GET would carry the password in its URL.
        text = self._call("POST", f"post_send{variant}", fields)
        _raise_unless_sent(text)
        return _results(messages, refused, linkid, text)

    def send_personalised(self, messages: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        linkid = uuid.uuid4().hex
        refused = _repeated_phones(messages)
        for index, message in enumerate(messages):
            problem = _ddt_problem(message.content)
            if problem and index not in refused:
                refused[index] = _refusal(message, *problem)
        groups = [f"{m.phone},{m.content}" for i, m in enumerate(messages) if i not in refused]
        if not groups:
            return [refused[index] for index in range(len(messages))]
        fields = {
            "uid": self.config.account_id,
            "pwd": md5_hex(self.config.secret),  # post_send_ddt takes the md5 password only
            "msg": _quote(DDT_TEMPLATE),
            "params": _quote(";".join(groups)),
            "dtime": "",
            "linkid": linkid,
        }
        text = self._call("POST", "post_send_ddt", fields)
        _raise_unless_sent(text)
        return _results(messages, refused, linkid, text)

    # ------------------------------------------------------------------ polling

    def poll_reports(self) -> PollResult:
        def build(phone, time_text, linkid, value, subcode, line):
            return report_event(phone, linkid, value, time_text, line) if value else None

        return self._poll("report", build)

    def poll_mo(self) -> PollResult:
        # reve_urlencode rather than reve: its reply content is url-encoded, so a reply holding
        # "/" or a line break cannot break the one-record-per-line format.
        def build(phone, time_text, linkid, value, subcode, line):
            content = unquote_plus(value, encoding=REPLY_ENCODING)
            return inbound_reply(phone, linkid, content, time_text, subcode, line)

        return self._poll("reve_urlencode", build)

    def _poll(self, endpoint: str, build: Callable) -> PollResult:
        text = self._call("GET", endpoint, self._credentials())
        coded = coded_reply(text)
        if coded:
            known = RESULT_CODES.get(coded[0])
            if known and known.meaning == "nothing_to_fetch":
                return PollResult(raw=text)
            raise error_for(coded[0], text)
        # Records are separated by line breaks; the document's tables write them as a literal
        # "\n", accepted only when the reply has no real line break.
        separated = text.splitlines() if "\n" in text or "\r" in text else text.split("\\n")
        lines = [line.strip() for line in separated if line.strip()]
        items = []
        for line in lines:
            record = _split_record(line)
            item = build(*record, line) if record else None
            if item is None:
                # Polled records are handed out once only: keep the good ones of this batch.
                log.warning("smsadmin %s: skipped unreadable record %r", endpoint, line)
            else:
                items.append(item)
        if not items:
            raise UnexpectedReply(f"smsadmin {endpoint} answer has no readable record", raw=text)
        # At most 20 records per call; a full batch means more are waiting.  The document still
        # wants 5 s between calls, even then.
        return PollResult(items=items, more_waiting=len(lines) >= MAX_PER_POLL, raw=text)

    # ------------------------------------------------------------------ account

    def balance(self) -> Balance:
        text = self._call("GET", "user_info", self._credentials())
        coded = coded_reply(text)
        if coded:
            raise error_for(coded[0], text)
        # "用户 ID=uid 剩余资费=XXX": the document spaces "用户 ID"; accept it with or without.
        remaining = re.search(r"剩余资费\s*=\s*(\S*)", text)
        if remaining is None:
            raise UnexpectedReply("smsadmin user_info answer has no 剩余资费", raw=text)
        user = re.search(r"用户\s*ID\s*=\s*(\S*)", text)
        value = remaining[1]
        return Balance(
            # The document names no unit for 剩余资费; the gateway bills per message part.
            amount=Decimal(value) if _AMOUNT.fullmatch(value) else None,
            unit="messages",
            details={"uid": user[1] if user else "", "剩余资费": value},
            raw=text,
        )

    def check_content(self, content: str) -> ContentCheck:
        misfits = _gb2312_misfits(content)
        if misfits:
            return ContentCheck(ok=False, message=f"GB2312 cannot carry {misfits!r}")
        text = self._call("GET", "mgz", {**self._credentials(), "msg": content})
        if text == "不含敏感字":
            return ContentCheck(ok=True, message=text, raw=text)
        found = re.fullmatch(r"敏感字\s*[:：]\s*(.*)", text, re.S)
        if found:
            # "敏感字:敏感字 1;敏感字 2;敏感字 3;": each word ends with ";".
            words = tuple(w.strip() for w in re.split(r"[;；]", found[1]) if w.strip())
            return ContentCheck(ok=False, words=words, message=text, raw=text)
        coded = coded_reply(text)
        if coded:
            raise error_for(coded[0], text)
        raise UnexpectedReply("smsadmin mgz answer is neither verdict", raw=text)

    # ------------------------------------------------------------------ transport

    def _credentials(self) -> dict[str, str]:
        # user_info, mgz, reve and report take the password itself whatever the auth mode: the
        # document offers no md5 variant of them, and no POST either ("类型: GET", sections 5
        # to 8), so the password rides in their URL.  That URL never reaches a text: the HTTP
        # layer words its errors with host and path only, and its log filter drops queries.
        return {"uid": self.config.account_id, "pwd": self.config.secret}

    def _call(self, method: str, endpoint: str, fields: dict[str, str]) -> str:
        url = f"{self.config.base_url.rstrip('/')}{API_PATH}{endpoint}/"
        for name, what in (("uid", "user ID"), ("pwd", "password")):
            if _gb2312_misfits(fields[name]):
                # Nothing was sent.  The characters are not named: they are the account's.
                raise InvalidRequest(
                    f"Not sent: the account's {what} has characters GB2312 cannot carry"
                )
        try:
            form = urlencode(fields, encoding=REQUEST_ENCODING)
        except UnicodeEncodeError as exc:
            # Nothing was sent; sending it again unchanged would fail again.
            raise InvalidRequest(not_gb2312(_gb2312_misfits(exc.object))) from exc
        if method == "GET":
            reply = self.http.get(f"{url}?{form}", encoding=REPLY_ENCODING)
        else:
            reply = self.http.post(
                url,
                data=form.encode("ascii"),
                headers={"Content-Type": FORM},
                encoding=REPLY_ENCODING,
            )
        text = reply.text.strip()
        if reply.status != 200:
            raise UnexpectedReply(
                f"smsadmin answered HTTP {reply.status}", code=str(reply.status), raw=text
            )
        return text


def _raise_unless_sent(text: str) -> None:
    coded = coded_reply(text)
    if coded is None:
        raise UnexpectedReply("smsadmin send answer is not a result code", raw=text)
    code = coded[0]
    if code != "0":
        # Code 5 is "numbers or content empty".  Content is never empty here, so it means the
        # gateway's silent filter of malformed numbers left none.
        raise error_for(code, text, kind="invalid_number" if code == "5" else "")


def _refusal(message: OutgoingMessage, kind: str, why: str) -> SubmitResult:
    return SubmitResult(
        custom_id=message.custom_id,
        phone=message.phone,
        accepted=False,
        error_kind=kind,
        error_description=why,
    )


def _repeated_phones(messages: Sequence[OutgoingMessage]) -> dict[int, SubmitResult]:
    """Refusals for a phone's second and later messages in one request.  The gateway silently
    drops repeated numbers (v1.0.3 item 5) and reports are matched by (linkid, phone), so a
    repeat must wait for another request: nothing was sent, hence "transient"."""
    seen: set[str] = set()
    refused = {}
    for index, message in enumerate(messages):
        if message.phone in seen:
            refused[index] = _refusal(
                message, "transient", "phone already in this request; send it in another one"
            )
        seen.add(message.phone)
    return refused


def _ddt_problem(content: str) -> tuple[str, str] | None:
    """Why a content cannot ride in a 点点通 parameter group, as (error kind, words).  Such a
    recipient is not sent; the others of the request still are."""
    if not content:
        return InvalidRequest.kind, "Not sent: the message is empty."
    misfits = _gb2312_misfits(content)
    if misfits:
        # No request shape of this gateway carries it: refused for good, before sending.
        return InvalidRequest.kind, not_gb2312(misfits)
    if "," in content or ";" in content:
        # Section 4: groups are separated by ";" and the fields of a group by ",", split after
        # url-decoding with no escape.  Such content would be cut ("Hi Li, your order…" loses
        # all after "Hi Li") or its group dropped as malformed ("格式不符的参数, 系统自动过滤掉").
        # A plain send carries the content in its own field.
        return NeedsSingleSend.kind, (
            "An ASCII ',' or ';' in the content would split smsadmin's personalised (点点通) "
            "list: sent on its own instead."
        )
    return None


def _results(
    messages: Sequence[OutgoingMessage], refused: dict[int, SubmitResult], linkid: str, raw: str
) -> list[SubmitResult]:
    return [
        refused.get(index)
        or SubmitResult(
            custom_id=message.custom_id,
            phone=message.phone,
            accepted=True,
            vendor_message_id=vendor_message_id(linkid, message.phone),
            batch_id=linkid,
            raw=raw,
        )
        for index, message in enumerate(messages)
    ]
