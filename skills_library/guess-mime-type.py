# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "guess-mime-type"
# version = "1.0.0"
# category = "files"
# type = "analyze"
# description = """Guess the MIME type and content encoding of file names from their extensions, \
# using Python's built-in table only (the same answer on every machine)."""
# tags = ["mime", "content-type", "extension", "files"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["filenames"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.filenames]
# type = "array"
# minItems = 1
# items = { type = "string" }
#
# [[tool.atom.examples]]
# input = { filenames = ["report.pdf", "data.csv.gz", "photo.JPG", "README"] }
# [tool.atom.examples.output]
# files = [
#     { filename = "report.pdf", mime_type = "application/pdf", encoding = "", text = false },
#     { filename = "data.csv.gz", mime_type = "text/csv", encoding = "gzip", text = true },
#     { filename = "photo.JPG", mime_type = "image/jpeg", encoding = "", text = false },
#     { filename = "README", mime_type = "application/octet-stream", encoding = "", text = false },
# ]
# ///
import mimetypes

TEXTUAL = ("application/json", "application/xml", "application/javascript", "image/svg+xml")


def run(filenames: list[str]) -> dict:
    """Return the MIME type (``application/octet-stream`` when unknown) of every name."""
    table = mimetypes.MimeTypes()  # built-in defaults, not the machine's /etc/mime.types
    files = []
    for filename in filenames:
        mime, encoding = table.guess_type(filename, strict=False)
        mime = mime or "application/octet-stream"
        files.append(
            {
                "filename": filename,
                "mime_type": mime,
                "encoding": encoding or "",
                "text": mime.startswith("text/") or mime in TEXTUAL,
            }
        )
    return {"files": files}
