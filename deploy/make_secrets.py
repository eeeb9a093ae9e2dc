#!/usr/bin/env python3
"""Write the deployments' secrets with random values (nothing here is committed; git ignores every output).

    python deploy/make_secrets.py compose            # .env from .env.example, every secret random
    python deploy/make_secrets.py k8s dev            # k8s/overlays/dev/secrets/*.env (in-cluster broker, db, S3)
    python deploy/make_secrets.py k8s prod --amqp-url amqps://broker.example:5671/hpo \\
        --management-url https://broker.example:15671 --database-url postgresql+psycopg://hpo:PW@db.example/hpo
                                                     # + HPO_S3_ACCESS_KEY / HPO_S3_SECRET_KEY in the environment

For prod it also writes ``secrets/definitions.json``: the broker users (one per service, with the permissions
of the README's "Broker users" table) for ``rabbitmqctl import_definitions`` on your broker. Existing files are
kept unless ``--force``. Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "rabbitmq" / "definitions.template.json"
BROKER_USERS = ("admin", "scheduler", "health", "reporter", "trainer", "api", "monitor")
SERVICE_USERS = ("scheduler", "health", "reporter", "trainer", "api")
PLACEHOLDERS = {"guest", "minioadmin", "changethis", ""}
SECRET_VARIABLES = re.compile(
    r"^(BROKER_[A-Z]+_PASSWORD|POSTGRES_PASSWORD|HPO_S3_ACCESS_KEY|HPO_S3_SECRET_KEY|HPO_API_TOKEN|GRAFANA_ADMIN_PASSWORD)="
)


class Refusal(Exception):
    """Bad input: one line, exit 2."""


def random_secret() -> str:
    """URL-safe (letters, digits, - and _): it goes into amqp:// and postgresql:// URLs as it is."""
    return secrets.token_urlsafe(24)


def compose_env(example: str) -> str:
    """.env.example with a random value for every secret (a placeholder the services refuse, or empty)."""
    lines = []
    for line in example.splitlines():
        match = SECRET_VARIABLES.match(line)
        if match and line.partition("=")[2].strip() in PLACEHOLDERS:
            value = ("hpo_" if line.startswith("HPO_API_TOKEN=") else "") + random_secret()
            line = f"{line.partition('=')[0]}={value}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _with_credentials(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


def k8s_secrets(
    amqp_url: str, management_url: str, database_url: str, s3_keys: tuple[str, str]
) -> dict[str, dict[str, str]]:
    """Every Secret an overlay's secretGenerator reads: file stem -> key -> value."""
    vhost = urlsplit(amqp_url).path.lstrip("/") or "/"
    passwords = {user: random_secret() for user in BROKER_USERS}
    files: dict[str, dict[str, str]] = {"broker-admin": {"password": passwords["admin"]}}
    for user in SERVICE_USERS:
        files[f"broker-{user}"] = {
            "url": _with_credentials(amqp_url, f"hpo-{user}", passwords[user]),
            "password": passwords[user],
        }
    files["broker-monitor"] = {
        "host": f"{management_url.rstrip('/')}/{vhost}",
        "username": "hpo-monitor",
        "password": passwords["monitor"],
    }
    database_password = urlsplit(database_url).password or ""
    files["database"] = {"url": database_url, "password": database_password}
    files["s3-credentials"] = {"access-key": s3_keys[0], "secret-key": s3_keys[1]}
    files["api-token"] = {"token": "hpo_" + random_secret()}
    files["grafana"] = {"admin-password": random_secret()}  # the monitoring component's Grafana admin
    return files


def broker_definitions(files: dict[str, dict[str, str]], vhost: str) -> str:
    """deploy/rabbitmq/definitions.template.json with these passwords and vhost (for import_definitions)."""
    text = TEMPLATE.read_text()
    for user in BROKER_USERS:
        text = text.replace(f"${{BROKER_{user.upper()}_PASSWORD}}", files[f"broker-{user}"]["password"])
    definitions = json.loads(text)
    for item in definitions["vhosts"]:
        item["name"] = vhost
    for item in definitions["permissions"]:
        item["vhost"] = vhost
    return json.dumps(definitions, indent=2) + "\n"


def _write(path: Path, text: str, *, force: bool) -> None:
    if path.exists() and not force:
        raise Refusal(f"{path} exists; keep it, or pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)


def write_k8s(overlay: Path, files: dict[str, dict[str, str]], *, force: bool) -> list[Path]:
    written = []
    for stem, values in files.items():
        bad = [key for key, value in values.items() if "\n" in value]
        if bad:
            raise Refusal(f"{stem}: {bad[0]} holds a line break")
        path = overlay / "secrets" / f"{stem}.env"
        _write(path, "".join(f"{key}={value}\n" for key, value in values.items()), force=force)
        written.append(path)
    return written


def _prod_inputs(args: argparse.Namespace) -> tuple[str, str, str, tuple[str, str]]:
    missing = [
        flag
        for flag, value in (
            ("--amqp-url", args.amqp_url),
            ("--management-url", args.management_url),
            ("--database-url", args.database_url),
        )
        if not value
    ]
    if missing:
        raise Refusal(f"prod needs {', '.join(missing)} (the external broker, its management API, the database)")
    keys = (os.environ.get("HPO_S3_ACCESS_KEY", ""), os.environ.get("HPO_S3_SECRET_KEY", ""))
    if not all(keys):
        raise Refusal("prod needs HPO_S3_ACCESS_KEY and HPO_S3_SECRET_KEY in the environment (the S3 server's keys)")
    return args.amqp_url, args.management_url, args.database_url, keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=["compose", "k8s"])
    parser.add_argument("overlay", nargs="?", choices=["dev", "prod"], help="k8s: which overlay (gpu uses dev's)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to write into (default: this one)")
    parser.add_argument("--force", action="store_true", help="replace existing files")
    parser.add_argument("--amqp-url", help="prod: amqp[s]://HOST:PORT/VHOST of the broker (no user)")
    parser.add_argument("--management-url", help="prod: http[s]://HOST:PORT of its management API (for KEDA)")
    parser.add_argument("--database-url", help="prod: postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB")
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    try:
        if args.target == "compose":
            _write(root / ".env", compose_env((root / ".env.example").read_text()), force=args.force)
            print(f"wrote {root / '.env'}")
            return 0
        if args.overlay is None:
            raise Refusal("k8s needs an overlay: dev or prod")
        overlay = root / "k8s" / "overlays" / args.overlay
        if args.overlay == "dev":
            files = k8s_secrets(
                "amqp://rabbitmq:5672/hpo",
                "http://rabbitmq:15672",
                f"postgresql+psycopg://hpo:{random_secret()}@postgres:5432/hpo",
                (random_secret(), random_secret()),
            )
        else:
            files = k8s_secrets(*_prod_inputs(args))
            vhost = urlsplit(args.amqp_url).path.lstrip("/") or "/"
            _write(overlay / "secrets" / "definitions.json", broker_definitions(files, vhost), force=args.force)
        for path in write_k8s(overlay, files, force=args.force):
            print(f"wrote {path}")
        return 0
    except Refusal as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
