"""``ketadesk check``'s warnings about the stored configuration: the shipped rule keys it lacks
(a clinic created before the rules engine, or an old backup restored), each naming the
protocol, session type or section and the key; ``ketadesk config add-shipped-rules`` adds them.
Warnings, not problems: the rows are sound, but a rule the clinic should have does not apply."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ketadesk.services.clinic.integrity_report import Problem
from ketadesk.store.config_upgrade import COMMAND, missing_shipped_rules

CONFIG_CODE = "config"
#: What to do about them, said once after the warnings.
CONFIG_HINT = (
    f"`{COMMAND} --db URL` adds the missing shipped rule keys (a value the clinic set is kept; "
    "--dry-run lists them first)"
)


def config_warnings(session: Session) -> tuple[Problem, ...]:
    """One warning per shipped rule key the stored configuration lacks."""
    missing = missing_shipped_rules(session.connection())
    return tuple(
        Problem(
            code=CONFIG_CODE,
            message=f"warning: configuration: {a.where} lacks the shipped rule {a.key} "
            f"(shipped: {a.key} = {a.value_text})",
        )
        for a in missing.added
    )
