"""WebSub: tell a hub which of our feeds a publish changed, so subscribers learn at once.

Enters: the ``PublishReport`` of a publish and the settings (``site.hub``).  Leaves: feed URL ->
"ok" or a short error.  A hub that is down, slow or refused never fails a publish or a cycle.
The POST goes through the same guarded connector as every fetch (``ingest.fetch``): a hub whose
name resolves to a private or loopback address is refused unless the operator allowed it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from aiohttp import ClientError, ClientSession, ClientTimeout

from aggregator.config import Settings
from aggregator.errors import RefusedURLError
from aggregator.ingest.fetch import guarded_connector
from aggregator.ingest.netguard import check_url
from aggregator.publish.publisher import PublishReport

log = logging.getLogger("aggregator.publish")


ANNOUNCE_TIMEOUT_S = 30.0  # for all pings together: a hub that hangs must not stall the cycle


def announce(
    report: PublishReport, settings: Settings, *, timeout_s: float = ANNOUNCE_TIMEOUT_S
) -> dict[str, str]:
    """Tell the configured WebSub hub which feeds this publish changed.

    Returns feed URL -> "ok" or a short error, ``{}`` without a hub or without changes.  A
    hub that is down, slow or refused is logged and never fails the cycle: subscribers then
    learn of the posts at their next poll, as without a hub.  The hub URL goes through the
    same address checks as member feeds (``fetch.allow_private`` holds the operator's
    exceptions).
    """
    hub = settings.site.hub
    if not hub or not report.changed_feeds:
        return {}
    feeds = report.changed_feeds

    async def ping() -> dict[str, str]:
        # one feed at a time against one deadline: cancelling ping_hub from outside is not
        # reliable (aiohttp turns the cancellation into a per-request timeout and goes on)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        results: dict[str, str] = {}
        for url in feeds:
            left = deadline - loop.time()
            if left <= 0:
                results[url] = "error: timeout"
                continue
            allow = settings.fetch.allow_private
            results.update(await ping_hub(hub, [url], allow=allow, timeout_s=left))
        return results

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        results = asyncio.run(ping())
    else:  # called from async code: a loop may not be nested, so use a thread of our own
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="websub") as pool:
            results = pool.submit(asyncio.run, ping()).result()
    failed = {url: outcome for url, outcome in results.items() if outcome != "ok"}
    if failed:  # one line, not one per feed: a hub that is down fails them all
        first = next(iter(failed.items()))
        log.warning(
            "WebSub hub %s: %d of %d pings failed (%s: %s)", hub, len(failed), len(results), *first
        )
    return results


async def ping_hub(
    hub: str,
    urls: Iterable[str],
    *,
    allow: Sequence[str] = (),
    timeout_s: float = 10.0,
) -> dict[str, str]:
    """Tell a WebSub hub which feeds changed (one ``hub.mode=publish`` POST per feed).

    Returns feed URL -> "ok" or a short error; a hub that is down never fails the publish.
    The hub URL goes through the same address checks as member feeds (``allow``: the
    operator's ``host:port`` exceptions), by its spelling and by the addresses it resolves to
    and connects to: the guarded connector every fetch uses.
    """
    targets = list(dict.fromkeys(urls))
    if not targets:
        return {}
    try:
        checked = check_url(hub, allow)
    except RefusedURLError as exc:
        return dict.fromkeys(targets, f"refused: {exc}")
    results: dict[str, str] = {}
    session = ClientSession(
        connector=guarded_connector(allow),
        timeout=ClientTimeout(total=timeout_s),
        trust_env=False,
    )
    async with session:
        for url in targets:
            data = {"hub.mode": "publish", "hub.url": url}
            try:
                async with session.post(checked, data=data, allow_redirects=False) as resp:
                    ok = 200 <= resp.status < 300
                    results[url] = "ok" if ok else f"http_{resp.status}"
            except (ClientError, TimeoutError) as exc:
                results[url] = f"error: {exc.__class__.__name__}"
    return results
