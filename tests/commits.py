"""Which captured statements committed without waiting for the disk (atom_site/transactions)."""

from atom_site.transactions import NOT_AWAITED


def statements_not_awaited(statements: list[str]) -> list[str]:
    """Each statement that follows a `SET LOCAL synchronous_commit = off` of its own, or carries
    one at its end (without it), in order."""
    found = []
    for index, sql in enumerate(statements):
        if sql == NOT_AWAITED:
            found.append(statements[index + 1])
        elif sql.endswith(f"; {NOT_AWAITED}"):
            found.append(sql.removesuffix(f"; {NOT_AWAITED}"))
    return found
