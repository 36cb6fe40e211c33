"""Checks on the project's own promises: every provider is tested, every page renders."""


import pytest
from streamlit.testing.v1 import AppTest

from imagegen.prompts import BUILT_IN
from imagegen.providers import PROVIDERS
from imagegen.settings import Settings
from tests.conftest import ROOT

CONTRACT_TESTS = {"local": "test_local_renderer.py", "ideogram": "test_ideogram.py", "replicate": "test_replicate.py"}


def test_every_registered_provider_has_a_contract_test():
    assert {p.name for p in PROVIDERS} == set(CONTRACT_TESTS)
    for name, module in CONTRACT_TESTS.items():
        text = (ROOT / "tests" / module).read_text()
        assert "def test_" in text and (name == "local" or f'provider="{name}"' in text), module


@pytest.mark.parametrize("cls", PROVIDERS, ids=lambda c: c.name)
def test_every_provider_declares_what_the_studio_needs(cls):
    assert cls.name and cls.label
    if cls.needs_key:
        assert cls.key_env_var and cls.key_env_var.lower() in Settings.model_fields
    assert cls.model_choices(Settings())
    for model in cls.model_choices(Settings()):
        assert cls.recipe_defaults(model)["template"] in BUILT_IN
        options = cls.options_for(model)
        assert options is None or options.model_config.get("extra") == "forbid"


def test_every_page_renders_without_an_exception(isolated):
    import streamlit as st

    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    pages = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py"))
    assert pages
    for page in pages:
        at.switch_page(page).run()
        assert not at.exception, page
    st.cache_resource.clear()
