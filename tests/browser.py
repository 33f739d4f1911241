"""What every browser test shares: Debian's chromium driven through Selenium, an aiohttp
application served from a thread, and screenshots for a person to look at.

Browser: Debian's /usr/bin/chromium driven by Debian's /usr/bin/chromedriver (never a
downloaded driver), headless, with a throwaway profile and background traffic off.  Without
them a browser test is skipped, except when AGGREGATOR_REQUIRE_BROWSER=1 (CI): then a missing
browser is a failure, so a broken CI image cannot pass silently.

Screenshots go to ``AGGREGATOR_SCREENSHOTS`` (else the test's temporary directory): pages at
1280 and 375 px (a desktop and a phone), mail at 600 px (what mail programs give a message).
Selenium is imported when a browser starts, never when the tests are collected.

The fixtures ``browser`` (English) and ``french_browser`` are in tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PAGE_WIDTHS = (1280, 375)  # a desktop, a phone
MAIL_WIDTH = 600
TALLEST = 8000  # a full-page screenshot stops there
# headless, and no traffic of chromium's own (updates, sync, metrics): only the test's pages
QUIET = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def require_browser() -> Any:
    """The selenium ``webdriver`` module, or skip (fail when AGGREGATOR_REQUIRE_BROWSER=1)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        from selenium import webdriver
    except ImportError:
        missing.append("the selenium package")
        webdriver = None
    if missing:
        reason = f"browser test needs {', '.join(missing)}"
        if os.environ.get("AGGREGATOR_REQUIRE_BROWSER") == "1":
            pytest.fail(f"AGGREGATOR_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return webdriver


def chromium(profile: Path, accept_language: str) -> Any:
    """Headless chromium whose requests carry ``accept_language``; its profile in ``profile``."""
    webdriver = require_browser()
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    options.add_experimental_option("prefs", {"intl.accept_languages": accept_language})
    for flag in (
        *QUIET,
        "--window-size=1000,1300",
        f"--user-data-dir={profile / 'chromium-profile'}",
        f"--lang={accept_language.split(',')[0]}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    return driver


@contextmanager
def running_chromium(
    profile: Path, accept_language: str, monkeypatch: pytest.MonkeyPatch | None = None
) -> Iterator[Any]:
    """``chromium``, quit on the way out, whatever the test did."""
    if monkeypatch is not None:
        monkeypatch.setenv("SE_AVOID_STATS", "true")  # belt and braces: no Selenium Manager
    driver = chromium(profile, accept_language)
    try:
        yield driver
    finally:
        driver.quit()


def dump_dom(url: str, profile: Path, *flags: str, timeout: float = 90) -> tuple[str, str]:
    """The page at ``url`` as headless chromium leaves it after its scripts ran
    (``--dump-dom``, no Selenium), and chromium's stderr for a failure message."""
    done = subprocess.run(
        [str(CHROMIUM), *QUIET, f"--user-data-dir={profile}", *flags, "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.stdout, done.stderr[-2000:]


class Served:
    """An aiohttp application on 127.0.0.1, in a thread with its own loop: on an ephemeral
    port, or on ``port`` when the site must know its address before it starts (base_url)."""

    def __init__(self, app: web.Application, port: int = 0) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner = web.AppRunner(app, access_log=None)
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        self.port = self.runner.addresses[0][1]

    def start(self) -> Served:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@contextmanager
def serving(app: web.Application, port: int = 0) -> Iterator[Served]:
    """``Served``, stopped on the way out."""
    served = Served(app, port).start()
    try:
        yield served
    finally:
        served.stop()


def screenshots(tmp_path: Path) -> Path:
    """Where a test's screenshots go (created)."""
    shots = Path(os.environ.get("AGGREGATOR_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def viewport(driver: Any, width: int, height: int) -> None:
    """The page's viewport, as a phone or a desktop has it (a window may not grow past the
    screen; the emulated viewport can).  It stays until the next call."""
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def full_page(driver: Any, path: Path, width: int, url: str | None = None) -> Path:
    """The whole page (``url``, else the current one) at ``width``, saved to ``path``.

    The page is laid out at ``width`` first, then the viewport grows to the page's height (up
    to ``TALLEST``), so lazy images are in view and load; the shot waits for them.
    """
    from selenium.webdriver.support.ui import WebDriverWait

    viewport(driver, width, 900)
    if url is not None:
        driver.get(url)
    height = driver.execute_script(
        "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)"
    )
    viewport(driver, width, min(int(height), TALLEST))
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script(
            "return [].every.call(document.images, function (i) { return i.complete; })"
        )
    )
    data = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    path.write_bytes(base64.b64decode(data["data"]))
    return path


def shoot(driver: Any, shots: Path, name: str, widths: Sequence[int] = PAGE_WIDTHS) -> list[Path]:
    """The current page in full at each of ``widths``, as ``{name}-{width}.png``; the
    viewport is given back to the window afterwards."""
    taken = [full_page(driver, shots / f"{name}-{width}.png", width) for width in widths]
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return taken
