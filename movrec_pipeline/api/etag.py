"""Strong ETags of stored lists: a digest of the request and of the data versions of the tables it reads.

Every asset records its data version in the transaction that publishes its tables (``movrec.asset_state``), and
the API reads those versions and the list in one repeatable-read snapshot: the same tag always names the same
bytes, and a materialization that changes a table changes the tag. ``If-None-Match`` is answered with 304 before
the list is even read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

# What besides the tables shapes a body: the code that renders it (bump when a response changes shape) and the
# process's settings that choose the text model.
REPRESENTATION = "movrec-api-1"


def tag(request_key: str, versions: Mapping[str, str], assets: Iterable[str], salt: str = "") -> str | None:
    """The quoted strong ETag, or None when one of ``assets`` never recorded a version (an older warehouse);
    ``"name/*"`` asks for the records of every bucket of a partitioned asset, all of which enter the tag."""
    for asset in set(assets):
        prefix = asset[:-1] if asset.endswith("/*") else None
        if (asset not in versions) if prefix is None else not any(k.startswith(prefix) for k in versions):
            return None
    h = hashlib.sha256()
    for part in (REPRESENTATION, salt, request_key, *(f"{a}={versions[a]}" for a in sorted(versions))):
        h.update(part.encode())
        h.update(b"\0")
    return f'"{h.hexdigest()[:40]}"'


def request_key(method: str, path: str, query: Iterable[tuple[str, str]]) -> str:
    """Method, path and the query parameters in a canonical order (the same request in any spelling)."""
    return "\n".join([method, path, *sorted(f"{k}={v}" for k, v in query)])


def matches(if_none_match: str | None, current: str) -> bool:
    """RFC 9110 ``If-None-Match``: ``*`` or a list of entity tags, compared weakly (a ``W/`` prefix is ignored)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(candidate.strip().removeprefix("W/") == current for candidate in if_none_match.split(","))
