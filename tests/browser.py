"""A real headless Chromium for the browser-view tests: Debian's `chromium` and
`chromium-driver`, driven by selenium (the `test` extra), and the few steps every test takes
(log in, open a page, wait for what it draws). Tests that use it are skipped, naming the
packages, only where chromium is not installed."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="the browser tests need Debian's chromium and chromium-driver "
    "(apt-get install -y chromium chromium-driver)",
)
WAIT = 60.0
READY = "return document.getElementById('main').dataset.ready === '1'"


@pytest.fixture(name="browser")
def browser_fixture() -> Iterator[Any]:
    """A headless Chromium; import `browser_fixture` into a test module to use `browser`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM or ""
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        opts.add_argument(arg)
    opts.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(service=Service(DRIVER or ""), options=opts)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(what: str, check: Callable[[], Any]) -> Any:
    """Poll `check` until it returns something truthy (generous: a loaded machine)."""
    end = time.monotonic() + WAIT
    last: Exception | None = None
    while time.monotonic() < end:
        try:
            got = check()
            if got:
                return got
        except Exception as e:  # stale elements while the page redraws
            last = e
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} ({last!r})")


def text_of(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return "\n".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, css))


def login(driver: Any, url: str, key: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url + "/")
    box = wait_for("the login form", lambda: driver.find_element(By.ID, "key"))
    box.send_keys(key)
    driver.find_element(By.ID, "login-button").click()
    wait_for("the user's name in the header", lambda: text_of(driver, "#who"))


def open_hash(driver: Any, url: str, fragment: str) -> None:
    driver.execute_script("document.getElementById('main').dataset.ready = ''")
    driver.get(f"{url}/{fragment}")
    wait_for("the page", lambda: driver.execute_script(READY))
