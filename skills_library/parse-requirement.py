# /// script
# requires-python = ">=3.12"
# dependencies = [
#     "packaging>=23",
# ]
#
# [tool.atom]
# name = "parse-requirement"
# version = "1.0.0"
# category = "dev"
# type = "validate"
# description = """Parse Python requirement strings (PEP 508): normalised name, extras, version \
# specifier, environment marker and whether the marker holds here; invalid ones say why."""
# tags = ["pep508", "requirements", "pip", "packaging", "dev"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = ["requirements"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.requirements]
# type = "array"
# items = { type = "string" }
#
# [[tool.atom.examples]]
# input = { requirements = ["Django_Ninja[extra] >=1.0,<2", "requests; python_version < '3'"] }
# [[tool.atom.examples.output.requirements]]
# valid = true
# name = "django-ninja"
# extras = ["extra"]
# specifier = "<2,>=1.0"
# marker = ""
# marker_matches = true
# error = ""
# [[tool.atom.examples.output.requirements]]
# valid = true
# name = "requests"
# extras = []
# specifier = ""
# marker = 'python_version < "3"'
# marker_matches = false
# error = ""
# ///
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name


def _describe(text: str) -> dict:
    try:
        req = Requirement(text)
    except InvalidRequirement as error:
        return {"valid": False, "error": str(error).splitlines()[0]}
    return {
        "valid": True,
        "name": canonicalize_name(req.name),
        "extras": sorted(req.extras),
        "specifier": str(req.specifier),
        "marker": str(req.marker) if req.marker else "",
        "marker_matches": req.marker.evaluate() if req.marker else True,
        "error": "",
    }


def run(requirements: list[str]) -> dict:
    """Return one description per requirement string, in order."""
    return {"requirements": [_describe(text) for text in requirements]}
