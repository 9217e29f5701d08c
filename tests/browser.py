"""Headless Chromium for the page's tests: Debian's, driven by Playwright, with every request
but the page's own file blocked and recorded."""

import shutil
import warnings

import pytest


def find_browser():
    """Debian's Chromium and Python's Playwright, or a loud skip saying what is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if chromium is None or sync_playwright is None:
        missing = "Chromium (apt-get install chromium)" if chromium is None else "playwright"
        message = f"BROWSER TESTS SKIPPED: no {missing} on this machine"
        warnings.warn(message, stacklevel=2)
        pytest.skip(message)
    return chromium, sync_playwright


class Page:
    """A page opened from disk with every request but the file itself blocked and recorded,
    console errors, page errors and dialogs (alert) recorded."""

    def __init__(self, browser, path, width=1300, height=900):
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.errors, self.requests, self.dialogs = [], [], []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        url = path.as_uri()

        def route(r):
            if r.request.url == url:
                r.continue_()
            else:
                self.requests.append(r.request.url)
                r.abort()

        self.page.route("**/*", route)
        self.page.goto(url)

    def clean(self):
        assert self.errors == [] and self.requests == [] and self.dialogs == []
