"""What planners type, read as the schema means it: Vietnamese or English headers (the words
plan.xlsx writes), Có/Không/x for booleans, Vietnamese number formats (85.970.000.000 and 12,5)
and CSV saved with semicolons (Excel with Vietnamese regional settings)."""
from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

from planner.labels import VALUE_FAMILY_OF_COLUMN, VALUES, column_labels_all, label, labels
from planner.schema import Table

TRUE_WORDS = frozenset({"true", "1", "yes", "y", "t", "có", "co", "x", "đúng", "✓"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "f", "không", "khong", "sai"})
# 85.970.000.000 or 1.234,5 (dots group thousands, a comma marks decimals); 12,5 (a comma
# marks decimals); 85,970,000,000 or 1,234.5 (commas group thousands). One dot is a decimal
# point (105.123 is a longitude, as every machine writes it), so a Vietnamese thousand needs a
# second group or a decimal comma (1.000.000, 1.500,0).
_VI_GROUPED = re.compile(r"^[+-]?\d{1,3}((\.\d{3}){2,}(,\d+)?|\.\d{3},\d+)$")
_VI_DECIMAL = re.compile(r"^[+-]?\d+,\d+$")
_EN_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_AMBIGUOUS = re.compile(r"^[+-]?\d{1,3},\d{3}$")  # 1,234: a thousand or one and a bit?


def fold(text: str) -> str:
    """A header as compared: NFC, lower case, single spaces."""
    return " ".join(unicodedata.normalize("NFC", str(text)).casefold().split())


def search_key(text: str) -> str:
    """Text as a search compares it: in either Unicode form, without diacritics (đ is d), in
    any case and spacing: "Hàm Thạnh", "ham  thanh" and a decomposed "Hàm Thạnh" are one."""
    plain = "".join(ch for ch in unicodedata.normalize("NFD", str(text))
                    if not unicodedata.combining(ch))
    return " ".join(plain.replace("đ", "d").replace("Đ", "D").casefold().split())


def header_names(table: Table) -> dict[str, str]:
    """Every way a column of ``table`` may be headed (its code, its Vietnamese and English
    labels), folded, to the column's code."""
    out: dict[str, str] = {}
    for col in table.column_names:
        for word in column_labels_all(col):
            out.setdefault(fold(word), col)
    return out


def canonical_columns(columns: list[str], table: Table) -> list[str]:
    """The headers as column codes where a header is a known name of a column."""
    names = header_names(table)
    return [names.get(fold(c), c) for c in columns]


def csv_separator(text: str) -> str:
    """``;`` when the header line has more semicolons than commas, else ``,``."""
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def to_number(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Numbers from text written the English or the Vietnamese way; NaN where it is none.
    Also returns where a value is ambiguous (1,234) and so is not read."""
    s = text.astype(str).str.strip().str.replace("\u00a0", "", regex=False).str.replace(
        " ", "", regex=False)
    out = s.copy()
    vi_grouped = s.str.fullmatch(_VI_GROUPED.pattern)
    out[vi_grouped] = s[vi_grouped].str.replace(".", "", regex=False).str.replace(",", ".")
    en_grouped = s.str.fullmatch(_EN_GROUPED.pattern) & ~s.str.fullmatch(_AMBIGUOUS.pattern)
    out[en_grouped] = s[en_grouped].str.replace(",", "", regex=False)
    ambiguous = s.str.fullmatch(_AMBIGUOUS.pattern).to_numpy(dtype=bool)
    vi_decimal = s.str.fullmatch(_VI_DECIMAL.pattern) & ~pd.Series(ambiguous, index=s.index)
    out[vi_decimal] = s[vi_decimal].str.replace(",", ".", regex=False)
    num = pd.to_numeric(out.where(~pd.Series(ambiguous, index=s.index)), errors="coerce")
    return num, ambiguous


def coded_values(column: str, choices: tuple[str, ...]) -> dict[str, str]:
    """Every way a value of a coded column may be typed (its code, its label in Vietnamese or
    English, as plan.xlsx writes it), folded, to the code."""
    from planner.i18n import LANGS

    out = {fold(c): c for c in choices}
    family = VALUE_FAMILY_OF_COLUMN.get(column)
    if family in VALUES:
        for lang in LANGS:
            for code, text in labels(family, lang).items():
                if code in choices:
                    out.setdefault(fold(text), code)
    return out


def choice_label(column: str, code: str, lang: str | None = None) -> str:
    """A choice as the planner types it: its label, or the code where it has none."""
    family = VALUE_FAMILY_OF_COLUMN.get(column)
    return label(family, code, lang) if family in VALUES else code


# A year typed as a date: dd/mm/yyyy (Vietnamese order), or yyyy-mm-dd as machines write it.
_DMY = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}( 00:00:00)?$")


def year_of(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``text`` with every date replaced by its year (2005 stays 2005; 15/03/2005 is 2005);
    also returns where a value is written as a date but is none (31/02/2005)."""
    s = text.astype(str).str.strip()
    dmy = s.str.fullmatch(_DMY.pattern)
    iso = s.str.fullmatch(_ISO.pattern)
    when = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    when[dmy] = pd.to_datetime(s[dmy], format="%d/%m/%Y", errors="coerce")
    when[iso] = pd.to_datetime(s[iso].str[:10], format="%Y-%m-%d", errors="coerce")
    dated = (dmy | iso).to_numpy(dtype=bool)
    out = s.where(~(dmy | iso), when.dt.year.astype("Int64").astype(str))
    return out, dated & when.isna().to_numpy()
