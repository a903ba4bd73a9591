# /// script
# requires-python = ">=3.12"
# dependencies = [
#     "sqlparse>=0.5",
# ]
#
# [tool.atom]
# name = "format-sql"
# version = "1.0.0"
# category = "dev"
# type = "transform"
# description = """Pretty-print SQL: one clause per line, keywords in upper case, comments kept \
# or stripped; also splits a script into its statements."""
# tags = ["sql", "format", "pretty-print", "sqlparse", "dev"]
# entrypoint = "run"
# timeout = 10
#
# [tool.atom.inputs]
# type = "object"
# required = ["sql"]
# additionalProperties = false
#
# [tool.atom.inputs.properties.sql]
# type = "string"
# minLength = 1
#
# [tool.atom.inputs.properties.keyword_case]
# enum = ["upper", "lower", "capitalize"]
# default = "upper"
#
# [tool.atom.inputs.properties.strip_comments]
# type = "boolean"
# default = false
#
# [[tool.atom.examples]]
# [tool.atom.examples.input]
# sql = "select id, name from skills where category = 'data' and status='approved' order by name"
# [tool.atom.examples.output]
# statements = 1
# sql = """SELECT id,
#        name
# FROM skills
# WHERE category = 'data'
#   AND status='approved'
# ORDER BY name"""
# ///
import sqlparse


def run(sql: str, keyword_case: str = "upper", strip_comments: bool = False) -> dict:
    """Return ``sql`` reindented, with its number of statements."""
    formatted = sqlparse.format(
        sql,
        reindent=True,
        keyword_case=keyword_case,
        strip_comments=strip_comments,
        use_space_around_operators=False,
    )
    return {"sql": formatted.strip(), "statements": len(sqlparse.split(sql))}
