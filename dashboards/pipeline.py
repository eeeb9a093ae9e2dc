"""Pipeline health: events by type, handler time and lag, dead letters, redeliveries, readiness, errors."""

from __future__ import annotations

from typing import Any

from dashboards.panels import Board, Query, variable

UID = "hpo-pipeline-health"
SERVICE = 'service=~"$service"'
HPO_JOBS = 'job=~"scheduler|health|reporter|trainer|api|rabbitmq.*"'


def build() -> dict[str, Any]:
    board = Board(
        UID,
        "hpo: pipeline health",
        "The event pipeline between the services: what flows, how long handlers take, what fails, what is "
        "dead-lettered or redelivered, and whether every service is ready and connected.",
    )
    board.variables(
        variable("service", "Service", "label_values(hpo_service_ready, service)", include_all=True),
    )
    board.row("Events")
    board.timeseries(
        "Events published per second, by type",
        "Events the services put on the bus.",
        [Query(f"sum by (type) (rate(hpo_events_published_total{{{SERVICE}}}[$__rate_interval]))", "{{type}}")],
        "ops",
    )
    board.timeseries(
        "Events handled per second, by type",
        "Events the services' handlers handled successfully.",
        [Query(f"sum by (type) (rate(hpo_events_handled_total{{{SERVICE}}}[$__rate_interval]))", "{{type}}")],
        "ops",
    )
    board.timeseries(
        "Handler failures per minute, by service and type",
        "Handler calls that raised (each is retried, or dead-lettered once its deliveries are used up).",
        [
            Query(
                f"sum by (service, type) (rate(hpo_events_failed_total{{{SERVICE}}}[$__rate_interval])) * 60",
                "{{service}} {{type}}",
            )
        ],
        "short",
    )
    board.timeseries(
        "Stale events per minute",
        "Events of superseded attempts or finished trials, acknowledged without effect.",
        [
            Query(
                f"sum by (service, type) (rate(hpo_stale_events_total{{{SERVICE}}}[$__rate_interval])) * 60",
                "{{service}} {{type}}",
            )
        ],
        "short",
    )
    board.row("Latency")
    board.timeseries(
        "Handler time (50th, 95th, 99th percentile)",
        "How long the services' handlers take, over the last 2 minutes.",
        [Query(f"hpo:event_handler_seconds:quantile{{{SERVICE}}}", "{{service}} q{{quantile}}")],
        "s",
        log_scale=True,
    )
    board.timeseries(
        "Event lag (50th, 95th, 99th percentile)",
        "From an event's time to the start of its handling: queueing and retry delays.",
        [Query(f"hpo:event_lag_seconds:quantile{{{SERVICE}}}", "{{service}} q{{quantile}}")],
        "s",
        log_scale=True,
    )
    board.row("Delivery")
    board.timeseries(
        "Dead letters per minute, by queue and cause",
        "Messages moved to <queue>.dead: malformed, fatal, or gave_up after every delivery failed.",
        [
            Query(
                f"sum by (queue, cause) (rate(hpo_messages_dead_lettered_total{{{SERVICE}}}[$__rate_interval])) * 60",
                "{{queue}} {{cause}}",
            )
        ],
        "short",
    )
    board.timeseries(
        "Redeliveries per minute",
        "Retries that reached a handler again (per service and queue), and messages the broker redelivered "
        "after a consumer went away.",
        [
            Query(
                f"sum by (service, queue) (rate(hpo_event_retries_total{{{SERVICE}}}[$__rate_interval])) * 60",
                "{{service}} {{queue}} retried",
            ),
            Query("sum(rate(rabbitmq_global_messages_redelivered_total[$__rate_interval])) * 60", "broker redelivered"),
        ],
        "short",
    )
    board.row("Services")
    board.timeseries(
        "Ready",
        "1 while a service instance is ready (its /readyz answers 200).",
        [Query(f"max by (service, instance) (hpo_service_ready{{{SERVICE}}})", "{{service}} {{instance}}")],
        "short",
        width=8,
        min_value=0,
        max_value=1,
        stepped=True,
    )
    board.timeseries(
        "Broker connection",
        "1 while a service instance's RabbitMQ connection is open.",
        [Query(f"max by (service, instance) (hpo_broker_connected{{{SERVICE}}})", "{{service}} {{instance}}")],
        "short",
        width=8,
        min_value=0,
        max_value=1,
        stepped=True,
    )
    board.timeseries(
        "Scrapes answered",
        "1 when Prometheus' last scrape of a target succeeded (0: the process is down or unreachable).",
        [Query(f"max by (job, instance) (up{{{HPO_JOBS}}})", "{{job}} {{instance}}")],
        "short",
        width=8,
        min_value=0,
        max_value=1,
        stepped=True,
    )
    board.timeseries(
        "Database errors per minute",
        "Handler failures caused by a database error (the reporter's read models, the scheduler's Optuna storage).",
        [
            Query(
                f"sum by (service) (rate(hpo_database_errors_total{{{SERVICE}}}[$__rate_interval])) * 60",
                "{{service}}",
            )
        ],
        "short",
        width=24,
    )
    return board.to_json()
