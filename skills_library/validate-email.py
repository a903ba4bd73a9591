# /// script
# requires-python = ">=3.12"
# dependencies = [
#     "email-validator>=2.1",
# ]
#
# [tool.atom]
# name = "validate-email"
# version = "1.0.0"
# category = "web"
# type = "validate"
# description = """Check the syntax of an email address (RFC 5322 with internationalised \
# domains) and return its normalised form, without any DNS lookup."""
# tags = ["email", "validate", "normalize", "web"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["email"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.email]
# type = "string"
#
# [[tool.atom.examples]]
# input = { email = "Ada.Lovelace@Example.COM" }
# [tool.atom.examples.output]
# valid = true
# normalized = "Ada.Lovelace@example.com"
# local_part = "Ada.Lovelace"
# domain = "example.com"
# error = ""
#
# [[tool.atom.examples]]
# input = { email = "ada.example.com" }
# [tool.atom.examples.output]
# valid = false
# normalized = ""
# local_part = ""
# domain = ""
# error = "An email address must have an @-sign."
# ///
from email_validator import EmailNotValidError, validate_email


def run(email: str) -> dict:
    """Return whether ``email`` is valid, its normalised parts, or the reason it is not."""
    try:
        info = validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        return {
            "valid": False,
            "normalized": "",
            "local_part": "",
            "domain": "",
            "error": str(error),
        }
    return {
        "valid": True,
        "normalized": info.normalized,
        "local_part": info.local_part,
        "domain": info.domain,
        "error": "",
    }
