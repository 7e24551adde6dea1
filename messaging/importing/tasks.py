"""django-q2 task for recipient imports (the work is in ``service.run_import``)."""

from __future__ import annotations


def import_recipients(job_id: int, language: str | None = None) -> str:
    from .service import run_import

    job = run_import(job_id, language=language)
    return f"{job.state}: {job.imported_count} imported"
