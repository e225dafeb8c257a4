"""The run store: one SQLite database per run (``runs/<name>/run.db``), in WAL mode.

It holds the run configuration, every candidate (a compact genotype blob — compressed arrays,
never pickle — its content hash, parents, generation and origin), its graph features, its training
result (metrics, curves, timings and a status), and an event log.  Every write is one transaction:
a process killed at any moment leaves either the previous state or the new one, never a
half-written candidate.

Schema (version 2)::

    meta(key TEXT PRIMARY KEY, value TEXT)            -- JSON values: config, created, version
    candidates(id INTEGER PRIMARY KEY, hash TEXT, genotype BLOB, parents TEXT, generation INTEGER,
               origin TEXT, created REAL,             -- origin: prior | mutation | crossover | …
               attributes TEXT)                       -- JSON genes beside the graph, e.g. the cell
    features(candidate_id INTEGER PRIMARY KEY, data TEXT, meta TEXT)
    results(candidate_id INTEGER PRIMARY KEY, status TEXT, metrics TEXT, curves TEXT,
            seconds TEXT, prediction REAL, reason TEXT, finished REAL)
    events(id INTEGER PRIMARY KEY, time REAL, kind TEXT, data TEXT)

Version 1 stores (no ``attributes`` column) are upgraded in place when opened.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from structsearch import __version__
from structsearch.errors import DataError
from structsearch.families import genotype_from_bytes
from structsearch.graphs import Genotype
from structsearch.runs import STORE_NAME, RunLock, disk_full

DIGEST_KEY = "config_digest"


def config_digests(config: dict) -> dict[str, str]:
    """A short SHA-256 of every leaf of ``config``, by dotted key: a change to one key names it."""
    digests: dict[str, str] = {}

    def walk(value, prefix: str) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                walk(inner, f"{prefix}.{key}" if prefix else str(key))
        else:
            text = json.dumps(value, sort_keys=True, default=str)
            digests[prefix or "(root)"] = hashlib.sha256(text.encode()).hexdigest()[:16]

    walk(config, "")
    return digests


def _command(kind: str) -> str:
    return kind if kind == "evolve" else f"experiment {kind}"

SCHEMA_VERSION = 2

STATUSES = ("ok", "failed", "diverged", "stopped-early", "dropped-by-predictor")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS candidates (
    id INTEGER PRIMARY KEY, hash TEXT NOT NULL, genotype BLOB NOT NULL, parents TEXT NOT NULL,
    generation INTEGER NOT NULL, origin TEXT NOT NULL, created REAL NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{{}}');
CREATE INDEX IF NOT EXISTS candidates_hash ON candidates(hash);
CREATE TABLE IF NOT EXISTS features (
    candidate_id INTEGER PRIMARY KEY REFERENCES candidates(id), data TEXT NOT NULL, meta TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    candidate_id INTEGER PRIMARY KEY REFERENCES candidates(id),
    status TEXT NOT NULL CHECK (status IN ({})),
    metrics TEXT NOT NULL, curves TEXT NOT NULL, seconds TEXT NOT NULL, prediction REAL,
    reason TEXT NOT NULL, finished REAL NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, time REAL NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL);
""".format(", ".join(f"'{status}'" for status in STATUSES))


@dataclass
class Candidate:
    """One stored candidate with whatever has been recorded for it."""

    id: int
    hash: str
    genotype: Genotype  # layered or convolutional
    parents: list[int]
    generation: int
    origin: str
    attributes: dict = field(default_factory=dict)
    features: dict[str, float] | None = None
    feature_meta: dict = field(default_factory=dict)
    status: str | None = None
    metrics: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    prediction: float | None = None
    reason: str = ""
    finished: float | None = None  # when its result was stored (seconds since the epoch)


class RunStore:
    """Open (or create) the store of one run.

    ``RunStore.create(run_dir, config, kind)`` makes a new one; ``RunStore.open(run_dir)`` opens an
    existing one read-only, ``RunStore.open(run_dir, write=True, kind=…)`` to add to it.  A store
    opened for writing owns its run directory (:class:`~structsearch.runs.RunLock`) until closed,
    so two processes never write one run.  ``kind`` names the command that made the store
    (``evolve``, ``random-structures``): a command continues only a store of its own kind.
    """

    def __init__(self, path: str | Path, write: bool = True):
        self.path = Path(path)
        self.write = write
        self.lock = RunLock(self.path.parent).acquire() if write else None
        try:
            self.connection = self._connect()
            self._check_schema()
        except sqlite3.DatabaseError as error:
            self.close()
            raise DataError(f"{self.path}: not a readable run store ({error})") from None
        except BaseException:
            self.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        if self.write:
            connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA foreign_keys=ON")
            return connection
        uri = f"file:{quote(str(self.path.absolute()))}?mode=ro"
        connection = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
        try:
            connection.execute("PRAGMA user_version").fetchone()
        except sqlite3.OperationalError:  # a WAL store in a folder this process may not write
            connection.close()
            connection = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None)
        return connection

    def _check_schema(self) -> None:
        version = self.connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise DataError(
                f"{self.path}: store schema version {version} is newer than this structsearch "
                f"understands ({SCHEMA_VERSION}); upgrade structsearch"
            )
        tables = {row[0] for row in self.connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version == 0 and tables:
            raise DataError(f"{self.path}: an SQLite file, but not a structsearch run store (it holds "
                            f"{', '.join(sorted(tables)[:3])}); it is left as it is")
        if version == 0 and not self.write:
            wal = self.path.with_name(self.path.name + "-wal")
            missing = "" if wal.exists() else (f"; if it was copied from a run that was writing, its write-ahead log "
                                               f"{wal.name} is missing: copy that file beside it too")
            raise DataError(f"{self.path}: an empty file, not a run store{missing}")
        if version == 0:
            with self.transaction() as cursor:
                for statement in _SCHEMA.strip().split(";"):
                    if statement.strip():
                        cursor.execute(statement)
                cursor.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        elif version == 1 and self.write:
            with self.transaction() as cursor:
                cursor.execute("ALTER TABLE candidates ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}'")
                cursor.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self.version = SCHEMA_VERSION if self.write else version

    @classmethod
    def create(cls, run_dir: str | Path, config: dict | None = None, kind: str | None = None) -> RunStore:
        """A new store in ``run_dir`` made by command ``kind``; an existing store there is continued
        when it is of the same kind (and refused when not)."""
        run_dir = Path(run_dir)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DataError(f"{run_dir}: cannot create the run folder ({error.strerror or error})") from None
        store = cls(run_dir / STORE_NAME)
        try:
            store.check_kind(kind)
            with store.transaction() as cursor:
                for key, value in (("config", config or {}), (DIGEST_KEY, config_digests(config or {})),
                                   ("created", time.time()), ("structsearch_version", __version__),
                                   ("kind", kind)):
                    cursor.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (key, json.dumps(value)))
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def open(cls, run_dir: str | Path, write: bool = False, kind: str | None = None) -> RunStore:
        """The existing store of ``run_dir`` (or the store file itself): read-only unless ``write``;
        with ``kind``, only a store made by that command."""
        run_dir = Path(run_dir)
        path = run_dir / STORE_NAME if run_dir.is_dir() else run_dir
        if not path.is_file():
            raise DataError(f"{run_dir}: no run store ({STORE_NAME}) here; is it a run directory?")
        store = cls(path, write)
        try:
            store.check_kind(kind)
            if write:
                store.check_config()
        except BaseException:
            store.close()
            raise
        return store

    @property
    def kind(self) -> str | None:
        """The command that made this store (older stores: read from their configuration)."""
        config = self.config
        return self.meta("kind") or config.get("command") or config.get("study")

    def check_kind(self, kind: str | None) -> None:
        made_by = self.kind  # None for a store just created
        if kind is not None and made_by is not None and made_by != kind:
            raise DataError(f"{self.path.parent}: a run store of `structsearch {_command(made_by)}`, "
                            f"not of `structsearch {_command(kind)}`; it is left as it is")

    def close(self) -> None:
        """Close the store; a writer leaves it one file (WAL folded in), which readers never change."""
        if getattr(self, "connection", None) is not None:
            if self.write:
                try:
                    self.connection.execute("PRAGMA journal_mode=DELETE")
                except sqlite3.Error:  # a reader still has it open: the WAL stays until the next writer
                    pass
            self.connection.close()
            self.connection = None
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """One atomic write: everything inside commits together or not at all."""
        cursor = self.connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                if self.connection.in_transaction:
                    cursor.execute("ROLLBACK")
                raise
            else:
                cursor.execute("COMMIT")
        except sqlite3.OperationalError as error:
            if "full" in str(error):
                raise DataError(disk_full(self.path.parent)) from None
            raise

    # ------------------------------------------------------------------ writes

    def meta(self, key: str, default=None):
        row = self._read("SELECT value FROM meta WHERE key = ?", (key,), one=True)
        if not row:
            return default
        try:
            return json.loads(row[0])
        except (ValueError, RecursionError):
            raise DataError(f"{self.path}: damaged run store: its {key!r} record is not JSON") from None

    def set_meta(self, key: str, value) -> None:
        with self.transaction() as cursor:
            cursor.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))
            if key == "config":  # the configuration travels with its digest (check_config)
                cursor.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                               (DIGEST_KEY, json.dumps(config_digests(value))))

    def check_config(self) -> None:
        """Refuse a store whose configuration was changed since structsearch wrote it (its digest
        differs), naming the first key that differs.  Stores older than the digest pass."""
        stored = self.meta(DIGEST_KEY)
        if stored is None:
            return
        now = config_digests(self.config)
        changed = sorted(key for key in set(stored) | set(now) if stored.get(key) != now.get(key))
        if changed:
            raise DataError(f"{self.path.parent}: the stored configuration was changed after structsearch wrote it "
                            f"({changed[0]}{f' and {len(changed) - 1} more' if len(changed) > 1 else ''}); a run "
                            "continues only with the settings it was made with (start a new run to change them)")

    @property
    def config(self) -> dict:
        return self.meta("config", {})

    def add_candidate(self, genotype: Genotype, *, parents=(), generation: int = 0,
                      origin: str = "prior", features: dict | None = None,
                      feature_meta: dict | None = None, result: dict | None = None,
                      attributes: dict | None = None, content_hash: str | None = None) -> int:
        """Store a candidate (with its features and result, when given) in one transaction."""
        with self.transaction() as cursor:
            return self._insert_candidate(cursor, genotype, parents, generation, origin, features,
                                          feature_meta, result, attributes, content_hash)

    def add_candidates(self, rows: list[dict]) -> list[int]:
        """Store several candidates (keyword dicts of :meth:`add_candidate`) in one transaction."""
        with self.transaction() as cursor:
            return [self._insert_candidate(cursor, **row) for row in rows]

    def _insert_candidate(self, cursor, genotype, parents=(), generation=0, origin="prior", features=None,
                          feature_meta=None, result=None, attributes=None, content_hash=None) -> int:
        cursor.execute(
            "INSERT INTO candidates (hash, genotype, parents, generation, origin, created, attributes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (content_hash or genotype.content_hash(), genotype.to_bytes(),
             json.dumps([int(p) for p in parents]), int(generation), origin, time.time(),
             json.dumps(attributes or {}, sort_keys=True)),
        )
        candidate_id = int(cursor.lastrowid)
        if features is not None:
            self._write_features(cursor, candidate_id, features, feature_meta or {})
        if result is not None:
            self._write_result(cursor, candidate_id, **result)
        return candidate_id

    def record_result(self, candidate_id: int, status: str, metrics: dict | None = None,
                      curves: dict | None = None, seconds: dict | None = None,
                      prediction: float | None = None, reason: str = "",
                      genotype: Genotype | None = None, content_hash: str | None = None) -> None:
        """Store a result; ``genotype`` (with its ``content_hash``) replaces the candidate's genotype in the
        same transaction (Lamarckian inheritance: the topology its training learned)."""
        with self.transaction() as cursor:
            if genotype is not None:
                cursor.execute("UPDATE candidates SET genotype = ?, hash = ? WHERE id = ?",
                               (genotype.to_bytes(), content_hash or genotype.content_hash(), int(candidate_id)))
            self._write_result(cursor, candidate_id, status, metrics, curves, seconds, prediction, reason)

    def log_event(self, kind: str, **data) -> None:
        with self.transaction() as cursor:
            cursor.execute("INSERT INTO events (time, kind, data) VALUES (?, ?, ?)",
                           (time.time(), kind, json.dumps(data)))

    @staticmethod
    def _write_features(cursor, candidate_id, features, meta):
        cursor.execute("INSERT OR REPLACE INTO features VALUES (?, ?, ?)",
                       (candidate_id, json.dumps({k: float(v) for k, v in features.items()}), json.dumps(meta)))

    @staticmethod
    def _write_result(cursor, candidate_id, status, metrics=None, curves=None, seconds=None,
                      prediction=None, reason=""):
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        cursor.execute(
            "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (candidate_id, status, json.dumps(metrics or {}), json.dumps(curves or {}),
             json.dumps(seconds or {}), None if prediction is None else float(prediction), reason,
             time.time()),
        )

    # ------------------------------------------------------------------ reads

    def _select(self) -> str:
        attributes = "c.attributes" if self.version > 1 else "'{}'"  # read-only version-1 stores
        return (
            "SELECT c.id, c.hash, c.genotype, c.parents, c.generation, c.origin, f.data, f.meta, "
            f"r.status, r.metrics, r.curves, r.seconds, r.prediction, r.reason, {attributes}, r.finished "
            "FROM candidates c LEFT JOIN features f ON f.candidate_id = c.id "
            "LEFT JOIN results r ON r.candidate_id = c.id"
        )

    def _read(self, query: str, args=(), one: bool = False):
        """Rows of a query; a damaged database file is a :class:`DataError` naming it."""
        try:
            cursor = self.connection.execute(query, args)
            return cursor.fetchone() if one else cursor.fetchall()
        except sqlite3.DatabaseError as error:
            raise DataError(f"{self.path}: damaged run store ({error})") from None

    def _candidate(self, row) -> Candidate:
        def loads(text, empty, column: str):
            if not text:
                return empty
            try:
                return json.loads(text)
            except (ValueError, RecursionError):
                raise DataError(f"{self.path}: damaged run store: candidate {row[0]}'s {column} are not "
                                "JSON") from None

        return Candidate(
            id=row[0], hash=row[1], genotype=genotype_from_bytes(row[2], f"{self.path}#{row[0]}"),
            parents=loads(row[3], [], "parents"), generation=row[4], origin=row[5],
            features=loads(row[6], None, "features"), feature_meta=loads(row[7], {}, "feature notes"),
            status=row[8], metrics=loads(row[9], {}, "metrics"), curves=loads(row[10], {}, "curves"),
            seconds=loads(row[11], {}, "seconds"), prediction=row[12], reason=row[13] or "",
            attributes=loads(row[14], {}, "attributes"), finished=row[15],
        )

    def candidates(self, generation: int | None = None) -> list[Candidate]:
        """Every candidate (of ``generation``, when given) in id order, with its features and
        result where recorded."""
        where, args = (" WHERE c.generation = ?", (int(generation),)) if generation is not None else ("", ())
        rows = self._read(self._select() + where + " ORDER BY c.id", args)
        return [self._candidate(row) for row in rows]

    def candidate(self, candidate_id: int) -> Candidate:
        row = self._read(self._select() + " WHERE c.id = ?", (int(candidate_id),), one=True)
        if row is None:
            raise DataError(f"{self.path}: no candidate {candidate_id}")
        return self._candidate(row)

    def find_by_hash(self, content_hash: str) -> Candidate | None:
        """The earliest candidate with this hash that has a result (for deduplication)."""
        row = self._read(self._select() + " WHERE c.hash = ? AND r.status IS NOT NULL ORDER BY c.id LIMIT 1",
                         (content_hash,), one=True)
        return self._candidate(row) if row else None

    def events(self, kind: str | None = None) -> list[dict]:
        query = "SELECT time, kind, data FROM events" + (" WHERE kind = ?" if kind else "") + " ORDER BY id"
        rows = self._read(query, (kind,) if kind else ())
        return [{"time": t, "kind": k, **json.loads(d)} for t, k, d in rows]

    def ids_from_generation(self, generation: int) -> list[int]:
        """Ids of the candidates of ``generation`` and later."""
        return [row[0] for row in self._read("SELECT id FROM candidates WHERE generation >= ? ORDER BY id",
                                             (int(generation),))]

    def count(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM candidates", one=True)[0])
