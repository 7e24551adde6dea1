"""actiongw: a CMPP-backed HTTP gateway with one URL, ``/sms``, and ``action=`` send | p2p |
balance | report | mo.  Requests are UTF-8 form fields (POST, as the document recommends),
replies are JSON (``rt=json``).

The password travels plain or as an MD5 whose input differs per action:

* send:    MD5(password + extno + content + mobile)
* p2p:     MD5(password + extno + mobileContentList), line breaks removed from the list
* balance, report, mo: MD5(password)
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext_lazy

from ..base import (
    Balance,
    Capabilities,
    NeedsSingleSend,
    OutgoingMessage,
    PollResult,
    PushInstruction,
    SubmitResult,
    UnexpectedReply,
    VendorClient,
)
from .codes import RESULT_CODES, UNLISTED_KIND, error_for
from .push import parse_items

log = logging.getLogger(__name__)

PATH = "/sms"
POLL_SIZE = 1000
"""``size`` of a report / MO poll: the default of both, inside both ranges (report 10–10000,
MO 10–1000)."""
LI_PER_YUAN = 1000
"""Balances are in 厘 (单位厘), a thousandth of a yuan."""


def md5_hex(text: str) -> str:
    # The document does not say upper or lower case; the simulator accepts both.
    return hashlib.md5(text.encode("utf-8")).hexdigest()  # noqa: S324 - the vendor's scheme


def p2p_list(messages: Sequence[OutgoingMessage]) -> str:
    """``Mobile#Content`` lines.  The table says "换行分割" but the document's only concrete
    request ends every line with %0d (CR), trailing one included: we send exactly that.  The
    contents must have no line break (see ``p2p_misfit``)."""
    return "".join(f"{message.phone}#{message.content}\r" for message in messages)


def p2p_misfit(message: OutgoingMessage) -> SubmitResult | None:
    """A line break in a content would start a new ``Mobile#Content`` line: such a recipient
    cannot ride in a p2p request, and is not sent there.  A ``send`` carries its content in a
    field of its own, line breaks included, so the pipeline sends it on its own."""
    if "\r" not in message.content and "\n" not in message.content:
        return None
    return SubmitResult(
        message.custom_id,
        message.phone,
        accepted=False,
        error_kind=NeedsSingleSend.kind,
        error_description=(
            "A line break in the content would split actiongw's one-line-per-number list: "
            "sent on its own instead."
        ),
    )


def strip_line_breaks(text: str) -> str:
    """p2p signing: "加密时mobileContentList换行符去掉"."""
    return text.replace("\r", "").replace("\n", "")


class ActionGwClient(VendorClient):
    key = "actiongw"
    label = "Action gateway (CMPP HTTP)"
    capabilities = Capabilities(
        # send: "最多500个号码".  p2p has no stated limit; STATUS 102 ("单次提交的号码数过多")
        # recommends 200 or fewer, which we follow where the document gives no number.
        max_numbers_per_request=500,
        max_personalised_per_request=200,
        # The document states no minimum polling interval; 5 s is the portal's conservative
        # default (the simulator answers faster polls with 21 连接过多).
        min_poll_interval_s=5.0,
        max_reports_per_poll=POLL_SIZE,
        pushes=frozenset({"report", "mo"}),
        auth_modes=("plain", "md5"),
    )

    push_instructions = (
        PushInstruction(
            "report",
            gettext_lazy("POST with a JSON array (flag 1), answered OK"),
            gettext_lazy(
                "Register this URL with the gateway as the account's push address (section 6.1): "
                "reports and replies arrive together."
            ),
        ),
        PushInstruction(
            "mo",
            gettext_lazy("POST with a JSON array (flag 0), answered OK"),
            gettext_lazy("The same push address carries the replies (section 6.2)."),
        ),
    )

    @property
    def url(self) -> str:
        return self.config.base_url.rstrip("/") + PATH

    def _password(self, signed: str) -> str:
        if self.config.auth_mode == "md5":
            return md5_hex(self.config.secret + signed)
        return self.config.secret

    def _call(self, action: str, fields: dict[str, str], signed: str = "") -> tuple[dict, str]:
        """POST one action; the reply's JSON object and text, or the typed error of its
        ``status``."""
        data = {
            "action": action,
            "account": self.config.account_id,
            "password": self._password(signed),
            **fields,
            "rt": "json",
        }
        reply = self.http.post(self.url, data=data)
        if reply.status != 200:
            raise UnexpectedReply(
                f"actiongw answered HTTP {reply.status}", code=str(reply.status), raw=reply.text
            )
        try:
            payload = json.loads(reply.body.decode("utf-8"))
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError alike
            raise UnexpectedReply("actiongw reply is not UTF-8 JSON", raw=reply.text) from exc
        if not isinstance(payload, dict) or "status" not in payload:
            raise UnexpectedReply("actiongw reply has no status", raw=reply.text)
        # The balance sample gives status as a number (0), every other sample as text ("0").
        status = str(payload["status"]).strip()
        if status != "0":
            raise error_for(status, reply.text)
        return payload, reply.text

    @staticmethod
    def _list(payload: dict, raw: str) -> list:
        items = payload.get("list")
        if not isinstance(items, list):
            raise UnexpectedReply("actiongw reply has no list", raw=raw)
        return items

    # sending -------------------------------------------------------------------------
    def send_same(self, messages: Sequence[OutgoingMessage], content: str) -> list[SubmitResult]:
        mobile = ",".join(message.phone for message in messages)
        extno = self.config.extension
        payload, raw = self._call(
            "send",
            {"mobile": mobile, "content": content, "extno": extno},
            signed=extno + content + mobile,
        )
        return self._submit_results(messages, self._list(payload, raw), raw)

    def send_personalised(self, messages: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        # Recipients whose content a p2p list cannot carry stay out of the request; the others
        # go, and the answers are put back in the order given.
        misfits = {index: p2p_misfit(message) for index, message in enumerate(messages)}
        misfits = {index: result for index, result in misfits.items() if result}
        sendable = [m for index, m in enumerate(messages) if index not in misfits]
        sent: list[SubmitResult] = []
        if sendable:
            mobile_content_list = p2p_list(sendable)
            extno = self.config.extension
            payload, raw = self._call(
                "p2p",
                {"mobileContentList": mobile_content_list, "extno": extno},
                signed=extno + strip_line_breaks(mobile_content_list),
            )
            sent = self._submit_results(sendable, self._list(payload, raw), raw)
        answers = iter(sent)
        return [misfits.get(index) or next(answers) for index in range(len(messages))]

    @staticmethod
    def _submit_results(
        messages: Sequence[OutgoingMessage], entries: list, raw: str
    ) -> list[SubmitResult]:
        # The gateway echoes no caller id: answers are matched by phone, in order, so a number
        # given twice takes its answers in the order they come.
        by_phone: dict[str, deque[dict]] = defaultdict(deque)
        for entry in entries:
            if not isinstance(entry, dict):
                raise UnexpectedReply("actiongw send list item is not an object", raw=raw)
            by_phone[str(entry.get("mobile", ""))].append(entry)
        results = []
        for message in messages:
            queue = by_phone.get(message.phone)
            if not queue:
                # Accepted or not, the reply does not say: reconcile from reports.
                results.append(
                    SubmitResult(
                        message.custom_id,
                        message.phone,
                        accepted=False,
                        error_kind="ambiguous",
                        error_description="actiongw's reply has no answer for this number",
                        raw=raw,
                    )
                )
                continue
            entry = queue.popleft()
            code = str(entry.get("result", "")).strip()
            mid = entry.get("mid")
            result = SubmitResult(
                message.custom_id,
                message.phone,
                accepted=code == "0",
                vendor_message_id="" if mid is None else str(mid),
                raw=json.dumps(entry, ensure_ascii=False),
            )
            if code != "0":
                row = RESULT_CODES.get(code)
                result = replace(
                    result,
                    error_code=code,
                    error_description=row.zh if row else "",
                    error_kind=row.meaning if row else UNLISTED_KIND,
                )
            results.append(result)
        # RESULT 10 (extno), 15 (balance) and 17 (signature) are conditions of the account that
        # the gateway reports per number: per number they are kinds "account" / "balance" (15
        # can come for the last numbers only, once the balance ran out inside the request).
        # When every number carries the same one, it concerns the request: raise it.
        codes = {result.error_code for result in results}
        if len(codes) == 1 and (code := codes.pop()) in RESULT_CODES:
            raise error_for(code, raw, RESULT_CODES)
        return results

    # reports and replies -------------------------------------------------------------
    def poll_reports(self) -> PollResult:
        return self._poll("report", want_reports=True)

    def poll_mo(self) -> PollResult:
        return self._poll("mo", want_reports=False)

    def _poll(self, action: str, *, want_reports: bool) -> PollResult:
        # The MO table names the field "szie"; its example and the report action use "size".
        payload, raw = self._call(action, {"size": str(POLL_SIZE)})
        items = self._list(payload, raw)
        reports, replies, errors = parse_items(items)
        wanted, misplaced = (reports, replies) if want_reports else (replies, reports)
        # An item we cannot use here is logged; the whole reply stays in ``raw``.
        for problem in errors + [item.raw for item in misplaced]:
            log.warning("actiongw %s poll: unusable item %s", action, problem)
        return PollResult(items=wanted, more_waiting=len(items) >= POLL_SIZE, raw=raw)

    # account -------------------------------------------------------------------------
    def balance(self) -> Balance:
        payload, raw = self._call("balance", {})
        li = payload.get("balance")
        try:
            amount = Decimal(str(li)) / LI_PER_YUAN
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite():
            raise UnexpectedReply(f"actiongw balance {li!r} is not a number", raw=raw)
        # A post-paid account (chargeType POSTCHARGE) shows a negative balance, as the sample.
        return Balance(
            amount,
            "yuan",
            details={"chargeType": str(payload.get("chargeType", "")), "balance_li": str(li)},
            raw=raw,
        )
