"""Every rule, section and API heading the code cites exists in docs/rules.md."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULES = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
CITATION = re.compile(r"docs/rules\.md,? (rules?|section) (\d+[a-z]?)(?:[-–](\d+))?(?:(?:,| and) (\d+[a-z]?))*")


def _cited_files():
    for folder in ("portal", "tests", "bench", "migrations"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".html") and path.is_file():
                yield path


def _anchors(kind: str, first: str, last: str | None) -> list[str]:
    prefix = "rule" if kind.startswith("rule") else "section"
    if last is None:
        return [f"{prefix}-{first}"]
    return [f"{prefix}-{n}" for n in range(int(first), int(last) + 1)]


def test_every_cited_rule_and_section_has_its_anchor():
    missing = []
    cited = 0
    for path in _cited_files():
        for match in CITATION.finditer(path.read_text(encoding="utf-8")):
            cited += 1
            for anchor in _anchors(match.group(1), match.group(2), match.group(3)):
                if f'<a id="{anchor}"></a>' not in RULES:
                    missing.append(f"{path.relative_to(ROOT)}: {match.group(0)} ({anchor})")
    assert cited > 10  # the scan found the citations
    assert missing == []


def test_no_code_cites_documents_outside_the_repository():
    outside = [f"{path.relative_to(ROOT)}:{n}" for path in _cited_files()
               for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
               if re.search(r"\b(DESIGN|API)\.md\b", line)]
    assert outside == []
