"""django-import-export pieces for the admin's recipient import (preview, then confirm).

``SpreadsheetFormat`` reads CSV (any of the encodings ``readers`` detects), XLSX and XLS —
the content decides, not the file name — with the same header and phone-column detection as
the marketer's pages.  ``RecipientResource`` imports into one chosen recipient list with the
same checks (``service.RowChecker``): invalid phones are rejected with their row and reason,
duplicates in the file and in the list and suppressed phones are counted and left out, and the
rows are created in bulk inside django-import-export's transaction (all or nothing).

The admin import reads the whole file into memory (django-import-export works on a
``tablib.Dataset``); large files belong on the marketer's import page, which streams.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

import tablib
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export import resources
from import_export.formats.base_formats import Format
from import_export.results import RowResult

from accounts.audit import Action, record
from messaging.models import Recipient, RecipientList

from .readers import SpreadsheetError, cell_text, open_table, phone_header_rank
from .service import Rejected, RowChecker

PREVIEW_ROWS = 20
REJECTED_SHOWN = 500


class SpreadsheetFormat(Format):
    """CSV, XLSX or XLS, recognised by content."""

    def __init__(self, encoding=None):
        self.encoding = encoding

    def get_title(self):
        return gettext("Spreadsheet (CSV, XLSX or XLS)")

    def get_extension(self):
        return "csv"

    def can_import(self):
        return True

    def create_dataset(self, in_stream):
        if isinstance(in_stream, str):
            in_stream = in_stream.encode("utf-8")
        fd, path = tempfile.mkstemp(suffix=".upload")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(in_stream)
            table = open_table(path)
            dataset = tablib.Dataset(headers=table.headers)
            source_rows = []
            for number, values in table.rows():
                dataset.append(values)
                source_rows.append(number)
        finally:
            os.unlink(path)
        dataset.source_rows = source_rows
        dataset.detected_phone_column = table.phone_column
        return dataset


@dataclass
class ImportSummary:
    recipient_list: RecipientList | None = None
    phone_column: str = ""
    rows: int = 0
    accepted: int = 0
    duplicate_in_file: int = 0
    duplicate_in_list: int = 0
    suppressed: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    preview: list[tuple[int, str, dict]] = field(default_factory=list)

    @property
    def rejected_count(self) -> int:
        return len(self.rejected)

    @property
    def rejected_shown(self) -> list[Rejected]:
        return self.rejected[:REJECTED_SHOWN]


class NoPhoneColumn(ValueError):
    pass


class RecipientResource(resources.ModelResource):
    """Recipients of one list, from a spreadsheet whose other columns become variables."""

    class Meta:
        model = Recipient
        name = _("Recipients (phone column + variables)")
        fields = ("phone", "variables", "source_row")
        import_id_fields = ()
        force_init_instance = True  # only new recipients; duplicates never reach the model
        use_bulk = True
        batch_size = 2000
        skip_diff = True
        clean_model_instances = False
        report_skipped = False

    def __init__(
        self,
        recipient_list: RecipientList | None = None,
        phone_column: str = "",
        allow_international: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.recipient_list = recipient_list
        self.phone_column = phone_column or ""
        self.allow_international = allow_international
        self.summary = ImportSummary(recipient_list=recipient_list)
        self._phones: list[str | None] = []
        self._source_rows: list[int] = []
        self._variables: list[str] = []

    def get_user_visible_fields(self):
        return []  # the columns are whatever the file has; the form explains it

    def _resolve_phone_column(self, dataset) -> str:
        headers = list(dataset.headers or [])
        if self.phone_column:
            if self.phone_column not in headers:
                raise NoPhoneColumn(
                    gettext("The file has no column named “%(name)s”.")
                    % {"name": self.phone_column}
                )
            return self.phone_column
        detected = getattr(dataset, "detected_phone_column", None)
        if detected in headers:
            return detected
        ranked = [(r, h) for h in headers if (r := phone_header_rank(str(h or ""))) is not None]
        if ranked:
            return min(ranked)[1]
        raise NoPhoneColumn(
            gettext(
                "No phone column found (手机号, mobile, …): enter the name of the column that "
                "holds the phone numbers."
            )
        )

    def before_import(self, dataset, **kwargs):
        if self.recipient_list is None:
            raise ValueError(gettext("Choose the recipient list to import into."))
        column = self._resolve_phone_column(dataset)
        self.summary.phone_column = column
        headers = list(dataset.headers)
        phone_index = headers.index(column)
        self._variables = [(h, i) for i, h in enumerate(headers) if i != phone_index]
        self._source_rows = getattr(dataset, "source_rows", None) or [
            i + 2 for i in range(len(dataset))
        ]
        checker = RowChecker(self.recipient_list, allow_international=self.allow_international)
        checker.on_reject = self.summary.rejected.append
        phones: list[str | None] = []
        for i, values in enumerate(dataset):
            phones.append(checker.check(self._source_rows[i], values[phone_index], values))
        accepted = [p for p in phones if p is not None]
        drop: set[str] = set()
        for start in range(0, len(accepted), 5000):
            drop |= checker.filter_chunk(accepted[start : start + 5000])
        self._phones = [None if p in drop else p for p in phones]
        s = self.summary
        s.rows = len(dataset) - checker.blank
        s.accepted = sum(1 for p in self._phones if p is not None)
        s.duplicate_in_file = checker.duplicate_in_file
        s.duplicate_in_list = checker.duplicate_in_list
        s.suppressed = checker.suppressed

    def import_row(self, row, instance_loader, **kwargs):
        index = kwargs["row_number"] - 1
        if index >= len(self._phones) or self._phones[index] is None:
            row_result = self.get_row_result_class()()
            row_result.import_type = RowResult.IMPORT_TYPE_SKIP
            return row_result
        return super().import_row(row, instance_loader, **kwargs)

    def import_instance(self, instance, row, **kwargs):
        index = kwargs["row_number"] - 1
        values = list(row.values())
        instance.recipient_list = self.recipient_list
        instance.phone = self._phones[index]
        instance.variables = {name: cell_text(values[i]) for name, i in self._variables}
        instance.source_row = self._source_rows[index]
        if len(self.summary.preview) < PREVIEW_ROWS:
            self.summary.preview.append((instance.source_row, instance.phone, instance.variables))

    def after_import(self, dataset, result, **kwargs):
        super().after_import(dataset, result, **kwargs)
        result.summary = self.summary
        if not kwargs.get("dry_run") and not result.has_errors() and self.recipient_list:
            recipient_list = RecipientList.objects.select_for_update().get(
                pk=self.recipient_list.pk
            )
            columns = list(recipient_list.columns or [])
            new = [name for name, _i in self._variables if name not in columns]
            if new:
                recipient_list.columns = columns + new
                recipient_list.save(update_fields=["columns"])
            record(
                Action.IMPORTED,
                recipient_list,
                details={"accepted": self.summary.accepted, "rows": self.summary.rows},
            )


def spreadsheet_error_message(error: Exception) -> str:
    if isinstance(error, SpreadsheetError):
        return str(error)
    return gettext("The file cannot be read: %(error)s") % {"error": type(error).__name__}
