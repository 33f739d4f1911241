"""The staff console in a real browser (Debian's chromium, headless, through Selenium).

What staff do, click by click: sign in and get locked out; approve a submission (the member's
mail arrives in an aiosmtpd sink); hide a post (gone from feed.atom and the page after the next
publish); curate an edition (leave one out, feature one, move one, write a note) and send it
(the mail matches the draft); and every page at 1280 and 375 px, each checked with axe-core
(the accessibility engine, injected by the test only: no product page loads a script) and for
sideways scrolling on a phone.  Screenshots go to ``AGGREGATOR_SCREENSHOTS`` or the test's
temporary directory.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aggregator.publish.publisher import publish_all
from aggregator.store.submissions import NewSubmission
from tests.browser import MAIL_WIDTH, PAGE_WIDTHS, full_page, screenshots, serving
from tests.consoleapp import (
    PASSWORD,
    ROLES,
    T0,
    Console,
    html_of,
    seeded_console,
    text_of,
)
from tests.test_mail import SmtpServer

pytestmark = pytest.mark.browser


def axe_script() -> str:
    """axe-core's axe.min.js, as the axe-selenium-python test package ships it."""
    spec = importlib.util.find_spec("axe_selenium_python")
    if spec is None or spec.origin is None:
        if os.environ.get("AGGREGATOR_REQUIRE_BROWSER") == "1":
            pytest.fail("AGGREGATOR_REQUIRE_BROWSER=1 but axe-selenium-python is missing")
        pytest.skip("the accessibility check needs axe-selenium-python")
    path = Path(spec.origin).parent / "node_modules" / "axe-core" / "axe.min.js"
    return path.read_text(encoding="utf-8")


@pytest.fixture
def console(tmp_path: Path, smtp: SmtpServer) -> Iterator[Console]:
    with seeded_console(tmp_path, smtp) as made:
        yield made


@pytest.fixture
def served(console: Console) -> Iterator[str]:
    with serving(console.app()) as server:
        yield server.url


class Look:
    """Screenshots at a given width, axe-core's verdict, and sideways scrolling."""

    def __init__(self, driver: Any, shots: Path) -> None:
        self.driver = driver
        self.shots = shots
        self.axe = axe_script()

    def shoot(self, name: str, width: int) -> Path:
        """A full-page screenshot at ``width`` (after the page reflowed to it)."""
        return full_page(self.driver, self.shots / f"{name}-{width}.png", width)

    def sideways(self) -> int:
        """How many pixels the page is wider than the window (0: nothing to scroll to)."""
        over: int = self.driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        return over

    def violations(self) -> list[tuple[str, str, list[Any]]]:
        """axe-core's violations on the page as it stands (WCAG 2.1 A and AA rules and best
        practices), each with the first elements it found."""
        self.driver.execute_script(self.axe)
        found = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(r => done(r.violations))"
            ".catch(e => done([{id: 'axe-error', help: String(e), nodes: []}]));"
        )
        return [
            (v["id"], v["help"], [(n["target"], n.get("failureSummary")) for n in v["nodes"]][:3])
            for v in found
        ]

    def page(self, name: str) -> None:
        """Both widths: screenshots, no axe violation, nothing to scroll sideways on a phone."""
        for width in PAGE_WIDTHS:
            self.shoot(name, width)
            assert self.violations() == [], (name, width)
            assert self.sideways() <= 0, (name, width)


def press(driver: Any, button: Any) -> None:
    """Click a form's button and wait until the answer page replaced this one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    button.click()
    WebDriverWait(driver, 20).until(_replaced(old))


def _replaced(old: Any) -> Any:
    """``staleness_of`` that also reads chromedriver's other answer for a node of a page just
    replaced ("does not belong to the document"), which a loaded machine sometimes gives."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    def check(_driver: Any) -> bool:
        try:
            old.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    return check


def sign_in(driver: Any, base: str, role: str, password: str = PASSWORD) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/console/login")
    driver.find_element(By.ID, "email").clear()
    driver.find_element(By.ID, "email").send_keys(ROLES[role])
    driver.find_element(By.ID, "password").send_keys(password)
    press(driver, driver.find_element(By.CSS_SELECTOR, "main button[type=submit]"))


def h1(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    text: str = driver.find_element(By.TAG_NAME, "h1").text
    return text


def test_sign_in_and_lockout(browser: Any, console: Console, served: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    look = Look(browser, screenshots(tmp_path))
    browser.get(f"{served}/console/editions")
    assert h1(browser) == "Sign in"  # asked to sign in first, and brought back afterwards
    look.page("console-login")
    for _ in range(4):
        sign_in(browser, served, "editor", "not the password")
    error = browser.find_element(By.CSS_SELECTOR, "p[role=alert]").text
    assert error == "Too many wrong passwords for this account: try again in 15 seconds."
    look.shoot("console-login-locked", 375)
    sign_in(browser, served, "editor")  # the right password waits too
    assert "try again in" in browser.find_element(By.CSS_SELECTOR, "p[role=alert]").text
    console.clock.advance(seconds=16)
    browser.get(f"{served}/console/login?next=/console/editions")
    browser.find_element(By.ID, "email").send_keys(ROLES["editor"])
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    press(browser, browser.find_element(By.CSS_SELECTOR, "main button[type=submit]"))
    assert h1(browser) == "Editions"
    assert browser.current_url.endswith("/console/editions")


def test_approving_a_submission_mails_the_member_in_their_language(
    browser: Any, console: Console, served: str, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    preview = json.dumps({"title": "Hillcrest News", "format": "rss20", "entry_count": 4})
    new = NewSubmission(
        "https://hill.example/",
        "https://hill.example/feed.xml",
        "Hillcrest",
        "web@hill.example",
        "fr",
        preview,
        form_language="fr",
    )
    ident = console.open_store().add_submission(new, T0)
    look = Look(browser, screenshots(tmp_path))
    sign_in(browser, served, "moderator")
    press(browser, browser.find_element(By.LINK_TEXT, "Moderation"))
    look.page("console-moderation")
    section = browser.find_element(By.ID, f"submission-{ident}")
    press(browser, section.find_element(By.XPATH, ".//button[text()='Approve']"))
    done = browser.find_element(By.ID, "done").text
    assert done == (
        f"Submission {ident} approved as source hillcrest. The member was told by e-mail."
    )
    [mail] = console.mails_to("web@hill.example")
    assert mail["Subject"] == "Votre flux a été accepté : Console test network"
    assert "Il a été accepté." in text_of(mail)


def test_hiding_a_post_removes_it_from_the_feed_and_the_page(
    browser: Any, console: Console, served: str, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    store, settings = console.open_store(), console.settings
    publish_all(store, settings, console.clock())
    feed, index = settings.output_dir / "feed.atom", settings.output_dir / "index.html"
    assert "UCLG story 2" in feed.read_text(encoding="utf-8")
    look = Look(browser, screenshots(tmp_path))
    sign_in(browser, served, "moderator")
    press(browser, browser.find_element(By.LINK_TEXT, "Posts"))
    browser.find_element(By.ID, "q").send_keys("UCLG story 2")
    press(browser, browser.find_element(By.XPATH, "//button[text()='Search']"))
    [card] = browser.find_elements(By.CSS_SELECTOR, "ol.posts > li")
    card.find_element(By.CSS_SELECTOR, "input[name=reason]").send_keys("Published by mistake")
    press(browser, card.find_element(By.XPATH, ".//button[text()='Hide']"))
    assert browser.find_element(By.ID, "done").text.startswith("The post is hidden.")
    look.page("console-posts")
    publish_all(store, settings, console.clock())
    assert "UCLG story 2" not in feed.read_text(encoding="utf-8")
    assert "UCLG story 2" not in index.read_text(encoding="utf-8")
    assert "UCLG story 1" in feed.read_text(encoding="utf-8")


def test_curating_and_sending_an_edition(
    browser: Any, console: Console, served: str, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    shots = screenshots(tmp_path)
    look = Look(browser, shots)
    sign_in(browser, served, "editor")
    press(browser, browser.find_element(By.LINK_TEXT, "Editions"))
    press(browser, browser.find_element(By.LINK_TEXT, "weekly"))

    def click(item: str, label: str) -> None:
        row = browser.find_element(By.ID, f"item-{item}")
        press(browser, row.find_element(By.XPATH, f".//button[contains(., '{label}')]"))
        assert browser.find_element(By.ID, "done").text.startswith("Saved.")

    click("uclg-002", "Leave out")
    click("uclg-003", "Feature")
    click("cemr-001", "Down")  # cemr-002 now comes first in its section
    note = browser.find_element(By.ID, "note")
    note.send_keys("Welcome to the December issue.")
    press(browser, browser.find_element(By.XPATH, "//button[text()='Save the note']"))
    order = [e.get_attribute("id") for e in browser.find_elements(By.CSS_SELECTOR, "#items > li")]
    assert order == ["item-uclg-003", "item-cemr-002", "item-cemr-001", "item-uclg-001"]
    look.page("console-edition")
    press(browser, browser.find_element(By.ID, "send-now"))
    assert browser.find_element(By.ID, "done").text == "Sent: 2 delivered, 0 refused."
    [mail] = console.mails_to("reader1@example.org")
    text = text_of(mail)
    titles = ["UCLG story 3", "CEMR story 2", "CEMR story 1", "UCLG story 1"]
    assert sorted(titles, key=text.index) == titles  # the draft's order
    assert "UCLG story 2" not in text and "Welcome to the December issue." in text
    # the next issue starts with no note; the last one's recipients are listed
    assert browser.find_element(By.ID, "note").get_attribute("value") == ""
    rows = browser.find_elements(By.CSS_SELECTOR, "table[aria-labelledby=sent-heading] tbody tr")
    assert [r.text.split()[:2] for r in rows] == [
        ["reader1@example.org", "sent"],
        ["reader2@example.org", "sent"],
    ]
    look.shoot("console-edition-sent", 1280)
    html = shots / "digest-sent.html"
    html.write_text(html_of(mail), encoding="utf-8")
    browser.get(html.as_uri())
    look.shoot("digest-sent-mail", MAIL_WIDTH)


def test_every_console_page_at_1280_and_375_px(
    browser: Any, console: Console, served: str, tmp_path: Path
) -> None:
    """Screenshots of each page for a reviewer, each page checked by axe-core at both widths."""
    from selenium.webdriver.common.by import By

    preview = json.dumps({"title": "Riverside News", "format": "atom10", "entry_count": 12})
    console.open_store().add_submission(
        NewSubmission(
            "https://river.example/",
            "https://river.example/feed",
            "City of Riverside",
            "web@river.example",
            "en",
            preview,
            form_language="en",
        ),
        T0,
    )
    from aggregator.subscribers import staff

    for n, lang in ((1, "en"), (2, "fr"), (3, "es")):
        staff.add(
            console.open_store(),
            console.settings,
            f"reader{n}@list.example",
            T0,
            language=lang,
            note="signed up at the general assembly",
        )
    look = Look(browser, screenshots(tmp_path))
    browser.get(f"{served}/console/reset")
    look.page("console-reset")
    sign_in(browser, served, "admin")
    for name, path in (
        ("dashboard", "/console"),
        ("sources", "/console/sources"),
        ("posts", "/console/posts"),
        ("editions", "/console/editions"),
        ("edition", "/console/editions/weekly"),
        ("moderation", "/console/moderation"),
        ("subscribers", "/console/subscribers"),
        ("users", "/console/users"),
        ("account", "/console/account"),
        ("log", "/console/log"),
    ):
        browser.get(served + path)
        look.page(f"console-{name}")
    # the account's language, chosen with the bar's buttons, follows it to every page
    press(browser, browser.find_element(By.CSS_SELECTOR, "button[lang=fr]"))
    browser.get(f"{served}/console/editions/weekly")
    assert h1(browser) == "Édition weekly : le prochain numéro"
    look.page("console-edition-fr")
    press(browser, browser.find_element(By.CSS_SELECTOR, "button[lang=es]"))
    browser.get(f"{served}/console")
    assert h1(browser) == "Panel"
    look.page("console-dashboard-es")
