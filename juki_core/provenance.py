"""Which code ran: package version, git commit and the lock file's digest, for the run ledger."""

from __future__ import annotations

import hashlib
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def code_version() -> str:
    """juki's version and, in a git checkout, the commit (with +dirty when the tree has changes)."""
    try:
        package = version("juki")
    except PackageNotFoundError:
        package = "unknown"
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", ""
    return f"{package}+{commit}{'.dirty' if dirty else ''}" if commit else package


def lock_sha256() -> str | None:
    """SHA-256 of requirements.lock, so an auditor can rebuild the environment of a run."""
    lock = ROOT / "requirements.lock"
    return hashlib.sha256(lock.read_bytes()).hexdigest() if lock.exists() else None
