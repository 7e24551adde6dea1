"""Recipient import benchmark (PostgreSQL).

    .venv/bin/python bench/import_bench.py [--rows-large 1000000] [--rows 100000]

Writes the same spreadsheets for every contender into a temporary folder, then imports them,
each run in its own process so that peak RSS is that run's alone:

* django-import-export's stock ``ModelResource`` for ``Recipient`` in bulk mode
  (``use_bulk``, ``batch_size=1000``, ``skip_diff``, ``force_init_instance`` — its documented
  speed settings), reading the CSV through its ``CSV`` format like the admin does;
* this project's import (``messaging.importing.service``) on the same 100,000-row CSV,
  then alone on 1,000,000 CSV rows and 100,000 XLSX rows.

The stock resource only copies phone and variables; ours also normalizes and validates every
phone, removes duplicates (in the file and against the list), checks suppressions and writes
the rejected-rows report.  Targets: 1M CSV < 60 s, 100k XLSX < 20 s, peak RSS < 300 MB,
≥ 10× the stock resource's rows per second.

``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/bench_import``) is created when
missing and migrated.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_import"
HEADERS = ["phone", "name", "city", "points"]
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"


def rows(n: int, seed: int = 7, duplicates: bool = True):
    """Realistic rows: mostly clean mobiles, some in other notations, ~0.3% invalid (short
    numbers, scientific notation, text) and, with ``duplicates``, ~1% repeated phones.

    The file both importers get has no repeated value: the stock resource cannot import one
    (its bulk insert hits the unique constraint and the whole import rolls back)."""
    rng = random.Random(seed)
    base = 13000000000
    for i in range(n):
        phone = str(base + i * 7)
        r = rng.random()
        if r < 0.01 and i and duplicates:
            phone = str(base + rng.randrange(i) * 7)  # a duplicate
        elif r < 0.013:
            if duplicates:
                phone = rng.choice(["1.38E+10", phone[:-1], "abc"])
            else:
                phone = rng.choice([phone + "0", f"{phone[0]}.{phone[1:]}E+10"])
        elif r < 0.05:
            phone = f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"
        yield [
            phone,
            rng.choice(SURNAMES) + rng.choice("明华丽强伟芳娜敏静磊"),
            rng.choice(CITIES),
            str(rng.randrange(10000)),
        ]


def write_csv(path: Path, n: int, duplicates: bool = True) -> None:
    import csv

    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADERS)
        writer.writerows(rows(n, duplicates=duplicates))


def write_xlsx(path: Path, n: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("名单")
    sheet.append(HEADERS)
    for phone, name, city, points in rows(n):
        # Numbers as Excel stores them: numeric cells, not text.
        sheet.append([int(phone) if phone.isdigit() else phone, name, city, int(points)])
    workbook.save(path)


# --------------------------------------------------------------------------- database


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django(media_root: str) -> None:
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ["DJANGO_MEDIA_ROOT"] = media_root
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsportal.settings")
    os.environ.setdefault("DJANGO_DEBUG", "true")  # development settings: dev keys, this machine
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def fresh_list(name: str):
    from django.db import connection

    from messaging.models import RecipientList

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE messaging_recipient")
    return RecipientList.objects.create(name=name)


# --------------------------------------------------------------------------- one run (child)


def run_stock(path: Path) -> dict:
    from import_export import resources
    from import_export.formats.base_formats import CSV

    from messaging.models import Recipient

    recipient_list = fresh_list("stock")

    class StockRecipientResource(resources.ModelResource):
        class Meta:
            model = Recipient
            fields = ("phone", "variables")
            use_bulk = True
            batch_size = 1000
            skip_diff = True
            force_init_instance = True

        def before_import_row(self, row, **kwargs):
            row["variables"] = json.dumps(
                {"name": row["name"], "city": row["city"], "points": row["points"]},
                ensure_ascii=False,
            )

        def init_instance(self, row=None):
            return Recipient(recipient_list=recipient_list)

    start = time.perf_counter()
    dataset = CSV(encoding="utf-8-sig").create_dataset(path.read_bytes())
    result = StockRecipientResource().import_data(dataset, dry_run=False, use_transactions=True)
    seconds = time.perf_counter() - start
    assert not result.has_errors(), [e.error for e in result.base_errors][:3]
    imported = Recipient.objects.filter(recipient_list=recipient_list).count()
    return {"rows": len(dataset), "imported": imported, "seconds": seconds}


def run_ours(path: Path) -> dict:
    from django.conf import settings

    from messaging.importing import service
    from messaging.models import ImportJob

    recipient_list = fresh_list("ours")
    start = time.perf_counter()
    job = ImportJob(recipient_list=recipient_list, original_name=path.name)
    job.file.name = str(path.relative_to(settings.MEDIA_ROOT))
    service.describe(job)
    job.save()
    job = service.run_import(job.pk)
    seconds = time.perf_counter() - start
    assert job.state == ImportJob.State.DONE, job.error
    return {
        "rows": job.processed_rows,
        "imported": job.imported_count,
        "duplicates": job.duplicate_in_file_count,
        "rejected": job.rejected_count,
        "seconds": seconds,
    }


def child(kind: str, path: str, media_root: str) -> None:
    setup_django(media_root)
    result = (run_stock if kind == "stock" else run_ours)(Path(path))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


# --------------------------------------------------------------------------- driver


def spawn(kind: str, path: Path, media_root: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path), "--media-root", media_root],
        check=False,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    if out.returncode:
        sys.exit(f"{kind} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rows-large", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"))
    parser.add_argument("--media-root")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.media_root)
        return

    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    ensure_database(os.environ["DATABASE_URL"])
    with tempfile.TemporaryDirectory(prefix="import-bench-") as media_root:
        setup_django(media_root)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        folder = Path(media_root)
        small_csv, large_csv, small_xlsx = (
            folder / f"recipients-{args.rows}.csv",
            folder / f"recipients-{args.rows_large}.csv",
            folder / f"recipients-{args.rows}.xlsx",
        )
        t = time.perf_counter()
        write_csv(small_csv, args.rows, duplicates=False)
        write_csv(large_csv, args.rows_large)
        write_xlsx(small_xlsx, args.rows)
        print(f"files written in {time.perf_counter() - t:.1f} s to {folder}")
        print(f"database {os.environ['DATABASE_URL']}")
        print()
        runs = [
            ("django-import-export ModelResource (bulk)", "stock", small_csv),
            ("this project", "ours", small_csv),
            ("this project", "ours", large_csv),
            ("this project", "ours", small_xlsx),
        ]
        results = []
        header = f"{'importer':44} {'file':24} {'rows':>9} {'imported':>9} {'seconds':>8} "
        header += f"{'rows/s':>9} {'peak RSS':>9}"
        print(header)
        print("-" * len(header))
        for label, kind, path in runs:
            r = spawn(kind, path, media_root)
            r["rate"] = r["rows"] / r["seconds"]
            results.append(r)
            print(
                f"{label:44} {path.name:24} {r['rows']:>9,} {r['imported']:>9,} "
                f"{r['seconds']:>8.2f} {r['rate']:>9,.0f} {r['peak_rss_mb']:>6.0f} MB"
            )
        stock, ours_small, ours_large, ours_xlsx = results
        speedup = ours_small["rate"] / stock["rate"]
        peak = max(r["peak_rss_mb"] for r in results[1:])
        print()
        print(f"speed-up on the same {args.rows:,}-row CSV: {speedup:.1f}x (target >= 10x)")
        print(
            f"{args.rows_large:,} CSV rows: {ours_large['seconds']:.1f} s (target < 60 s); "
            f"{args.rows:,} XLSX rows: {ours_xlsx['seconds']:.1f} s (target < 20 s); "
            f"peak RSS {peak:.0f} MB (target < 300 MB)"
        )
        ok = (
            speedup >= 10
            and ours_large["seconds"] < 60
            and ours_xlsx["seconds"] < 20
            and peak < 300
        )
        print("all targets met" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()
