"""Cells safe to open in a spreadsheet program (CSV injection), for every file we write.

A text cell that a spreadsheet program would read as a formula — one that begins with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return — gets a leading apostrophe.
"""

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value):
    """A cell value safe to open in a spreadsheet program."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
