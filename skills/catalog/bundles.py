"""Skill bundles: a zip of skill files with a manifest of their SHA-256 checksums.

Bundles come from outside, so reading one trusts nothing: names are checked for traversal,
links are refused, the number of files and the bytes actually decompressed are capped (a zip
bomb is stopped while it inflates, whatever its headers claim), and every file must match the
checksum its manifest lists.
"""

import hashlib
import json
import stat
import zipfile
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import IO

from django.conf import settings

from skills.catalog.importer import SkillSource
from skills.catalog.manifest import SkillFileError
from skills.models import Skill

BUNDLE_FORMAT = "atom-bundle/1"
MANIFEST_NAME = "manifest.json"
READ_CHUNK = 64 * 1024
# manifest.json may take this many bytes per file the bundle may hold: an export writes about
# 150, and a manifest listing a million entries is refused while it inflates, not parsed.
MANIFEST_BYTES_PER_FILE = 1024
# Errors listed one by one before the rest are counted.
MAX_ERRORS = 50
# What reading a damaged member raises: a bad CRC or header (BadZipFile), a corrupt deflate
# stream (zlib.error), a truncated one (EOFError), an unknown compression method
# (NotImplementedError), a bad bzip2/lzma stream (OSError, ValueError).
MEMBER_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    NotImplementedError,
    OSError,
    ValueError,
)


class BundleInvalid(Exception):
    def __init__(self, errors: list[SkillFileError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


def _refused(name: str, errors: list[SkillFileError]) -> BundleInvalid:
    """Every problem found: the first MAX_ERRORS listed, the rest counted."""
    if len(errors) > MAX_ERRORS:
        more = len(errors) - MAX_ERRORS
        errors = [*errors[:MAX_ERRORS], SkillFileError(name, 0, "bundle", f"and {more} more")]
    return BundleInvalid(errors)


def bundle_export(skills: Iterable[Skill], stream: IO[bytes]) -> int:
    """Write the current version of each skill into a bundle; return how many were written."""
    entries = []
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for skill in skills:
            version = skill.current_version
            if version is None:
                continue
            data = version.source.encode("utf-8")
            path = f"skills/{skill.slug}{PurePosixPath(version.filename).suffix}"
            archive.writestr(path, data)
            entries.append(
                {
                    "path": path,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "name": skill.slug,
                    "version": version.version,
                }
            )
        manifest = {
            "format": BUNDLE_FORMAT,
            "created_at": datetime.now(UTC).isoformat(),
            "skills": entries,
        }
        archive.writestr(MANIFEST_NAME, json.dumps(manifest, indent=2))
    return len(entries)


def sources_from_uploads(
    files: Iterable[IO[bytes]],
) -> tuple[list[SkillSource], list[SkillFileError]]:
    """Skill files and bundles (`.zip`) sent together, as the API and the admin receive them."""
    sources: list[SkillSource] = []
    errors: list[SkillFileError] = []
    for upload in files:
        if upload.name.endswith(".zip"):
            try:
                sources.extend(bundle_read(upload, name=upload.name))
            except BundleInvalid as invalid:
                errors.extend(invalid.errors)
        elif (size := getattr(upload, "size", None)) and size > settings.ATOM_SKILL_MAX_BYTES:
            # Refused before it is read into memory.
            limit = settings.ATOM_SKILL_MAX_BYTES
            errors.append(
                SkillFileError(
                    upload.name,
                    0,
                    "file",
                    f"is {size} bytes, over the limit of {limit} bytes (ATOM_SKILL_MAX_BYTES)",
                )
            )
        else:
            sources.append(SkillSource(upload.name, PurePosixPath(upload.name).name, upload.read()))
    return sources, errors


def bundle_read(stream: IO[bytes], *, name: str = "bundle") -> list[SkillSource]:
    """Read and verify a bundle; raise BundleInvalid listing every problem."""
    try:
        archive = zipfile.ZipFile(stream)
    except MEMBER_READ_ERRORS as error:  # ValueError: a name not UTF-8 though flagged so
        raise BundleInvalid(
            [SkillFileError(name, 0, "bundle", f"is not a zip file ({error})")]
        ) from None
    with archive:
        members = archive.infolist()
        _check_member_count(name, members)
        errors = [error for member in members if (error := _member_error(name, member))]
        errors.extend(_duplicate_errors(name, members))
        if errors:
            raise _refused(name, errors)
        contents = _read_members(name, archive, members)
    manifest = _manifest(name, contents.pop(MANIFEST_NAME, None))
    return _verified_sources(name, manifest, contents)


def _check_member_count(name: str, members: list[zipfile.ZipInfo]) -> None:
    limit = settings.ATOM_BUNDLE_MAX_FILES
    if len(members) > limit + 1:
        raise BundleInvalid(
            [SkillFileError(name, 0, "bundle", f"holds {len(members)} files, over {limit}")]
        )


def _member_error(name: str, member: zipfile.ZipInfo) -> SkillFileError | None:
    where = f"{name}:{member.filename}"
    path = PurePosixPath(member.filename)
    mode = member.external_attr >> 16
    if not path.parts:  # "", ".", "./"
        return SkillFileError(where, 0, "path", "an empty path is not allowed")
    if "\\" in member.filename or member.filename.startswith("/") or ":" in path.parts[0]:
        return SkillFileError(where, 0, "path", "absolute paths are not allowed")
    if ".." in path.parts:
        return SkillFileError(where, 0, "path", "'..' is not allowed in a path")
    if stat.S_ISLNK(mode):
        return SkillFileError(where, 0, "path", "links are not allowed")
    if member.flag_bits & 0x1:
        return SkillFileError(where, 0, "path", "encrypted files are not allowed")
    return None


def _duplicate_errors(name: str, members: list[zipfile.ZipInfo]) -> list[SkillFileError]:
    """Two members under one name: unzip tools disagree about which one wins."""
    seen: set[str] = set()
    errors = []
    for member in members:
        if member.filename in seen:
            errors.append(
                SkillFileError(f"{name}:{member.filename}", 0, "path", "is in the bundle twice")
            )
        seen.add(member.filename)
    return errors


def _read_members(
    name: str, archive: zipfile.ZipFile, members: list[zipfile.ZipInfo]
) -> dict[str, bytes]:
    """Inflate every file, stopping as soon as the real total passes the byte limit."""
    budget = settings.ATOM_BUNDLE_MAX_BYTES
    contents: dict[str, bytes] = {}
    for member in members:
        if member.is_dir():
            continue
        try:
            contents[member.filename] = _member_read(name, archive, member, budget)
        except MEMBER_READ_ERRORS as error:
            raise BundleInvalid(
                [
                    SkillFileError(
                        f"{name}:{member.filename}", 0, "file", f"cannot be read ({error})"
                    )
                ]
            ) from None
        budget -= len(contents[member.filename])
    return contents


def _member_read(
    name: str, archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: int
) -> bytes:
    """One member's bytes, stopping as soon as it passes its own limit or the bundle's."""
    if member.filename == MANIFEST_NAME:
        limit = MANIFEST_BYTES_PER_FILE * settings.ATOM_BUNDLE_MAX_FILES
        setting = "1 KB per ATOM_BUNDLE_MAX_FILES"
    else:
        limit, setting = settings.ATOM_SKILL_MAX_BYTES, "ATOM_SKILL_MAX_BYTES"
    chunks, size = [], 0
    with archive.open(member) as handle:
        while chunk := handle.read(READ_CHUNK):
            size += len(chunk)
            if size > budget:
                raise BundleInvalid(
                    [
                        SkillFileError(
                            name,
                            0,
                            "bundle",
                            f"inflates past the limit of {settings.ATOM_BUNDLE_MAX_BYTES} bytes",
                        )
                    ]
                )
            if size > limit:
                raise BundleInvalid(
                    [
                        SkillFileError(
                            f"{name}:{member.filename}",
                            0,
                            "file",
                            f"is over the limit of {limit} bytes ({setting})",
                        )
                    ]
                )
            chunks.append(chunk)
    return b"".join(chunks)


def _manifest(name: str, data: bytes | None) -> dict:
    if data is None:
        raise BundleInvalid([SkillFileError(name, 0, MANIFEST_NAME, "is missing")])
    try:
        manifest = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise BundleInvalid(
            [SkillFileError(name, 0, MANIFEST_NAME, f"is not JSON ({error})")]
        ) from None
    except RecursionError:  # arrays or objects nested thousands deep
        raise BundleInvalid(
            [SkillFileError(name, 0, MANIFEST_NAME, "is not JSON (it nests too deeply)")]
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise BundleInvalid(
            [SkillFileError(name, 0, f"{MANIFEST_NAME}.format", f"must be {BUNDLE_FORMAT!r}")]
        )
    entries = manifest.get("skills")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("path"), str) and isinstance(e.get("sha256"), str)
        for e in entries
    ):
        raise BundleInvalid(
            [SkillFileError(name, 0, f"{MANIFEST_NAME}.skills", "must list {path, sha256} objects")]
        )
    limit = settings.ATOM_BUNDLE_MAX_FILES
    if len(entries) > limit:
        raise BundleInvalid(
            [
                SkillFileError(
                    name, 0, f"{MANIFEST_NAME}.skills", f"lists {len(entries)}, over {limit}"
                )
            ]
        )
    return manifest


def _verified_sources(name: str, manifest: dict, contents: dict[str, bytes]) -> list[SkillSource]:
    errors, sources = [], []
    listed = set()
    for entry in manifest["skills"]:
        path = entry["path"]
        listed.add(path)
        where = f"{name}:{path}"
        data = contents.get(path)
        if data is None:
            errors.append(SkillFileError(where, 0, "path", "is listed but not in the bundle"))
        elif hashlib.sha256(data).hexdigest() != entry["sha256"].lower():
            errors.append(SkillFileError(where, 0, "sha256", "does not match the file"))
        else:
            sources.append(SkillSource(where, PurePosixPath(path).name, data))
    for path in sorted(set(contents) - listed):
        errors.append(SkillFileError(f"{name}:{path}", 0, "path", "is not listed in the manifest"))
    if errors:
        raise _refused(name, errors)
    return sources
