"""The post-edit store: human corrections of machine translations, kept apart from engine output.

Edits live in their own SQLite file (WAL, so a report can read while an import writes) keyed by
``(segment_id, language)``. Keeping them out of the translation cache means re-running an engine
never overwrites a human's work, and the machine text each edit replaced stays on record for HTER.

Texts are stored *masked* (placeholders like ``⟦0⟧``), exactly as the pipeline stores translations.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from sacrebleu.metrics import TER

_SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS edits (
    segment_id   TEXT NOT NULL,
    language     TEXT NOT NULL,
    text         TEXT NOT NULL,
    machine_text TEXT NOT NULL,
    editor       TEXT,
    edited_at    TEXT NOT NULL,
    source_file  TEXT,
    PRIMARY KEY (segment_id, language)
)
"""

_COLUMNS = "segment_id, language, text, machine_text, editor, edited_at, source_file"


def utc_now() -> str:
    """Current time as ISO 8601 UTC with a ``Z`` suffix, second precision (stable in files)."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Edit:
    """One human post-edit of one segment in one language (texts masked)."""

    segment_id: str
    language: str
    text: str
    """The post-edited translation, masked."""
    machine_text: str
    """The machine translation this edit replaced, masked (the HTER hypothesis)."""
    editor: str | None
    edited_at: str
    """ISO 8601, UTC."""
    source_file: str | None = None
    """The work file the edit was imported from, for provenance."""

    @property
    def key(self) -> str:
        """``{segment_id}:{language}``, the id used in exported work files."""
        return f"{self.segment_id}:{self.language}"


@dataclass(frozen=True)
class ApplyResult:
    """What one :meth:`EditStore.apply` did; re-importing the same file gives only ``unchanged``."""

    added: int
    changed: int
    unchanged: int


#: edited segments longer than this (words, either side) are left out of HTER, with a count and a note.
#: sacrebleu's TER searches word shifts: a fully rewritten 200-word segment takes ~14 s and memory grows
#: with the product of the lengths (a 1 MB segment needed 23 GB); benchmark segments are lines, far shorter.
MAX_TER_WORDS = 200


def _ter() -> TER:
    # Case-sensitive: fixing capitalisation is real post-editing work (sacrebleu's default
    # lowercases both sides, which would hide it).
    return TER(case_sensitive=True)


def _ter_words(text: str) -> int:
    """Words of ``text`` as TER counts them (same tokenizer settings as :func:`_ter`)."""
    from sacrebleu.tokenizers.tokenizer_ter import TercomTokenizer

    return len(TercomTokenizer(case_sensitive=True)(text.rstrip()).split())


def corpus_hter(pairs: Sequence[tuple[str, str]], *, max_words: int = MAX_TER_WORDS) -> dict[str, Any]:
    """HTER of ``(machine, final)`` pairs: sacrebleu TER with the machine text as hypothesis and
    the post-edit as the single reference, i.e. edits / reference words summed over the corpus.

    Pass *every* segment that was offered for review, with ``final == machine`` for untouched ones:
    they add reference words and no edits, which is what makes the number honest. TER is computed only
    for edited pairs (an unedited one is 0 edits by definition, so only its words are counted), and
    edited pairs longer than ``max_words`` are left out of numerator and denominator (``n_skipped``,
    ``per_segment`` None), so the cost per segment is bounded.

    Returns ``{"hter": fraction 0..1+ (None when nothing could be measured), "n_segments", "n_edited",
    "n_skipped", "per_segment": [TER per pair, same order], "note"?}``.
    """
    if not pairs:
        return {"hter": None, "n_segments": 0, "n_edited": 0, "n_skipped": 0, "per_segment": []}
    ter = _ter()
    edits = words = 0.0
    per_segment: list[float | None] = []
    n_edited = n_skipped = 0
    for machine, final in pairs:
        if machine == final:
            words += _ter_words(final)
            per_segment.append(0.0)
            continue
        n_edited += 1
        if max(_ter_words(machine), _ter_words(final)) > max_words:
            n_skipped += 1
            per_segment.append(None)
            continue
        score = ter.sentence_score(machine, [final])
        edits, words = edits + score.num_edits, words + score.ref_length
        per_segment.append(score.score / 100.0)
    measured = n_edited - n_skipped
    if words > 0:
        hter: float | None = edits / words
    else:  # sacrebleu's convention for empty references
        hter = 1.0 if edits > 0 else 0.0
    if n_edited and not measured:
        hter = None
    result: dict[str, Any] = {"hter": hter, "n_segments": len(pairs), "n_edited": n_edited,
                              "n_skipped": n_skipped, "per_segment": per_segment}
    if n_skipped:
        result["note"] = (f"{n_skipped} edited segment(s) longer than {max_words} words left out of HTER "
                          "(TER's cost grows too fast with length)")
    return result


class EditStore:
    """SQLite table of post-edits keyed by ``(segment_id, language)``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        from babelvl.io.files import check_sqlite_path

        check_sqlite_path(self.path, flag="edit store")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves so apply() is one transaction.
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute(_SCHEMA)
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        elif version != _SCHEMA_VERSION:
            raise RuntimeError(f"{self.path}: edit store schema v{version}, this babelvl reads "
                               f"v{_SCHEMA_VERSION}")

    # -- writing ---------------------------------------------------------------------------

    def apply(self, edits: Iterable[Edit]) -> ApplyResult:
        """Store ``edits`` in one transaction (all or none).

        An edit whose text and machine text equal the stored ones is ``unchanged`` and keeps the
        stored editor and timestamp, so re-importing a file is a no-op.
        """
        added = changed = unchanged = 0
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for edit in edits:
                row = cur.execute(
                    "SELECT text, machine_text FROM edits WHERE segment_id=? AND language=?",
                    (edit.segment_id, edit.language)).fetchone()
                if row is not None and row == (edit.text, edit.machine_text):
                    unchanged += 1
                    continue
                cur.execute(
                    f"INSERT OR REPLACE INTO edits ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (edit.segment_id, edit.language, edit.text, edit.machine_text, edit.editor,
                     edit.edited_at, edit.source_file))
                if row is None:
                    added += 1
                else:
                    changed += 1
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return ApplyResult(added=added, changed=changed, unchanged=unchanged)

    # -- reading ---------------------------------------------------------------------------

    def get(self, segment_id: str, language: str) -> Edit | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM edits WHERE segment_id=? AND language=?",
                               (segment_id, language)).fetchone()
        return Edit(*row) if row else None

    def all(self, language: str | None = None) -> list[Edit]:
        """Every edit (of one language when given), ordered by language then segment id."""
        if language is None:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM edits ORDER BY language, segment_id")
        else:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM edits WHERE language=? ORDER BY segment_id", (language,))
        return [Edit(*row) for row in rows]

    def __iter__(self) -> Iterator[Edit]:
        return iter(self.all())

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM edits").fetchone()[0]

    def hter(self, language: str, machine_texts: Mapping[str, str]) -> dict[str, Any]:
        """HTER of one language over every exported segment.

        ``machine_texts`` maps the segment id of *every* segment of ``language`` that was offered
        for review to its current machine translation (masked). Segments without an edit count as
        ``(machine, machine)``: zero edits, but their words are in the denominator. Edits for
        segments not in ``machine_texts`` are ignored. For edited segments the pair is the stored
        ``(machine_text, text)``, i.e. the machine output the editor actually corrected.

        Returns ``{"hter", "n_segments", "n_edited", "per_segment": {segment_id: TER}}`` with TER
        as a fraction (edits / reference words).
        """
        edits = {e.segment_id: e for e in self.all(language)}
        ids = sorted(machine_texts)
        pairs = []
        for sid in ids:
            edit = edits.get(sid)
            pairs.append((edit.machine_text, edit.text) if edit else
                         (machine_texts[sid], machine_texts[sid]))
        result = corpus_hter(pairs)
        result["per_segment"] = dict(zip(ids, result["per_segment"]))
        result["language"] = language
        return result

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "EditStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
