import pytest

from imagegen.errors import InvalidInput
from imagegen.prompts import APP_STORE, POP_ART, agent_text, clean_text, render_prompt


def test_pop_art_names_the_agent_and_its_short_description():
    text = agent_text("Trend Radar", "Long text.", "Spot rising topics", ["marketing"])
    prompt = render_prompt(POP_ART, text)
    assert '"Trend Radar" in bold typography' in prompt
    assert "depicts a Trend Radar (Spot rising topics)" in prompt


def test_pop_art_without_any_description_uses_just_the_name():
    prompt = render_prompt(POP_ART, agent_text("Ai"))
    assert "depicts an Ai, along" in prompt and "function of an Ai." in prompt


def test_the_article_agrees_with_the_name_in_any_template():
    prompt = render_prompt("A {name} and a {subject}; not a {title}", agent_text("Unspirational Quotes"))
    assert prompt == "An Unspirational Quotes and an Unspirational Quotes; not an Unspirational Quotes"
    assert render_prompt("a {name}", agent_text("User Guide")) == "a User Guide"
    assert render_prompt("a {name}", agent_text("Trend Radar")) == "a Trend Radar"


def test_a_short_title_is_the_name_drawn_by_both_templates():
    text = agent_text("The Extraordinarily Thorough Quarterly Report Generator", "Reports.", "", [], short_title="Quarterly Reports")
    assert '"Quarterly Reports" in bold typography' in render_prompt(POP_ART, text)
    assert "- **Name**: Quarterly Reports\n" in render_prompt(APP_STORE, text)
    assert "depicts a The Extraordinarily Thorough" in render_prompt(POP_ART, text)  # the subject keeps the full name


def test_app_store_prompt_has_name_and_description_lines():
    prompt = render_prompt(APP_STORE, agent_text("SQL Sherpa", "Ask your database questions.", "", []))
    assert "- **Name**: SQL Sherpa\n- **Description**: Ask your database questions." in prompt


def test_markdown_links_urls_and_control_characters_are_removed():
    raw = "## Posters\n\n**Bold** text\x00\x1b[31m with [a link](https://x.example/y) and `code`\n- item one\n- item two\thttps://evil.example/z"
    cleaned = clean_text(raw, 500)
    assert cleaned == "Posters Bold text with a link and code item one item two"


def test_a_real_store_length_description_is_trimmed_at_a_sentence():
    sentence = "This agent does one useful thing for busy people every day. "
    cleaned = clean_text(sentence * 30, 600)  # 1,800 characters
    assert len(cleaned) <= 600
    assert cleaned.endswith("every day.")


def test_a_single_huge_word_is_cut_with_an_ellipsis():
    cleaned = clean_text("x" * 2000, 100)
    assert len(cleaned) == 100 and cleaned.endswith("…")


def test_unknown_template_fields_are_refused_with_the_allowed_list():
    with pytest.raises(InvalidInput, match=r"\{price\}.*\{name\}, \{description\}, \{sub_heading\}, \{categories\}"):
        render_prompt("A {price} tag", agent_text("X"))


@pytest.mark.parametrize("template", ["{name.__class__}", "{name[0]}", "{name!r}", "{name:>10}"])
def test_attribute_index_and_format_tricks_are_refused(template):
    with pytest.raises(InvalidInput):
        render_prompt(template, agent_text("X"))


def test_unbalanced_braces_get_a_hint():
    with pytest.raises(InvalidInput, match="literal braces"):
        render_prompt("A {name", agent_text("X"))


def test_braces_inside_agent_text_are_kept_literally():
    prompt = render_prompt("{name} does {description}", agent_text("Curly {name}", "sets {x}", "", []))
    assert prompt == "Curly {name} does sets {x}"


def test_an_agent_with_a_blank_name_is_refused():
    with pytest.raises(InvalidInput, match="no name"):
        agent_text("  \n\t ")
