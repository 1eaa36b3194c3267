"""``movrec`` query commands: recommend, similar, search, semantic, browse, explain, status.

The commands only parse arguments and format what :mod:`movrec_pipeline.query` returns: a readable table
by default, ``--json`` for scripts. Errors are one line on stderr with exit code 2 (``cli.main``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, NoReturn

from movrec_pipeline.core.errors import MovrecError

if TYPE_CHECKING:  # the query package (numpy, psycopg) is imported only when a query command runs
    from movrec_pipeline.query.results import Explanation, Listing, Status

Handler = Callable[[argparse.Namespace], object]
QUIET_MODEL_LOAD = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error",
                    "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TQDM_DISABLE": "1", "TOKENIZERS_PARALLELISM": "false"}


# -- arguments ---------------------------------------------------------------------------------------------
def add_query_commands(sub: argparse._SubParsersAction) -> None:
    """Add the query subcommands to ``movrec``'s parser."""
    for add in (_add_recommend, _add_similar, _add_search, _add_semantic, _add_browse, _add_explain, _add_status):
        add(sub)


def _parser(sub: argparse._SubParsersAction, name: str, text: str, handler: Handler) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=text, description=text)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=partial(_run, handler))

    def error(message: str) -> NoReturn:  # one line, like every other bad input
        p.exit(2, f"movrec: {message} (see {p.prog} --help)\n")

    p.error = error  # type: ignore[method-assign]
    return p


def _ids(text: str) -> list[int]:
    try:
        ids = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected movie ids like 1,260,1196, got {text!r}") from None
    if not ids:
        raise argparse.ArgumentTypeError("expected at least one movie id")
    return ids


def _k(p: argparse.ArgumentParser, default: int = 10) -> None:
    p.add_argument("--k", type=int, default=default, help=f"how many results (default {default})")


def _add_recommend(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "recommend", "recommendations for a dvdrental customer, a MovieLens user or example movies",
                _recommend)
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer", type=int, metavar="ID", help="dvdrental customer: Netflix shows")
    who.add_argument("--ml-user", type=int, metavar="ID", help="MovieLens user: movies")
    who.add_argument("--from-movies", type=_ids, metavar="IDS", help="liked MovieLens movie ids, e.g. 1,260,1196")
    p.add_argument("--not", dest="not_movies", type=_ids, default=[], metavar="IDS",
                   help="disliked movie ids (with --from-movies)")
    p.add_argument("--using", choices=["collaborative", "text"], default="collaborative",
                   help="vectors for --from-movies: ratings-based SVD (default) or the text model")
    _k(p)
    p.add_argument("--diversity", type=float, default=0.0, help="0 (default) to 1: MMR re-ranking (--customer)")
    p.add_argument("--live", action="store_true", help="compute from the current vectors via the index (--customer)")


def _add_similar(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "similar", "movies or shows similar to one", _similar)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--movie", metavar="TITLE", help="MovieLens title, e.g. 'Toy Story' or 'Heat (1995)'")
    what.add_argument("--movie-id", type=int, metavar="ID")
    what.add_argument("--show", metavar="ID", help="Netflix show id (s123) or exact title")
    _k(p)
    p.add_argument("--source", choices=["both", "collaborative", "text"], default="both", help="movies only")
    p.add_argument("--exclude-seen", action="store_true", help="leave out the movies --ml-user rated")
    p.add_argument("--ml-user", type=int, metavar="ID")


def _add_search(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "search", "full-text search of MovieLens titles, genres and years", _search)
    p.add_argument("text", nargs="+", help="words; \"quoted phrases\", or, -not as in web search")
    p.add_argument("--ml-user", type=int, metavar="ID", help="re-rank for this MovieLens user")
    p.add_argument("--personal-weight", type=float, default=0.5, help="share of the user's taste (default 0.5)")
    _k(p)


def _add_semantic(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "semantic", "Netflix shows and MovieLens movies nearest to a description", _semantic)
    p.add_argument("text", nargs="+")
    p.add_argument("--kind", choices=["both", "netflix", "movielens"], default="both")
    _k(p)


def _add_browse(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "browse", "MovieLens movies by genre, average rating and activity", _browse)
    p.add_argument("--genres", nargs="+", default=[], metavar="GENRE", help="all of these genres")
    p.add_argument("--min-rating", type=float, help="average rating at least this")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--top-rated", action="store_true", help="best average (needs --min-count ratings, default 20)")
    mode.add_argument("--trending", action="store_true", help="most ratings in the data's last 365 days")
    p.add_argument("--min-count", type=int, help="minimum number of ratings")
    _k(p)


def _add_explain(sub: argparse._SubParsersAction) -> None:
    p = _parser(sub, "explain", "which rented films make a show fit a customer", _explain)
    p.add_argument("--customer", type=int, required=True, metavar="ID")
    p.add_argument("--show", required=True, metavar="ID", help="Netflix show id (s123) or exact title")
    p.add_argument("--top", type=int, default=5, help="how many films (default 5)")


def _add_status(sub: argparse._SubParsersAction) -> None:
    _parser(sub, "status", "what is materialized: vectors, coverage, indexes, tables, quality", _status)


# -- handlers ----------------------------------------------------------------------------------------------
class UsageError(MovrecError):
    """Options that do not go together."""


def _refuse(flag: str, used: bool, where: str) -> None:
    if used:
        raise UsageError(f"{flag} only goes with {where}")


def _recommend(args: argparse.Namespace) -> Listing:
    from movrec_pipeline import query

    if args.customer is not None:
        _refuse("--not", bool(args.not_movies), "--from-movies")
        return query.recommend_for_customer(args.customer, args.k, diversity=args.diversity, live=args.live)
    _refuse("--live", args.live, "--customer")
    _refuse("--diversity", args.diversity != 0.0, "--customer")
    if args.ml_user is not None:
        _refuse("--not", bool(args.not_movies), "--from-movies")
        return query.recommend_for_user(args.ml_user, args.k)
    return query.recommend_from_movies(args.from_movies, args.not_movies, args.k, using=args.using)


def _similar(args: argparse.Namespace) -> Listing:
    from movrec_pipeline import query

    if args.exclude_seen != (args.ml_user is not None):
        raise UsageError("--exclude-seen and --ml-user go together")
    if args.show is not None:
        _refuse("--exclude-seen", args.exclude_seen, "--movie or --movie-id")
        return query.similar_shows(args.show, args.k)
    movie = args.movie if args.movie is not None else args.movie_id
    return query.similar_movies(movie, args.k, source=args.source, exclude_seen_by=args.ml_user)


def _search(args: argparse.Namespace) -> Listing:
    from movrec_pipeline import query

    return query.search_movies(" ".join(args.text), args.k, user_id=args.ml_user,
                               personal_weight=args.personal_weight)


def _semantic(args: argparse.Namespace) -> Listing:
    from movrec_pipeline import query

    for name, value in QUIET_MODEL_LOAD.items():  # the local model loads offline, without progress bars
        os.environ.setdefault(name, value)
    kinds = ("netflix", "movielens") if args.kind == "both" else (args.kind,)
    return query.semantic_search(" ".join(args.text), args.k, kinds=kinds)


def _browse(args: argparse.Namespace) -> Listing:
    from movrec_pipeline import query

    if not (args.genres or args.min_rating is not None or args.top_rated or args.trending):
        raise UsageError("say what to browse: --genres G…, --min-rating R, --top-rated or --trending")
    order = "top-rated" if args.top_rated else "trending" if args.trending else "popular"
    return query.browse_movies(genres=args.genres, min_rating=args.min_rating, order=order,
                               min_count=args.min_count, k=args.k)


def _explain(args: argparse.Namespace) -> Explanation:
    from movrec_pipeline import query

    return query.explain_recommendation(args.customer, args.show, top=args.top)


def _status(args: argparse.Namespace) -> Status:
    from movrec_pipeline import query

    return query.status()


def _run(handler: Handler, args: argparse.Namespace) -> int:
    import psycopg

    from movrec_pipeline.cli import render

    try:
        result = handler(args)
    except psycopg.Error as exc:
        raise MovrecError(f"database error: {str(exc).strip().splitlines()[0]}") from None
    try:
        if args.json:
            print(render.to_json(result))
        else:
            render.render(result, render.console_for(sys.stdout))
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `movrec search x | head -1`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


