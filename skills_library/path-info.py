# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "path-info"
# version = "1.0.0"
# category = "files"
# type = "extract"
# description = """Split a file path (POSIX or Windows) into directory, name, stem, suffixes and \
# parts, normalising "." and ".." without touching the file system."""
# tags = ["path", "filename", "extension", "files"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["path"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.path]
# type = "string"
# minLength = 1
#
# [tool.atom.inputs.properties.style]
# enum = ["posix", "windows"]
# default = "posix"
#
# [[tool.atom.examples]]
# input = { path = "/srv/data/./reports/../2024/sales.backup.tar.gz" }
# [tool.atom.examples.output]
# normalized = "/srv/data/2024/sales.backup.tar.gz"
# directory = "/srv/data/2024"
# name = "sales.backup.tar.gz"
# stem = "sales"
# suffix = ".gz"
# suffixes = [".backup", ".tar", ".gz"]
# parts = ["/", "srv", "data", "2024", "sales.backup.tar.gz"]
# absolute = true
#
# [[tool.atom.examples]]
# input = { path = 'C:\Users\ada\notes.txt', style = "windows" }
# [tool.atom.examples.output]
# normalized = 'C:\Users\ada\notes.txt'
# directory = 'C:\Users\ada'
# name = "notes.txt"
# stem = "notes"
# suffix = ".txt"
# suffixes = [".txt"]
# parts = ['C:\', "Users", "ada", "notes.txt"]
# absolute = true
# ///
import ntpath
import posixpath
from pathlib import PurePosixPath, PureWindowsPath


def run(path: str, style: str = "posix") -> dict:
    """Return the parts of ``path``; nothing on disk is read."""
    flavour, pure = (ntpath, PureWindowsPath) if style == "windows" else (posixpath, PurePosixPath)
    normalized = pure(flavour.normpath(path))
    name = normalized.name
    return {
        "normalized": str(normalized),
        "directory": str(normalized.parent),
        "name": name,
        "stem": name.split(".", 1)[0] if not name.startswith(".") else name,
        "suffix": normalized.suffix,
        "suffixes": normalized.suffixes,
        "parts": list(normalized.parts),
        "absolute": normalized.is_absolute(),
    }
