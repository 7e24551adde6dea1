"""A fake actiongw gateway, as strict as its document.

The document shows no error reply: errors are answered in the success shape with the STATUS
code (``{"status": "3", "balance": 0, "list": []}``).  It has no submit-time code for a bad
number either, so a malformed number is accepted and then reported ``MA:0021`` (号码格式错误).

Numbers refused on purpose (the engine's ``phone_refusals``) get the per-number RESULT of the
reason: ``no_balance`` 15, ``bad_sender`` 10, ``bad_signature`` 17, or a code given as digits
(one outside the table included).  The RESULT table has no code for a bad number or bad content,
so ``invalid_number`` and ``content_rejected`` are accepted and reported ``MA:0021`` / ``MA:0002``
(内容非法), as the gateway would.  With the engine's ``reports_without_ids`` a report's ``mid`` is
empty (the gateway carries no id of ours).
"""

from __future__ import annotations

import json
import re

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
from .client import PATH, ActionGwClient, md5_hex, strip_line_breaks
from .codes import STAT_CODES
from .push import PUSH_REPLY, TIME_FORMAT

MAX_NUMBERS = 500
"""send: "最多500个号码"; applied to p2p too, the only hard number the document gives."""
POLL_SIZES = {"report": (10, 10_000), "mo": (10, 1000)}
PRICE_LI = 50
"""What one part costs, in 厘: the gateway reports balances in 厘, the engine counts parts."""
CHINESE_MOBILE = re.compile(r"1\d{10}")
BAD_NUMBER_STAT = "MA:0021"
# The engine's refusal reasons -> the RESULT code of section 8, or the STAT of the report that
# says so where the RESULT table has no code for it.
REFUSAL_RESULTS = {"no_balance": "15", "bad_sender": "10", "bad_signature": "17"}
REFUSAL_STATS = {"invalid_number": BAD_NUMBER_STAT, "content_rejected": "MA:0002"}

# The engine's outcome -> the first STAT code in the table with that meaning (DELIVRD, EXPIRED,
# DELETED, REJECTED).
STAT_FOR_OUTCOME = {code.meaning: stat for stat, code in reversed(STAT_CODES.items())}


def report_item(message: AcceptedMessage, without_ids: bool = False) -> dict:
    return {
        "flag": 1,
        "mid": "" if without_ids else message.vendor_message_id,
        "spid": message.account_id,
        "accessCode": message.extension,
        "mobile": message.phone,
        "stat": message.extra.get("stat") or STAT_FOR_OUTCOME.get(message.outcome, "MA:0004"),
        "time": VendorSimulator.now_text(TIME_FORMAT),
    }


def reply_item(account: SimAccount, reply: SimReply) -> dict:
    return {
        "flag": 0,
        "mid": reply.mo_id,
        "spid": account.account_id,
        "accessCode": reply.extension or account.extension,
        "mobile": reply.phone,
        "content": reply.content,
        "time": reply.received_at.astimezone(CHINA).strftime(TIME_FORMAT),
    }


def _json(payload: dict) -> SimResponse:
    return SimResponse(
        json.dumps(payload, ensure_ascii=False), content_type="application/json; charset=utf-8"
    )


def _status(code: str) -> SimResponse:
    return _json({"status": code, "balance": 0, "list": []})


class ActionGwSimulator(VendorSimulator):
    key = "actiongw"
    min_poll_interval_s = ActionGwClient.capabilities.min_poll_interval_s

    def handle(self, request: SimRequest) -> SimResponse:
        if request.path != PATH:
            return SimResponse("Not Found", status=404)
        params = request.params()
        action = params.get("action", "")
        handler = {
            "send": self._submit,
            "p2p": self._submit,
            "balance": self._balance,
            "report": self._poll,
            "mo": self._poll,
        }.get(action)
        # Anything not decoded as UTF-8 (the document's one encoding) is a malformed packet.
        if (
            handler is None
            or params.get("rt") != "json"
            or any("\ufffd" in value for value in params.values())
        ):
            return _status("1")
        account = self.find_account(params.get("account", ""))
        if account is None:
            return _status("3")
        recipients = self._recipients(action, params)
        if recipients is None:
            return _status("1")
        if not self._password_ok(account, action, params):
            return _status("3")
        if len(recipients) > MAX_NUMBERS:
            return _status("102")
        return handler(account, params, recipients)

    @staticmethod
    def _recipients(action: str, params: dict[str, str]) -> list[tuple[str, str]] | None:
        """(phone, content) pairs of a send or p2p; None when a field is missing or malformed."""
        if action == "send":
            if not all(name in params for name in ("mobile", "content", "extno")):
                return None
            phones = params["mobile"].split(",")
            return [(phone, params["content"]) for phone in phones] if all(phones) else None
        if action == "p2p":
            if "extno" not in params or "mobileContentList" not in params:
                return None
            # Lines end with CR in the document's example and "换行" in its table: take any.
            lines = [line for line in re.split(r"[\r\n]+", params["mobileContentList"]) if line]
            if not lines or not all("#" in line for line in lines):
                return None
            return [tuple(line.split("#", 1)) for line in lines]
        return []

    @staticmethod
    def _password_ok(account: SimAccount, action: str, params: dict[str, str]) -> bool:
        if action == "send":
            signed = params["extno"] + params["content"] + params["mobile"]
        elif action == "p2p":
            signed = params["extno"] + strip_line_breaks(params["mobileContentList"])
        else:
            signed = ""
        password = params.get("password", "")
        # Nothing says which form is used, so the gateway must take either.
        return password == account.secret or password.lower() == md5_hex(account.secret + signed)

    def _submit(
        self,
        account: SimAccount,
        params: dict[str, str],
        recipients: list[tuple[str, str]],
        refusal: str = "",
    ) -> SimResponse:
        extno = params["extno"]
        signature = account.options.get("signature", "")
        entries = []
        for phone, content in recipients:
            parts = segments(content)
            refused = self.state.refusal(phone)
            if refusal:
                code = refusal
            elif extno != account.extension:
                code = "10"
            elif signature and signature not in content:
                # The account's signature check (常见错误 17), switched on per account.
                code = "17"
            elif refused in REFUSAL_RESULTS or refused.isdigit():
                code = REFUSAL_RESULTS.get(refused, refused)
            elif account.balance < parts:
                # The balance runs out inside a request: the numbers after it get 15.
                code = "15"
            else:
                code = ""
            if code:
                entries.append({"mid": "", "mobile": phone, "result": int(code)})
                continue
            with self.state.lock:  # no push may take the report before its outcome is set
                mid = f"{0x4C2CA88382720000 + self.state.next_id():016X}"
                message = self.state.accept(
                    account,
                    phone=phone,
                    content=content,
                    vendor_message_id=mid,
                    extension=extno,
                    parts=parts,
                )
                stat = REFUSAL_STATS.get(refused, "")
                if not CHINESE_MOBILE.fullmatch(phone):
                    stat = BAD_NUMBER_STAT
                if stat:
                    message.outcome = STAT_CODES[stat].meaning
                    message.extra["stat"] = stat
            entries.append({"mid": mid, "mobile": phone, "result": 0})
        return _json({"status": "0", "balance": account.balance * PRICE_LI, "list": entries})

    def _balance(self, account: SimAccount, params, recipients) -> SimResponse:
        # status is a number here, as in the document's balance sample.
        return _json(
            {"status": 0, "balance": account.balance * PRICE_LI, "chargeType": "PRECHARGE"}
        )

    def _poll(self, account: SimAccount, params: dict[str, str], recipients) -> SimResponse:
        action = params["action"]
        low, high = POLL_SIZES[action]
        # The MO table spells the field "szie"; its example says "size".  Take either.
        size = params.get("size", params.get("szie", "1000"))
        if not size.isdigit() or not low <= int(size) <= high:
            return _status("1")
        # The document sets no polling interval; 21 (连接过多) is its nearest answer.
        if self.state.poll_too_soon(self.key, account.account_id, action, self.min_poll_interval_s):
            return _status("21")
        if action == "report":
            items = [
                report_item(m, self.state.reports_without_ids)
                for m in self.state.take_reports(self.key, account.account_id, int(size))
            ]
        else:
            items = [
                reply_item(account, r)
                for r in self.state.take_replies(self.key, account.account_id, int(size))
            ]
        return _json({"status": "0", "balance": account.balance * PRICE_LI, "list": items})

    # misbehaviour in the vendor's own words ------------------------------------------
    def rate_limited(self, request: SimRequest) -> SimResponse:
        return _status("21")

    def auth_failed(self, request: SimRequest) -> SimResponse:
        return _status("3")

    def no_balance(self, request: SimRequest) -> SimResponse:
        # Balance is a per-number RESULT (15), so only sends can show it.
        params = request.params()
        account = self.find_account(params.get("account", ""))
        recipients = self._recipients(params.get("action", ""), params)
        if account is None or not recipients:
            return self.handle(request)
        return self._submit(account, params, recipients, refusal="15")

    # pushes: one JSON array, answered with the body OK -------------------------------
    def _push(self, account: SimAccount, items: list[dict]) -> PushCall:
        return PushCall(
            "POST",
            account.push_url,
            body=json.dumps(items, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )

    def report_push(self, account: SimAccount, messages: list[AcceptedMessage]) -> PushCall:
        without_ids = self.state.reports_without_ids
        return self._push(account, [report_item(m, without_ids) for m in messages])

    def reply_push(self, account: SimAccount, replies: list[SimReply]) -> PushCall:
        return self._push(account, [reply_item(account, reply) for reply in replies])

    def push_acknowledged(self, call: PushCall, response: requests.Response) -> bool:
        return response.status_code == 200 and response.text.strip() == PUSH_REPLY
