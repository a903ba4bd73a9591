# /// script
# requires-python = ">=3.12"
# dependencies = []
#
# [tool.atom]
# name = "uuid-generate"
# version = "1.0.0"
# category = "dev"
# type = "generate"
# description = """Generate UUIDs: random (version 4), time-based (version 1), or name-based and \
# reproducible (version 5, from a namespace and a name)."""
# tags = ["uuid", "identifier", "random", "dev"]
# entrypoint = "run"
# timeout = 5
#
# [tool.atom.inputs]
# type = "object"
# required = []
# additionalProperties = false
#
# [tool.atom.inputs.properties.version]
# enum = [1, 4, 5]
# default = 4
#
# [tool.atom.inputs.properties.count]
# type = "integer"
# minimum = 1
# maximum = 1000
# default = 1
#
# [tool.atom.inputs.properties.namespace]
# type = "string"
# default = "url"
# description = "For version 5: dns, url, oid, x500, or any UUID."
#
# [tool.atom.inputs.properties.name]
# type = "string"
# description = "For version 5: the name to hash; required for that version."
#
# [[tool.atom.examples]]
# input = { count = 2 }
#
# [[tool.atom.examples]]
# input = { version = 5, namespace = "dns", name = "atom.example.com" }
# output = { version = 5, uuids = ["e90aeae8-69a4-5c1e-964c-4585837f5b4f"] }
# ///
import uuid

NAMESPACES = {
    "dns": uuid.NAMESPACE_DNS,
    "url": uuid.NAMESPACE_URL,
    "oid": uuid.NAMESPACE_OID,
    "x500": uuid.NAMESPACE_X500,
}


def run(version: int = 4, count: int = 1, namespace: str = "url", name: str | None = None) -> dict:
    """Return ``count`` new UUIDs of the given version (version 5 always gives the same one)."""
    if version == 5:
        if name is None:
            raise ValueError("version 5 needs a name")
        space = NAMESPACES.get(namespace) or uuid.UUID(namespace)
        return {"version": 5, "uuids": [str(uuid.uuid5(space, name))]}
    make = uuid.uuid1 if version == 1 else uuid.uuid4
    return {"version": version, "uuids": [str(make()) for _ in range(count)]}
