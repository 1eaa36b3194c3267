"""``movrec``: run the pipeline, open the UI, manage the embedded database."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from movrec_pipeline.core import paths
from movrec_pipeline.core.errors import MovrecError


def cmd_materialize(args: argparse.Namespace) -> int:
    from movrec_pipeline.cli import instance, materialize

    if args.item_limit:
        os.environ["MOVREC_ITEM_LIMIT"] = str(args.item_limit)
    instance.prepare_environment()
    instance.apply_pool_limits()
    return 0 if materialize.materialize_all(verbose=args.verbose) else 1


def cmd_env(args: argparse.Namespace) -> int:
    """Print the variables Dagster's own tools (dg, dagster) need for this project, as shell exports."""
    import shlex

    from movrec_pipeline.cli import instance

    for name, value in instance.prepare_environment().items():
        print(f"export {name}={shlex.quote(value)}")
    instance.apply_pool_limits()
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    """`dagster dev` (and with --api the HTTP API) as children that SIGTERM/SIGINT stop, whole process groups."""
    from movrec_pipeline.cli import instance
    from movrec_pipeline.cli.supervise import supervise

    instance.prepare_environment()
    instance.apply_pool_limits()
    commands = [[sys.executable, "-m", "dagster", "dev", "-h", args.host, "-p", str(args.port),
                 "-w", str(paths.PROJECT_DIR / "workspace.yaml")]]
    print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={os.environ['DAGSTER_HOME']})", flush=True)
    if args.api:
        commands.append([sys.executable, "-m", "movrec_pipeline.cli", "serve", "--host", args.api_host,
                         "--port", str(args.api_port)])
    return supervise(commands)


def cmd_serve(args: argparse.Namespace) -> int:
    """The HTTP API (granian, ``--workers`` processes) until SIGTERM/SIGINT."""
    from movrec_pipeline.api import server
    from movrec_pipeline.core.settings import ApiSettings

    settings = ApiSettings.from_env()
    return server.run(args.host or settings.host, args.port or settings.port, args.workers or settings.workers)


def cmd_api_key(args: argparse.Namespace) -> int:
    """A new API key and the digest that goes into MOVREC_API_KEY_HASHES (or the digest of a key read from stdin)."""
    from movrec_pipeline.api import auth

    if args.hash:
        key = sys.stdin.readline().strip()
        if not key:
            raise MovrecError("give the key on standard input: echo -n KEY | movrec api-key --hash")
        print(auth.digest(key))
        return 0
    key, digest = auth.new_key()
    print(f"key:    {key}\ndigest: {digest}\n\nexport MOVREC_API_KEY_HASHES={digest}  # the server keeps only this;"
          " callers send Authorization: Bearer <key>")
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    """Every setting: its variable, the value in effect, the default and what it does (``--markdown``: the README's
    table)."""
    from movrec_pipeline.core.settings import GROUPS

    rows = []
    for group in GROUPS:
        current = group.from_env()
        for field, info in group.model_fields.items():
            rows.append((group.__name__.removesuffix("Settings").lower(), group.env_name(field),
                         getattr(current, field), info.default, info.description or ""))
    if args.markdown:
        print("| group | variable | default | meaning |\n|---|---|---|---|")
        for group, var, _value, default, meaning in rows:
            shown = f"`{default}`" if default not in ("", None) else "(empty)"
            print(f"| {group} | `{var}` | {shown} | {meaning} |")
        return 0
    from rich.table import Table

    from movrec_pipeline.cli.render import console_for

    table = Table("group", "variable", "value", "default", "meaning", box=None)
    for group, var, value, default, meaning in rows:
        table.add_row(group, var, str(value), str(default), meaning)
    console_for(sys.stdout).print(table)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from movrec_pipeline.warehouse import connection, embedded

    if args.action == "stop":
        print("stopped" if embedded.stop_server() else "not running")
        return 0
    url = connection.warehouse_url(os.environ.get("DATABASE_URL"))
    if args.action == "start":
        print(f"running; pgvector {connection.prepare_warehouse(url)}")
    elif args.action == "url":
        print(connection.redact(url))
    elif args.action == "psql":
        psql = str(embedded.bin_dir() / "psql") if not os.environ.get("DATABASE_URL") else "psql"
        return subprocess.call([psql, url])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="movrec", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("materialize", help="materialize the whole asset graph headless")
    p.add_argument("--item-limit", type=int, default=0, help="embed only the first N items of each source")
    p.add_argument("--verbose", action="store_true", help="Dagster's full event log instead of the progress view")
    p.set_defaults(func=cmd_materialize)
    p = sub.add_parser("env", help="shell exports for dg / dagster: eval \"$(movrec env)\"; dg list defs")
    p.set_defaults(func=cmd_env)
    p = sub.add_parser("dev", help="Dagster webserver + daemon on 127.0.0.1 (with --api the HTTP API beside it)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.add_argument("--api", action="store_true", help="also run the HTTP API (movrec serve)")
    p.add_argument("--api-host", default="127.0.0.1")
    p.add_argument("--api-port", type=int, default=8000)
    p.set_defaults(func=cmd_dev)
    p = sub.add_parser("serve", help="the HTTP API over the materialized tables (OpenAPI at /docs)")
    p.add_argument("--host", default=None, help="address to bind (default MOVREC_API_HOST or 127.0.0.1; anything "
                   "but loopback requires MOVREC_API_KEY_HASHES)")
    p.add_argument("--port", type=int, default=None, help="default MOVREC_API_PORT or 8000")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default MOVREC_API_WORKERS or 1)")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("api-key", help="make an API key and the digest to put in MOVREC_API_KEY_HASHES")
    p.add_argument("--hash", action="store_true", help="print the digest of a key read from standard input")
    p.set_defaults(func=cmd_api_key)
    p = sub.add_parser("settings", help="every setting: variable, value in effect, default, meaning")
    p.add_argument("--markdown", action="store_true", help="the table as markdown (README)")
    p.set_defaults(func=cmd_settings)
    p = sub.add_parser("db", help="the embedded PostgreSQL")
    p.add_argument("action", choices=["start", "stop", "url", "psql"])
    p.set_defaults(func=cmd_db)
    from movrec_pipeline.cli.query_commands import add_query_commands

    add_query_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except MovrecError as exc:
        print(f"movrec: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
