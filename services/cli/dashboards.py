"""``hpo dashboards push`` and ``hpo dashboards snapshot``: the sub-parser and its dispatch."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from dashboards import DASHBOARD_UIDS
from services.runtime.errors import UserInputError

EXIT_OK = 0


def add_dashboards_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dashboards = commands.add_parser(
        "dashboards",
        help="Grafana dashboards: push them into a Grafana, or draw one as a PNG from Prometheus",
        description="The Grafana dashboards of dashboards/ (studies overview, training live, pipeline health).",
    )
    actions = dashboards.add_subparsers(dest="dashboards_command", metavar="ACTION", required=True)
    push = actions.add_parser(
        "push",
        help="create or update the Prometheus datasource and every dashboard in a running Grafana",
        description="Create or update the 'hpo Prometheus' datasource, the 'hpo' folder and every dashboard "
        "through Grafana's HTTP API (idempotent: run it again after an upgrade).",
    )
    push.add_argument("--grafana-url", required=True, help="e.g. http://grafana:3000 (user:password@ for basic auth)")
    push.add_argument("--token", default=None, help="a service-account token (default: GRAFANA_TOKEN)")
    push.add_argument(
        "--prometheus-url",
        default="http://prometheus:9090",
        help="the Prometheus Grafana should query, as Grafana reaches it (default: http://prometheus:9090)",
    )
    push.add_argument("--scrape-interval", default="15s", help="that Prometheus' scrape interval (default: 15s)")
    snapshot = actions.add_parser(
        "snapshot",
        help="draw one dashboard's time-series panels for a study to a PNG (matplotlib, no Grafana)",
        description="Run the dashboard's queries against Prometheus and draw its time-series panels to a PNG.",
    )
    snapshot.add_argument("--prometheus-url", required=True, help="e.g. http://prometheus:9090")
    snapshot.add_argument("--study", required=True, help="the study's id (the API's job id)")
    snapshot.add_argument("--dashboard", default="hpo-training-live", choices=DASHBOARD_UIDS)
    snapshot.add_argument("--trainer", default=".*", help="a trainer id, or a regular expression (default: all)")
    snapshot.add_argument("--since", default="1h", help="how far back: 30m, 2h, 1d (default: 1h)")
    snapshot.add_argument("--output", default=None, help="the PNG to write (default: <dashboard>-<study>.png)")


def run_dashboards(args: argparse.Namespace, console: Console) -> int:
    def say(line: str) -> None:
        console.print(escape(line))

    if args.dashboards_command == "push":
        from services.cli.dashboards_push import push

        token = args.token or os.environ.get("GRAFANA_TOKEN")
        push(args.grafana_url, token, args.prometheus_url, say, scrape_interval=args.scrape_interval)
        return EXIT_OK
    from services.cli.dashboards_snapshot import snapshot

    output = Path(args.output or f"{args.dashboard}-{args.study}.png")
    snapshot(
        args.prometheus_url,
        args.study,
        output,
        say,
        dashboard_uid=args.dashboard,
        since_seconds=parse_since(args.since),
        trainer=args.trainer,
    )
    return EXIT_OK


def parse_since(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.isdigit() or int(number) == 0:
        raise UserInputError(f"--since {text!r} is not a duration\n  use a number and s, m, h or d: 30m, 2h, 1d")
    return float(int(number) * units[unit])
