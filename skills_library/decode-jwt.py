# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "decode-jwt"
# version = "1.0.0"
# category = "dev"
# type = "extract"
# description = """Decode a JSON Web Token's header and claims for inspection, with the issued, \
# not-before and expiry times as ISO dates. It does NOT verify the signature."""
# tags = ["jwt", "token", "decode", "auth", "dev"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["token"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.token]
# type = "string"
# pattern = '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$'
#
# [[tool.atom.examples]]
# [tool.atom.examples.input]
# token = """eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
# eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.\
# SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"""
# [tool.atom.examples.output]
# header = { alg = "HS256", typ = "JWT" }
# claims = { sub = "1234567890", name = "John Doe", iat = 1516239022 }
# times = { iat = "2018-01-18T01:30:22+00:00" }
# signed = true
# verified = false
# ///
import base64
import datetime as dt
import json


def _part(segment: str) -> dict:
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded))


def run(token: str) -> dict:
    """Return the decoded header and claims of ``token``; the signature is not checked."""
    header, claims, signature = token.split(".")
    payload = _part(claims)
    times = {
        key: dt.datetime.fromtimestamp(payload[key], tz=dt.UTC).isoformat()
        for key in ("iat", "nbf", "exp")
        if isinstance(payload.get(key), int | float)
    }
    return {
        "header": _part(header),
        "claims": payload,
        "times": times,
        "signed": bool(signature),
        "verified": False,
    }
