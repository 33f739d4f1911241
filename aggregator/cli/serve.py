"""``serve`` the outputs and the member pages, and the ``demo``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from aggregator.cli.common import (
    config_option,
    console,
    load_settings,
    print_cycle_summary,
    setup_logging,
)
from aggregator.demo.run import run_demo
from aggregator.web.app import run_server


@click.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.pass_context
def serve(ctx: click.Context, config_path: Path, host: str, port: int) -> None:
    """Serve the published outputs over HTTP (ETag, 304, gzip, CSP), /healthz and /metrics."""
    setup_logging(bool(ctx.obj.get("verbose")) if isinstance(ctx.obj, dict) else False)
    settings = load_settings(config_path)
    console.print(f"Serving {settings.output_dir} on http://{host}:{port}/")
    run_server(settings, host, port)


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Where the demo writes its feeds.yaml, database and outputs.",
)
def demo(out: Path) -> None:
    """One full cycle over bundled sample feeds served on 127.0.0.1 (no internet needed)."""
    result = run_demo(out)
    print_cycle_summary(result.report)
    console.print(
        "  (The demo's VVSG source points at a web page on purpose: a broken member feed is"
        " reported, with the feed the page advertises, and the run goes on.)"
    )
    out_dir = result.output_dir
    console.print(
        f"\n[bold]Demo done[/]: {result.posts} posts in the store ({result.config_path.parent})"
    )
    console.print(f"  Combined Atom feed: {out_dir / 'feed.atom'}")
    console.print(f"  HTML page:          {out_dir / 'index.html'}")
    if result.digest is not None:
        console.print(f"  Digest (HTML):      {result.digest.html_path}")
        console.print(f"  Digest (text):      {result.digest.text_path}")
        console.print(f"  Digest (.eml):      {result.digest.eml_path}")
    console.print(f"  Config used:        {result.config_path}")
    serve_command = f"{_python()} run.py serve --config {result.config_path}"
    console.print(f"\nNext: [bold]{serve_command}[/], then visit:")
    base = "http://127.0.0.1:8080/"
    for path, what in DEMO_PAGES:
        console.print(f"  {base}{path:<14} {what}")


# What `serve` shows once the demo has run (the default host and port).
DEMO_PAGES = (
    ("", "the combined page, every language"),
    ("en/", "the page in English (also fr/ and es/)"),
    ("feed.atom", "the combined Atom feed (also feed.rss, feed.json, sources.opml)"),
    ("submit", "where a member organisation proposes its feed"),
    ("sources", "every member feed's health"),
    ("subscribe", "sign up for the email digest (double opt-in)"),
    ("search?q=city", "search every post, in its own language"),
    ("console/login", "the staff console (first: run.py users add EMAIL --role admin)"),
    ("healthz", "health for a monitor (also /metrics for Prometheus)"),
)


def _python() -> str:
    """The interpreter that ran the demo, as a newcomer would type it (``.venv/bin/python``)."""
    executable = Path(sys.executable)
    try:
        return str(executable.relative_to(Path.cwd()))
    except ValueError:
        return "python"
