"""``/healthz`` and ``/metrics``, for load balancers, container healthchecks and Prometheus.

``/healthz`` answers 200 while the store answers and a cycle finished recently (or, before
the first cycle, while this server has not been up long enough to expect one), else 503; the
body says which, as JSON (``ops.cycles.judge`` decides).  ``/metrics`` is ``web.metrics``.

Both read the store off the event loop (a slow database must not stall the static files) and
neither needs a session: they are the only non-file routes without the member pages' gate.
Neither says anything a visitor could not learn from ``/sources``; an operator who prefers
them private restricts them at the reverse proxy (docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

from aiohttp import web
from aiohttp.typedefs import Handler

from aggregator.errors import one_line
from aggregator.ops.cycles import judge, read_record
from aggregator.web.metrics import CONTENT_TYPE_LATEST, Metrics, render
from aggregator.web.state import MEMBERS_KEY

METRICS_KEY = web.AppKey("metrics", Metrics)
UP_SINCE_KEY = web.AppKey("up_since", datetime)

__all__ = ["METRICS_KEY", "add_health_routes"]


def add_health_routes(app: web.Application, clock: Callable[[], datetime]) -> None:
    """Add the two routes (before the static catch-all); the member state must be set up."""
    members = app[MEMBERS_KEY]
    metrics = Metrics()
    metrics.watch(members.store, lambda: read_record(members.settings.output_dir))
    app[METRICS_KEY] = metrics
    app[UP_SINCE_KEY] = clock()
    app.middlewares.append(_count_requests)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)


@web.middleware
async def _count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer counted by method and status, errors raised as exceptions included."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        request.app[METRICS_KEY].observe(request.method, status, time.perf_counter() - started)


def _store_probe(app: web.Application) -> tuple[str | None, datetime | None]:
    """(why the store failed or None, the newest fetch of any source)."""
    try:
        states = app[MEMBERS_KEY].store().get_states()
    except Exception as exc:
        return one_line(str(exc) or type(exc).__name__), None
    fetched = [s.last_fetch for s in states.values() if s.last_fetch is not None]
    return None, max(fetched, default=None)


async def _healthz(request: web.Request) -> web.Response:
    app = request.app
    members = app[MEMBERS_KEY]
    error, newest_fetch = await asyncio.to_thread(_store_probe, app)
    record = read_record(members.settings.output_dir)
    # a cycle record beats the newest fetch: it is written once the outputs are published
    last_cycle = record.finished if record is not None else newest_fetch
    health = judge(
        now=members.now(),
        store_error=error,
        last_cycle=last_cycle,
        up_since=app[UP_SINCE_KEY],
        interval_minutes=members.settings.site.fetch_interval_minutes,
    )
    return web.json_response(
        health.as_json(), status=health.http_status, headers={"Cache-Control": "no-store"}
    )


async def _metrics(request: web.Request) -> web.Response:
    body = await asyncio.to_thread(render, request.app[METRICS_KEY])
    response = web.Response(body=body, headers={"Cache-Control": "no-store"})
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
