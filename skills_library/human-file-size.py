# /// script
# requires-python = ">=3.12"
# dependencies = [
#     "humanize>=4.9",
# ]
#
# [tool.atom]
# name = "human-file-size"
# version = "1.0.0"
# category = "files"
# type = "transform"
# description = """Write a size in bytes the way people read it: decimal (1.5 MB), binary \
# (1.4 MiB) and GNU ls style (1.4M)."""
# tags = ["size", "bytes", "humanize", "files"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["bytes"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.bytes]
# type = "integer"
# minimum = 0
#
# [tool.atom.inputs.properties.precision]
# type = "integer"
# minimum = 0
# maximum = 6
# default = 1
#
# [[tool.atom.examples]]
# input = { bytes = 1500000 }
# output = { bytes = 1500000, decimal = "1.5 MB", binary = "1.4 MiB", gnu = "1.4M" }
#
# [[tool.atom.examples]]
# input = { bytes = 3221225472, precision = 2 }
# output = { bytes = 3221225472, decimal = "3.22 GB", binary = "3.00 GiB", gnu = "3.00G" }
# ///
import humanize


def run(bytes: int, precision: int = 1) -> dict:
    """Return ``bytes`` formatted in decimal, binary and GNU units."""
    fmt = f"%.{precision}f"
    return {
        "bytes": bytes,
        "decimal": humanize.naturalsize(bytes, format=fmt),
        "binary": humanize.naturalsize(bytes, binary=True, format=fmt),
        "gnu": humanize.naturalsize(bytes, gnu=True, format=fmt),
    }
