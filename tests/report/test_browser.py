"""The `genlab compare` page in a real browser (headless Chromium through selenium): every picture
decodes, the metrics table has a row per run, strings from run folders stay text; a screenshot is
taken (kept in $GENLAB_SCREENSHOT_DIR when set).

Skips with a reason where selenium, Chromium or chromedriver is absent (`make test` on a fresh
machine); `.ci/run` installs them (Debian's `chromium chromium-driver`, and `pip install .[report]`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from genlab.report import compare_runs
from tests.report.runs import make_run, samples_section

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed "
                                "(pip install '.[report]'; .ci/run does)")
from selenium.common.exceptions import SessionNotCreatedException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# Root in a container needs --no-sandbox; the network flags keep Chromium from calling home (the
# test machine may have no network at all).
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,2000")


@pytest.fixture
def browser(tmp_path):
    binary = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        pytest.skip("no Chromium and chromedriver on PATH (apt-get install chromium chromium-driver; "
                    ".ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    try:  # an explicit driver path: selenium-manager never downloads one
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    except SessionNotCreatedException as err:  # e.g. a chromedriver of another Chromium version
        pytest.skip(f"{binary} and {driver_path} cannot start a session: {str(err).splitlines()[0]}")
    try:
        yield driver
    finally:
        driver.quit()


def test_report_page_in_headless_chromium(browser, tmp_path):
    runs = [make_run(tmp_path, "vae", {"samples": samples_section(10.0, 0.2),
                                       "likelihood": {"n_test": 50, "elbo_nats": -60.0}}),
            make_run(tmp_path, "gan", {"samples": samples_section(20.0, 0.7)}, model="gan", seed=1,
                     grid_size=400),
            make_run(tmp_path, "<b>flow</b>", model="realnvp", seed=2)]  # no eval.json
    report = compare_runs(runs, out=tmp_path / "report.html")
    browser.get(report.path.resolve().as_uri())

    images = browser.find_elements(By.TAG_NAME, "img")
    n_curves = 2  # loss and kl (lr/ and steps_per_s are not plotted)
    assert len(images) == len(runs) * (1 + n_curves)
    widths = [browser.execute_script("return arguments[0].complete ? arguments[0].naturalWidth : 0", img)
              for img in images]
    assert all(w > 0 for w in widths), f"pictures that did not decode: {widths}"
    assert all(img.get_attribute("src").startswith("data:") for img in images)

    rows = browser.find_elements(By.CSS_SELECTOR, "#metrics tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, "td.run").text for r in rows] == [str(r) for r in runs]
    best = [[c.text for c in r.find_elements(By.CSS_SELECTOR, "td.best")] for r in rows]
    assert best == [["10 ★", "20 ★"], ["0.7 ★"], []]  # vae: lower FD and KID; gan: higher precision
    # the folder name is text, not markup
    headings = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "section.run h3")]
    assert headings[2] == str(runs[2]) and not browser.find_elements(By.CSS_SELECTOR, "section.run h3 b")
    assert "no eval.json" in browser.find_element(By.ID, "run-2").text

    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("GENLAB_SCREENSHOT_DIR"):
        keep = Path(os.environ["GENLAB_SCREENSHOT_DIR"])
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, keep / "genlab-compare.png")
