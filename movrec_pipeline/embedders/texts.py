"""Text templates: what gets embedded for each kind of item (pure functions, no I/O)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

# Segments are separated by " | "; a segment whose fields are all empty is dropped, so a film with
# no cast does not say "Cast: ". As the MiniLM and Ollama recommenders did (README: the systems we replace).
DEFAULT_TEMPLATES: dict[str, str] = {
    "film": "Title: {title} | Year: {release_year} | Category: {category} | Rated: {rating} "
    "| Description: {description} | Cast: {cast}",
    "netflix": "Title: {title} | Type: {show_type} | Year: {release_year} | Genres: {listed_in} "
    "| Description: {description} | Cast: {cast} | Director: {director} | Country: {country} | Rated: {rating}",
    "movielens": "Title: {clean_title} | Year: {year} | Genres: {genres}",
}
MAX_LIST_ITEMS = 5  # "top 5 cast members", as the Ollama recommender embedded
_FIELD = re.compile(r"{(\w+)}")


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v).strip() for v in list(value)[:MAX_LIST_ITEMS] if v and str(v).strip())
    return " ".join(str(value).split())


def render(template: str, fields: Mapping[str, object]) -> str:
    """Fill ``template``; segments with only empty fields disappear. Unknown fields raise KeyError."""
    parts = []
    for segment in template.split(" | "):
        names = _FIELD.findall(segment)
        values = {name: _as_text(fields[name]) for name in names}
        if names and not any(values.values()):
            continue
        parts.append(segment.format(**values).strip())
    return " | ".join(p for p in parts if p)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def bucket_of(item_key: str, buckets: int) -> int:
    """Stable bucket of an item key (sha256, not Python's salted hash)."""
    return int.from_bytes(hashlib.sha256(item_key.encode("utf-8")).digest()[:4], "big") % buckets


def template_fields(template: str) -> Sequence[str]:
    return _FIELD.findall(template)
