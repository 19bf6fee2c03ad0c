"""Land a change file: take its exact bytes through fsspec and keep them in the archive by SHA-256."""

from __future__ import annotations

import hashlib
import os
import posixpath
from dataclasses import dataclass

import fsspec
from fsspec.implementations.local import LocalFileSystem


class NotAFile(Exception):
    """A path given as a change file is a folder, a pipe or a device; refused at once, never retried."""


@dataclass(frozen=True)
class LandedFile:
    """A received file: its name, its digest and where its bytes are kept."""

    name: str
    sha256: str
    size: int
    archive_uri: str


def file_name(uri: str) -> str:
    """The file name part of a URI or path."""
    return posixpath.basename(uri.rstrip("/").replace("\\", "/"))


def check_regular_files(uris: list[str]) -> None:
    """NotAFile, one sentence, for the first path that exists and is not a regular file (a folder, a pipe …)."""
    for uri in uris:
        fs, path = fsspec.core.url_to_fs(uri)
        try:
            kind = fs.info(path)["type"]
        except Exception:  # missing or unreachable: landing reports it, with its retries
            continue
        if kind != "file":
            what = "a folder" if kind == "directory" else "not a regular file"
            raise NotAFile(f"{file_name(uri)} is {what}, not a change file ({uri}); nothing was taken in — "
                           "give the files inside it, or move it out of the inbox")


def read_bytes(uri: str) -> bytes:
    """The bytes of a file anywhere fsspec reaches (a local path, memory://, s3://, sftp://)."""
    with fsspec.open(uri, "rb") as f:
        return f.read()


def archive_file(data: bytes, name: str, archive: str) -> LandedFile:
    """Keep the bytes as received under archive/<sha256>; the same bytes are kept once."""
    digest = hashlib.sha256(data).hexdigest()
    target = f"{archive.rstrip('/')}/{digest}"
    fs, path = fsspec.core.url_to_fs(target)
    if not fs.exists(path):
        fs.makedirs(posixpath.dirname(path), exist_ok=True)
        tmp = f"{path}.part"
        with fs.open(tmp, "wb") as f:
            f.write(data)
        if isinstance(fs, LocalFileSystem):  # every received file holds full My Numbers: the city's alone
            os.chmod(posixpath.dirname(path), 0o700)
            os.chmod(tmp, 0o600)
        fs.mv(tmp, path)
    return LandedFile(name=name, sha256=digest, size=len(data), archive_uri=target)


def list_inbox(inbox: str) -> list[str]:
    """Every regular file at the top of the inbox, in name order (sub-folders are not read)."""
    fs, path = fsspec.core.url_to_fs(inbox)
    if not fs.exists(path):
        return []
    protocol = inbox.split("://", 1)[0] + "://" if "://" in inbox else ""
    entries = [e for e in fs.ls(path, detail=True) if e["type"] == "file"]
    names = sorted(e["name"] for e in entries)
    return [protocol + n if protocol and not n.startswith(protocol) else n for n in names]


def sha256_of(uri: str) -> str:
    """SHA-256 of a file's bytes wherever it is."""
    return hashlib.sha256(read_bytes(uri)).hexdigest()
