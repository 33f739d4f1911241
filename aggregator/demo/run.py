"""``python run.py demo``: one full cycle over the bundled sample network, no internet needed.

The sample feeds (our own writing, modelled on the UCLG blog captures: missing titles, missing
tags and dates, bylines in the text, three languages, one story cross-posted by three members,
one member whose configured URL is an HTML page) are served by a loopback server.  The demo
writes a ``feeds.yaml`` into the output folder that allows exactly that loopback port, then runs
fetch, publish and a digest preview through the same code as production.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

from aggregator import config
from aggregator.clock import Clock, utc_now
from aggregator.cycle import open_configured_store, run_cycle
from aggregator.demo.server import LoopbackFeedServer
from aggregator.models import CycleReport
from aggregator.newsletter.digest import PreviewFiles, preview
from aggregator.present.imagefetch import fetch_images
from aggregator.publish.publisher import PublishReport, publish_all

FEEDS_DIR = Path(str(resources.files("aggregator.demo") / "feeds"))


@dataclass(frozen=True)
class DemoResult:
    config_path: Path
    report: CycleReport
    published: PublishReport
    digest: PreviewFiles | None
    posts: int
    output_dir: Path


def write_demo_config(out: Path, port: int) -> Path:
    template = (Path(str(resources.files("aggregator.demo"))) / "config.yaml.tmpl").read_text(
        encoding="utf-8"
    )
    path = out / "feeds.yaml"
    path.write_text(template.format(port=port), encoding="utf-8")
    return path


def run_demo(out: Path, *, clock: Clock = utc_now) -> DemoResult:
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with LoopbackFeedServer(FEEDS_DIR, "/demo/feeds/") as server:
        config_path = write_demo_config(out, server.port)
        settings = config.load(config_path)
        store = open_configured_store(settings)
        try:
            report = run_cycle(settings, store, clock=clock)
            now: datetime = clock()
            fetch_images(store, settings, now)  # the sample's photo, served on loopback too
            published = publish_all(store, settings, now)
            files = preview(store, settings, settings.digest.editions[0].name, now)
            posts = store.count_posts()
        finally:
            store.close()
    return DemoResult(config_path, report, published, files, posts, settings.output_dir)
