"""Text search on the embedded default (SQLite) that finds what PostgreSQL finds.

PostgreSQL searches with `websearch_to_tsquery('russian', …)` over
`to_tsvector('russian', summary || description)`: words lower-cased, Russian ones reduced by
the Snowball Russian stemmer, Latin ones by the English one, stop words dropped. SQLite has
neither (its LIKE folds case for ASCII only: «госуслуг» did not find «Госуслуги»), so the same
Snowball stemmers and stop lists run here, in Python, as a SQL function over each row, and the
query's words become `LIKE '% stem %'` terms with websearch's syntax: words (all must match),
"a phrase" (adjacent), -word (must not), `or` between alternatives.

A function rather than a stored column: always consistent with the row, whatever wrote it.
It costs a stemming pass per row per search, which the embedded default's sizes afford;
production is PostgreSQL with its GIN index."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import snowballstemmer
from django.db.backends.signals import connection_created
from django.db.models import Func, Q, TextField

SQL_FUNCTION = "fc_search_stems"
FOLD_FUNCTION = "fc_fold"
_DATA = Path(__file__).resolve().parent / "search_data"
_WORD = re.compile(r"[^\W_]+")
_RUSSIAN = snowballstemmer.stemmer("russian")
_ENGLISH = snowballstemmer.stemmer("english")


@functools.cache
def _stop_words() -> frozenset[str]:
    words: set[str] = set()
    for name in ("russian.stop", "english.stop"):
        words |= {w.strip() for w in (_DATA / name).read_text().splitlines() if w.strip()}
    return frozenset(words)


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    if word.isascii():
        return word if word.isdigit() else _ENGLISH.stemWord(word)
    return _RUSSIAN.stemWord(word.replace("ё", "е"))


def stems(text: str | None) -> list[str]:
    """The lexemes PostgreSQL's russian configuration makes of this text, in order."""
    stop = _stop_words()
    return [_stem(w) for w in _WORD.findall((text or "").lower()) if w not in stop]


def _row_stems(*parts: str | None) -> str:
    # Padded with spaces, so that `LIKE '% stem %'` matches whole lexemes only.
    return " " + " ".join(stems(" ".join(p or "" for p in parts))) + " "


def _fold(text: str | None) -> str | None:
    return None if text is None else text.lower()


def _register(sender: object, connection: object, **kwargs: object) -> None:
    if getattr(connection, "vendor", None) == "sqlite":
        raw = connection.connection  # type: ignore[attr-defined]  # the sqlite3 connection
        raw.create_function(SQL_FUNCTION, 2, _row_stems, deterministic=True)
        raw.create_function(FOLD_FUNCTION, 1, _fold, deterministic=True)


class Fold(Func):
    """lower() that folds Cyrillic on SQLite too (its own folds ASCII only: «иванов» did not
    find «Иванов»); PostgreSQL's lower() folds it already."""

    function = "LOWER"
    output_field = TextField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function=FOLD_FUNCTION, **extra_context)


connection_created.connect(_register, dispatch_uid="fraudcenter-search-stems")


def _term(field: str, phrase: list[str]) -> Q:
    return Q(**{f"{field}__contains": " " + " ".join(phrase) + " "})


def websearch_q(field: str, query: str) -> Q | None:
    """websearch_to_tsquery's reading of `query`, as a condition on the stems `field`;
    None when nothing searchable is left (only stop words): PostgreSQL then matches nothing."""
    alternatives: list[Q] = []
    current: Q | None = None
    for quoted, bare in re.findall(r'"([^"]*)"|(\S+)', query):
        if bare.lower() == "or":
            if current is not None:
                alternatives.append(current)
            current = None
            continue
        negated = bare.startswith("-")
        words = stems(quoted if quoted else bare.lstrip("-"))
        if not words:
            continue
        term = _term(field, words)
        term = ~term if negated else term
        current = term if current is None else current & term
    if current is not None:
        alternatives.append(current)
    if not alternatives:
        return None
    condition = alternatives[0]
    for alternative in alternatives[1:]:
        condition |= alternative
    return condition
