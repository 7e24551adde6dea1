"""One home per rule, kept by reading the code: a campaign's state is written only by
``services.campaign_commands``, a message's status only by ``services.lifecycle`` (and the
start paths that create messages), and every send answer is decided by
``services.outcomes``."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "messaging"
CAMPAIGN_HOME = {"services/campaign_commands.py"}
# Creating a campaign's messages (INSERT with their first status) is the start's, not a move.
MESSAGE_HOMES = {
    "services/lifecycle.py",
    "services/sql/messages.py",  # the lifecycle's statements, by database
    "services/sql/campaign_start.py",
}


def sources():
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(("migrations/", "vendors/")):
            continue
        yield relative, ast.parse(path.read_text(), filename=relative)


def writes_of(field: str, tree: ast.AST) -> list[int]:
    """Lines that write ``field``: ``.update(field=…)``, ``x.field = …`` and
    ``bulk_update(…, [… "field" …])``."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("update", "update_or_create") and any(
                k.arg == field for k in node.keywords
            ):
                lines.append(node.lineno)
            if node.func.attr == "bulk_update" and any(
                isinstance(c, ast.Constant) and c.value == field
                for arg in node.args[1:]
                for c in ast.walk(arg)
            ):
                lines.append(node.lineno)
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr == field:
                    lines.append(node.lineno)
    return lines


def test_only_campaign_commands_write_a_campaigns_state():
    offenders = {}
    for relative, tree in sources():
        if relative in CAMPAIGN_HOME or relative in MESSAGE_HOMES:
            continue
        lines = writes_of("status", tree)
        if lines:
            offenders[relative] = lines
    assert offenders == {}, f"status written outside its home: {offenders}"


def test_the_homes_do_write_it():
    # The scan finds writes where they are, or it could never fail.
    trees = dict(sources())
    assert writes_of("status", trees["services/campaign_commands.py"])
    assert writes_of("status", trees["services/lifecycle.py"])


# The modules that act on a send's answer.  (A template upload's answer is not a message's:
# ``services/templates.py`` words it for the administrator itself.)
PIPELINE = (
    "services/sending.py",
    "services/campaign_commands.py",
    "services/lifecycle.py",
    "tasks.py",
    "views/",
    "admin/campaign",  # the campaign pages and commands (an import summary is no answer)
)


def test_only_the_outcome_table_reads_what_an_answer_means():
    """Nobody in the pipeline but ``outcomes`` branches on an answer's kind or flags."""
    offenders = {}
    for relative, tree in sources():
        if not relative.startswith(PIPELINE):
            continue
        lines = [
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and node.attr in ("error_kind", "accepted", "retry_safe")
            and isinstance(node.ctx, ast.Load)
        ]
        if lines:
            offenders[relative] = lines
    assert offenders == {}, f"an answer's meaning read outside the outcome table: {offenders}"
