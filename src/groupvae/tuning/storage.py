"""Where a study lives: an SQLite file in the output folder by default (no server), or a
storage that several machines share (``--storage``).

``--storage`` takes an SQLAlchemy URL of an Optuna RDB storage (``sqlite:///PATH``,
``postgresql://user:pass@host/db``, ``mysql+pymysql://...``) or the path of an Optuna
journal file (:class:`optuna.storages.journal.JournalFileBackend`, for a disk that the
machines share, e.g. NFS). A storage in a local file (SQLite or a journal) also has a
slot lock beside it (``<file>.slots.lock``), so that the processes of this machine that
share it finish exactly the number of trials asked for (:mod:`groupvae.tuning.workers`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from filelock import FileLock

from groupvae.errors import ConfigError

STUDY_DB = "study.db"
"""The embedded study's file in the output folder."""
SQLITE_TIMEOUT_S = 60
"""How long an SQLite write waits for another process's transaction (seconds)."""


@dataclass(frozen=True)
class StudyStorage:
    """A study's storage, as every worker process opens it (picklable).

    Attributes:
        url: an RDB storage's SQLAlchemy URL (``None`` for a journal file).
        journal: a journal file's absolute path (``None`` for an RDB URL).
        local_file: the storage's file on this machine (SQLite or journal), if any.
    """

    url: str | None = None
    journal: str | None = None
    local_file: str | None = None

    @classmethod
    def resolve(cls, storage: str | None, out: str | Path) -> StudyStorage:
        """The storage that ``--storage`` names, or the embedded ``out/study.db``.

        Raises:
            ConfigError: for an in-memory SQLite URL (no other process sees it), an
                unparsable URL, or a journal file whose folder does not exist.
        """
        if storage is None:
            path = (Path(out) / STUDY_DB).resolve()
            return cls(url=f"sqlite:///{path}", local_file=str(path))
        if "://" not in storage:
            path = Path(storage).expanduser().resolve()
            if not path.parent.is_dir():
                raise ConfigError(
                    f"--storage {storage}: the folder {path.parent} of the journal file does "
                    "not exist"
                )
            return cls(journal=str(path), local_file=str(path))
        # deferred: SQLAlchemy comes with Optuna; only URLs need its parser
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(storage)
        except ArgumentError as err:
            raise ConfigError(f"--storage {storage}: not a database URL ({err})") from None
        if url.drivername.startswith("sqlite"):
            if url.database in (None, "", ":memory:"):
                raise ConfigError(
                    f"--storage {storage}: an in-memory SQLite database is seen by no other "
                    "process and kept nowhere; give a file, sqlite:///PATH"
                )
            path = Path(url.database).expanduser().resolve()
            if not path.parent.is_dir():
                raise ConfigError(f"--storage {storage}: the folder {path.parent} does not exist")
            text = url.set(database=str(path)).render_as_string(hide_password=False)
            return cls(url=text, local_file=str(path))
        return cls(url=storage)

    def describe(self) -> str:
        """The storage for messages, without a password."""
        if self.journal is not None:
            return f"journal file {self.journal}"
        assert self.url is not None
        if self.local_file is not None:
            return f"SQLite file {self.local_file}"
        # deferred: SQLAlchemy comes with Optuna; only URLs need its parser
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    def open(self) -> optuna.storages.BaseStorage:
        """Open the storage (creating an SQLite file's tables, or the journal file).

        Raises:
            ConfigError: if it cannot be opened (a missing database driver, a server
                that does not answer), with the first line of the reason.
        """
        try:
            if self.journal is not None:
                backend = optuna.storages.journal.JournalFileBackend(self.journal)
                return optuna.storages.JournalStorage(backend)
            assert self.url is not None
            kwargs: dict[str, Any] = {}
            if self.local_file is not None:
                kwargs["engine_kwargs"] = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
            return optuna.storages.RDBStorage(self.url, **kwargs)
        except Exception as err:  # a driver, a server, a file: each says it its way
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            where = self.describe()
            raise ConfigError(f"cannot open the study's storage {where}: {first}") from None

    @contextmanager
    def slots(self) -> Iterator[None]:
        """Hold the slot lock of a local storage file (nothing for a server's storage),
        while a worker counts the trials and claims one."""
        lock: Any = (
            nullcontext() if self.local_file is None else FileLock(f"{self.local_file}.slots.lock")
        )
        with lock:
            yield


__all__ = ["SQLITE_TIMEOUT_S", "STUDY_DB", "StudyStorage"]
