"""Run a dashboard's queries the way Grafana does: template variables and interval macros filled in,
sent to Prometheus' HTTP API. ``hpo dashboards snapshot`` and the every-panel test both use this.

Grafana's macros: ``$__interval`` is the time range over the panel's data points (at least the scrape
interval), ``$__rate_interval`` is ``max($__interval + scrape interval, 4 x scrape interval)`` and
``$__range`` the whole time range. Variables are ``$name`` or ``${name}``; "All" is the variable's
``allValue`` (``.*`` here).
"""

from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dashboards.model import Variable

MAX_DATA_POINTS = 1000
DEFAULT_SCRAPE_SECONDS = 15.0
LABEL_VALUES = re.compile(r"^label_values\((?:(?P<match>.+),\s*)?(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)\)$", re.S)
QUERY_RESULT = re.compile(r"^query_result\((?P<expr>.+)\)$", re.S)


class PrometheusError(Exception):
    """Prometheus could not be reached, or refused a query; the message says which and why."""


@dataclass(frozen=True)
class Intervals:
    interval_seconds: float
    rate_interval_seconds: float
    range_seconds: float

    @classmethod
    def for_range(
        cls, range_seconds: float, scrape_seconds: float = DEFAULT_SCRAPE_SECONDS, max_points: int = MAX_DATA_POINTS
    ) -> Intervals:
        interval = max(math.ceil(range_seconds / max_points), scrape_seconds)
        rate_interval = max(interval + scrape_seconds, 4 * scrape_seconds)
        return cls(interval, rate_interval, range_seconds)


def duration(seconds: float) -> str:
    """A PromQL duration: whole seconds, or milliseconds below a second."""
    return f"{round(seconds * 1000)}ms" if seconds < 1 else f"{math.ceil(seconds)}s"


def expand(expr: str, values: Mapping[str, str], intervals: Intervals) -> str:
    """``expr`` with Grafana's macros and the variables in ``values`` substituted."""
    macros = {
        "__rate_interval": duration(intervals.rate_interval_seconds),
        "__interval_ms": str(round(intervals.interval_seconds * 1000)),
        "__interval": duration(intervals.interval_seconds),
        "__range_s": str(math.ceil(intervals.range_seconds)),
        "__range": duration(intervals.range_seconds),
        **values,
    }

    def substitute(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        return macros.get(name, match.group(0))

    return re.sub(r"\$\{(?P<braced>\w+)\}|\$(?P<plain>\w+)", substitute, expr)


def python_regex(grafana_regex: str) -> re.Pattern[str] | None:
    """A variable's ``/pattern/`` with JavaScript's named groups ``(?<name>`` made Python's ``(?P<name>``."""
    if not grafana_regex:
        return None
    body = grafana_regex[1:-1] if grafana_regex.startswith("/") and grafana_regex.endswith("/") else grafana_regex
    return re.compile(body.replace("(?<", "(?P<"))


class Prometheus:
    """The few calls of Prometheus' HTTP API (``/api/v1/...``) the dashboards need."""

    def __init__(self, url: str, timeout: float = 15.0) -> None:
        self.url = url.rstrip("/")
        self._timeout = timeout

    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        data = self._get("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        return list(data["result"]) if data["resultType"] in ("vector", "matrix") else []

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": duration(step)}
        return list(self._get("/api/v1/query_range", params)["result"])

    def series(self, match: str, start: float, end: float) -> list[dict[str, str]]:
        params = {"match[]": match, "start": f"{start:.3f}", "end": f"{end:.3f}"}
        return list(self._get("/api/v1/series", params))

    def label_values(self, label: str) -> list[str]:
        return list(self._get(f"/api/v1/label/{urllib.parse.quote(label)}/values", {}))

    def scrape_seconds(self) -> float:
        """The global scrape interval of its configuration (15 s when it says none)."""
        config = str(self._get("/api/v1/status/config", {}).get("yaml", ""))
        found = re.search(r"^\s*scrape_interval:\s*(\d+)(ms|s|m)\s*$", config, re.M)
        if found is None:
            return DEFAULT_SCRAPE_SECONDS
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "ms" else value * (60 if unit == "m" else 1)

    def _get(self, path: str, params: Mapping[str, str]) -> Any:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}" if params else f"{self.url}{path}"
        try:
            with urllib.request.urlopen(url, timeout=self._timeout) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = _error_body(exc)
            if body is None:
                raise PrometheusError(f"Prometheus at {self.url} answered {exc.code} {exc.reason} for {path}") from exc
        except urllib.error.URLError as exc:
            raise PrometheusError(f"cannot reach Prometheus at {self.url}: {_reason(exc.reason)}") from exc
        except (OSError, ValueError) as exc:
            raise PrometheusError(f"cannot read from Prometheus at {self.url}: {exc}") from exc
        if body.get("status") != "success":
            raise PrometheusError(f"Prometheus refused the query: {body.get('errorType')}: {body.get('error')}")
        return body["data"]


def variable_options(
    prometheus: Prometheus, variable: Variable, values: Mapping[str, str], start: float, end: float
) -> list[tuple[str, str]]:
    """The (text, value) options Grafana offers for ``variable`` over [start, end], earlier variables in ``values``."""
    intervals = Intervals.for_range(end - start)
    query = expand(variable.query, values, intervals).strip()
    texts: list[str]
    if (found := LABEL_VALUES.match(query)) is not None:
        label = found.group("label")
        if found.group("match"):
            texts = sorted({s[label] for s in prometheus.series(found.group("match"), start, end) if label in s})
        else:
            texts = sorted(prometheus.label_values(label))
    elif (found := QUERY_RESULT.match(query)) is not None:
        texts = [query_result_line(item, end) for item in prometheus.query(found.group("expr"), end)]
    else:
        raise ValueError(f"variable {variable.name}: unsupported query {variable.query!r}")
    pattern = python_regex(variable.regex)
    options = []
    for text in texts:
        if pattern is None:
            options.append((text, text))
            continue
        matched = pattern.search(text)
        if matched is None:
            continue
        groups = matched.groupdict()
        value = groups.get("value") or (matched.group(1) if matched.groups() else matched.group(0))
        options.append((groups.get("text") or value, value))
    return options


def query_result_line(item: Mapping[str, Any], at: float) -> str:
    """One result as Grafana's ``query_result`` shows it: ``name{a="1",b="2"} value timestamp_ms``."""
    metric = dict(item["metric"])
    name = metric.pop("__name__", "")
    labels = ",".join(f'{key}="{value}"' for key, value in metric.items())
    return f"{name}{{{labels}}} {item['value'][1]} {round(at * 1000)}"


def _error_body(exc: urllib.error.HTTPError) -> dict[str, Any] | None:
    try:
        body = json.loads(exc.read())
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) and "status" in body else None


def _reason(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "timed out"
    return str(reason)
