# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "file-signature"
# version = "1.0.0"
# category = "files"
# type = "analyze"
# description = """Identify a file's real type from its first bytes (its magic number), whatever \
# its name says: images, archives, documents, executables, media and databases."""
# tags = ["magic-number", "file-type", "mime", "files"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["data_base64"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.data_base64]
# type = "string"
# description = "The first bytes of the file (at least 16; 512 to spot tar), base64-encoded."
#
# [[tool.atom.examples]]
# input = { data_base64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB" }
# [tool.atom.examples.output]
# known = true
# extension = "png"
# mime_type = "image/png"
# description = "PNG image"
# head_hex = "89504e470d0a1a0a0000000d49484452"
#
# [[tool.atom.examples]]
# input = { data_base64 = "aGVsbG8gd29ybGQ=" }
# [tool.atom.examples.output]
# known = false
# extension = ""
# mime_type = "application/octet-stream"
# description = "unknown"
# head_hex = "68656c6c6f20776f726c64"
# ///
import base64
import json
from pathlib import Path

SIGNATURES = json.loads((Path(__file__).parent / "signatures.json").read_text(encoding="utf-8"))


def _has(data: bytes, hex_magic: str, offset: int) -> bool:
    magic = bytes.fromhex(hex_magic)
    return data[offset : offset + len(magic)] == magic


def run(data_base64: str) -> dict:
    """Return the type whose signature (from ``signatures.json``) the bytes start with."""
    data = base64.b64decode(data_base64, validate=True)
    for sig in SIGNATURES:
        if _has(data, sig["hex"], sig["offset"]) and (
            "and_hex" not in sig or _has(data, sig["and_hex"], sig["and_offset"])
        ):
            found = {k: sig[k] for k in ("extension", "mime_type", "description")}
            return {"known": True, **found, "head_hex": data[:16].hex()}
    return {
        "known": False,
        "extension": "",
        "mime_type": "application/octet-stream",
        "description": "unknown",
        "head_hex": data[:16].hex(),
    }
