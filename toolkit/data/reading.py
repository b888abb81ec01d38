"""Reading an own table's file: CSV (its encoding and delimiter found or declared) or
Parquet, refusing in one line what cannot be a table.  What the table holds is checked in
:mod:`toolkit.data.table`."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from toolkit.errors import DataError

# First bytes of binary files people save under a text extension.
MAGIC = ((b"PAR1", "a Parquet file; give it the extension .parquet"),
         (b"PK\x03\x04", "a zip archive (an Excel .xlsx workbook?); export it as CSV"),
         (b"\xd0\xcf\x11\xe0", "an Excel .xls workbook; export it as CSV"),
         (b"\x1f\x8b", "gzip-compressed; decompress it first"))
# Excel's "Unicode Text" export (UTF-16, tab-separated) is saved as .txt; .tsv is tab's own
TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
# The field delimiters sniffed in a CSV file, the usual first: Excel writes ";" where the
# decimal mark is a comma, and "\t" or "|" come from database exports.
DELIMITERS = (",", ";", "\t", "|")
PARQUET_SUFFIXES = {".parquet", ".pq"}


def _decode(raw: bytes, name: str, encoding: str | None) -> str:
    """The text of a CSV file: in ``encoding`` when given, else UTF-16 when it starts with
    a UTF-16 byte-order mark, else UTF-8 (a BOM is dropped), else GB18030 (which reads GBK,
    the usual Chinese Excel export) or cp1252 (Western European Excel), whichever
    :func:`_looks_latin` says first, then the other."""
    if encoding is not None:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError as err:
            raise DataError(
                f"table {name!r} is not valid {encoding} text (byte {raw[err.start]:#04x} at "
                f"offset {err.start}); set [data] encoding to the file's encoding, e.g. utf-8, "
                "gbk, gb18030, latin-1") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        # a UTF-16 byte-order mark says the encoding outright (Excel's "Unicode Text")
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise DataError(f"table {name!r} starts as UTF-16 text but is not valid UTF-16; "
                            "save it as UTF-8 CSV") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # GB18030 decodes almost any bytes, so Western text would come out as Chinese mojibake
    # ("défaut" as "d閒aut"): the shape of the non-ASCII bytes decides which to try first
    for enc in ("cp1252", "gb18030") if _looks_latin(raw) else ("gb18030", "cp1252"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise DataError(f"table {name!r} is neither UTF-8, GBK/GB18030 nor cp1252 (Western "
                    "European) text; set [data] encoding to its encoding, e.g. latin-1, "
                    "big5, shift_jis")


def _looks_latin(raw: bytes) -> bool:
    """Whether the non-ASCII bytes of text that is not UTF-8 look like a Western single-byte
    encoding (cp1252) rather than GBK/GB18030.

    A GBK character is two bytes, nearly always both non-ASCII, so Chinese text holds runs
    of non-ASCII bytes of even length, most of them four or more (words of two characters
    and up).  An accented letter is one byte inside an ASCII word: runs of one byte ("é" in
    "défaut"), or two between letters ("öß" in "Größe").  Each run votes; a tie is GBK.
    """
    latin = chinese = 0
    for m in re.finditer(rb"[\x80-\xff]+", raw):
        n = m.end() - m.start()
        if n % 2:
            latin += 1
        elif n == 2 and raw[m.start() - 1:m.start()].isalpha() \
                and raw[m.end():m.end() + 1].isalpha():
            latin += 1
        else:
            chinese += 1
    return latin > chinese


def refuse_duplicates(names: Sequence[str], name: str) -> None:
    dups = sorted({str(c) for c in names if list(names).count(c) > 1})
    if dups:
        raise DataError(f"table {name!r} has duplicate column names: {', '.join(dups)}")


def read_table(path: str | Path, *, encoding: str | None = None,
               delimiter: str | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet table; refuse what cannot be a table (DataError, one line).

    A missing file, an unsupported extension, an empty file, a binary file under ``.csv``
    (Parquet, Excel, gzip, or any NUL byte), text that is not in ``encoding`` (default:
    UTF-8 with or without BOM, else GBK/GB18030 or cp1252), a malformed CSV, a header read
    as one column that holds another delimiter than ``delimiter`` (default: sniffed among
    ``,``, ``;``, tab and ``|``), a header without rows and duplicate column names are each
    refused with a message naming the table.
    """
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise DataError(f"table {name!r} does not exist")
    suffix = path.suffix.lower()
    if suffix not in TEXT_SUFFIXES | PARQUET_SUFFIXES:
        raise DataError(f"table {name!r}: unsupported format {path.suffix!r}; "
                        "allowed: .csv, .tsv, .txt (delimited text), .parquet")
    if path.stat().st_size == 0:
        raise DataError(f"table {name!r} is empty (0 bytes)")
    if suffix in PARQUET_SUFFIXES:
        df = _read_parquet(path, name)
    else:
        df = _read_csv(path.read_bytes(), name, encoding, delimiter)
    if len(df) == 0:
        raise DataError(f"table {name!r} has a header but no rows")
    return df


def _read_parquet(path: Path, name: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(path, "rb") as f:
        head = f.read(4)
    if head != b"PAR1":
        raise DataError(f"table {name!r} is not a Parquet file (it does not start with PAR1); "
                        "a CSV file needs the extension .csv")
    try:
        names = pq.read_schema(path).names
        refuse_duplicates(names, name)
        return pd.read_parquet(path)
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"table {name!r} is not a readable Parquet file: "
                        f"{str(err).splitlines()[0]}") from None


def _read_csv(raw: bytes, name: str, encoding: str | None,
              delimiter: str | None = None) -> pd.DataFrame:
    for magic, what in MAGIC:
        if raw.startswith(magic):
            raise DataError(f"table {name!r} is not CSV text: it is {what}")
    # NUL bytes mean binary data, unless the text is UTF-16/32 (a byte-order mark, or an
    # encoding declared)
    if encoding is None and b"\x00" in raw[:65536] \
            and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"table {name!r} is not CSV text: it holds binary data (NUL bytes)")
    text = _decode(raw, name, encoding)
    if not text.strip():
        raise DataError(f"table {name!r} is empty (no header, no rows)")
    sep = delimiter or _sniff_delimiter(text)
    header = next(csv.reader(io.StringIO(text), delimiter=sep))
    other = [d for d in DELIMITERS if d != sep and len(header) == 1 and d in header[0]]
    if other:
        shown = header[0] if len(header[0]) <= 40 else header[0][:40] + "..."
        raise DataError(f"table {name!r} reads as one column {shown!r} with the delimiter "
                        f"{sep!r}: the delimiter looks wrong (the header holds {other[0]!r}); "
                        f"set [data] delimiter = {json.dumps(other[0])}")
    refuse_duplicates(header, name)
    try:
        return pd.read_csv(io.StringIO(text), sep=sep)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise DataError(f"table {name!r} is not well-formed CSV: "
                        f"{str(err).strip().splitlines()[0]}") from None


def _sniff_delimiter(text: str) -> str:
    """The field delimiter among :data:`DELIMITERS`, from the first 64 KiB of whole lines
    (:class:`csv.Sniffer`); where that leaves the header one column, the delimiter that
    splits it most (a semicolon file of decimal commas fools the sniffer on few lines)."""
    sample = text[:65536]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[:sample.rfind("\n")]
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = ","
    widths = {d: len(next(csv.reader(io.StringIO(sample), delimiter=d))) for d in DELIMITERS}
    return sniffed if widths[sniffed] > 1 else max(DELIMITERS, key=widths.__getitem__)
