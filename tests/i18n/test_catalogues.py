"""The French and Polish catalogues are complete and compiled (docs/rules.md rule 37).

English is the source language: every word is written in English in the code and
templates, and the catalogues give it in French and Polish. A word added without
`make translations`, an empty or fuzzy entry, a translation that drops a placeholder
or a .mo file older than its .po each fail here.
"""
import io
import os
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "portal" / "translations"
LANGUAGES = ("fr", "pl")
METHODS = [("portal/**.py", "python"), ("portal/templates/**.html", "jinja2"), ("portal/templates/**.txt", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None,
            "lazy_ngettext": (1, 2)}


def _key(message_id):
    return message_id[0] if isinstance(message_id, (tuple, list)) else message_id


@pytest.fixture(scope="module")
def source_messages():
    found = set()
    # Babel skips folders starting with "_" by default: templates/_macros holds words too.
    visible = lambda path: not os.path.basename(path).startswith(".")  # noqa: E731
    for _file, _line, message, _comments, _context in extract_from_dir(str(ROOT), METHODS, keywords=KEYWORDS,
                                                                         directory_filter=visible):
        found.add(_key(message))
    return found


def _catalogue(language):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=language)


def test_the_source_has_words_to_translate(source_messages):
    assert len(source_messages) > 300


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_word_of_the_source_is_in_the_catalogue(language, source_messages):
    catalogue = _catalogue(language)
    missing = sorted(source_messages - {_key(m.id) for m in catalogue if m.id})
    assert not missing, f"{len(missing)} words not in {language} (run `make translations`): {missing[:10]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_entry_is_empty_or_fuzzy(language):
    catalogue = _catalogue(language)
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    empty = [m.id for m in catalogue if m.id and (not m.string or (isinstance(m.string, tuple)
                                                                     and not all(m.string)))]
    assert not fuzzy, f"fuzzy in {language}: {fuzzy[:10]}"
    assert not empty, f"untranslated in {language}: {empty[:10]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_every_placeholder(language):
    catalogue = _catalogue(language)
    problems = [(message.id, [str(e) for e in errors]) for message, errors in catalogue.check() if errors]
    assert not problems, f"{language}: {problems[:5]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_plurals_have_every_form_of_the_language(language):
    catalogue = _catalogue(language)
    assert catalogue.num_plurals == 3  # pl: 1 / 2-4 / 5+; fr (CLDR): 0-1 / millions / other
    for message in catalogue:
        if message.pluralizable and message.id:
            assert len(message.string) == catalogue.num_plurals and all(message.string), message.id


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_matches_its_source(language):
    buffer = io.BytesIO()
    write_mo(buffer, _catalogue(language))
    compiled = (TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo").read_bytes()
    assert compiled == buffer.getvalue(), f"{language}: run `make translations` (the .mo is stale)"
