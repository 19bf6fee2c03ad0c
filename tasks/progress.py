"""How far a run is: the stages of each file and the steps after them, as one percentage."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from tasks import ingest

# Measured on a 600,000-row initial load: validation and apply take most of a file's time.
STAGE_SHARE = {"land": 0.05, "read": 0.15, "validate": 0.45, "apply": 0.35}
FILES_SHARE = 90.0  # percent for the files; the checks, statistics and hand-offs take the rest


@dataclass
class RunProgress:
    """Reports a percentage to `report` after every stage of every file and after the run's closing steps."""

    files: int
    report: Callable[[float], None]
    done: float = field(default=0.0)

    def wrap(self, stages: ingest.Stages) -> ingest.Stages:
        """The same stages, each reporting its share when it returns (a duplicate or refusal ends a file early)."""
        wrapped = {name: self._after(name, getattr(stages, name)) for name in STAGE_SHARE}
        return replace(stages, **wrapped)

    def file_done(self, index: int) -> None:
        """File `index` (0-based) is finished, however it ended."""
        self._set(FILES_SHARE * (index + 1) / max(self.files, 1))

    def finished(self) -> None:
        self._set(100.0)

    def _after(self, name: str, stage: Callable) -> Callable:
        def run(*args, **kwargs):
            result = stage(*args, **kwargs)
            self._set(self.done + FILES_SHARE * STAGE_SHARE[name] / max(self.files, 1))
            return result
        return run

    def _set(self, percent: float) -> None:
        percent = min(max(percent, self.done), 100.0)
        if percent > self.done or percent == 100.0:
            self.done = percent
            self.report(round(percent, 1))
