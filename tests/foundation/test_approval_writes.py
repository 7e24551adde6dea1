"""A campaign's approval is written by ``services.campaign_commands`` only (as its state is):
no other production module passes the approval fields to a write."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPROVAL_FIELDS = {
    "approval_status",
    "approved_by",
    "approved_at",
    "approval_comment",
    "approval_fingerprint",
}
WRITES = {"update", "create", "get_or_create", "update_or_create", "bulk_update"}
HOME = ROOT / "messaging" / "services" / "campaign_commands.py"


def writers(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in WRITES
        ):
            found += [(node.lineno, k.arg) for k in node.keywords if k.arg in APPROVAL_FIELDS]
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr in APPROVAL_FIELDS:
                    found.append((node.lineno, target.attr))
    return sorted(found)


def test_the_scanner_sees_writes(tmp_path):
    module = tmp_path / "x.py"
    module.write_text(
        "Campaign.objects.filter(pk=1).update(approval_status='approved')\n"
        "campaign.approved_by = user\n"
        "Campaign.objects.filter(approval_status='pending')\n"
    )
    assert writers(module) == [(1, "approval_status"), (2, "approved_by")]


def test_only_the_campaign_commands_write_the_approval():
    offenders = {}
    for path in sorted((ROOT / "messaging").rglob("*.py")):
        if path == HOME or "migrations" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if not any(field in text for field in APPROVAL_FIELDS):
            continue
        found = writers(path)
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert not offenders, offenders
