"""A vendor whose port refuses the connection: every adapter raises ``TransientError`` (the
request never left, so it may be sent again).  No simulator: the port is closed."""

import socket

import pytest

from messaging.vendors.base import AccountConfig, OutgoingMessage, TransientError
from messaging.vendors.registry import vendor

from .actiongw.support import ACCOUNT as ACTIONGW_ACCOUNT
from .actiongw.support import SECRET as ACTIONGW_SECRET
from .ashx5g.support import ACCOUNT as ASHX5G_ACCOUNT
from .ashx5g.support import SECRET as ASHX5G_SECRET
from .montnets.support import DOC_PASSWORD, DOC_USERID
from .smscn.support import PASSWORD as SMSCN_PASSWORD
from .smscn.support import UID as SMSCN_UID

ONE = [OutgoingMessage("c1", "85292041234", "hi")]
# (vendor, account id, secret, the call)
CASES = [
    ("ashx5g", ASHX5G_ACCOUNT, ASHX5G_SECRET, lambda client: client.balance()),
    (
        "actiongw",
        ACTIONGW_ACCOUNT,
        ACTIONGW_SECRET,
        lambda client: client.send_same([OutgoingMessage("c0", "13800000001", "")], "hi"),
    ),
    ("montnets", DOC_USERID, DOC_PASSWORD, lambda client: client.send_single(ONE[0])),
    ("smscn", SMSCN_UID, SMSCN_PASSWORD, lambda client: client.balance()),
]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(("key", "account_id", "secret", "call"), CASES, ids=[c[0] for c in CASES])
def test_connection_refused_is_transient(key, account_id, secret, call):
    config = AccountConfig(f"http://127.0.0.1:{closed_port()}/{key}", account_id, secret)
    with pytest.raises(TransientError):
        call(vendor(key).client(config))
