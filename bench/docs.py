"""docs/benchmarks.md holds one section per benchmark script; each rewrites only its own."""

from pathlib import Path

DOCS_FILE = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Each section is written by the script it names; rerun that script to refresh it.\n"
)


def write_section(name: str, text: str, path: Path = DOCS_FILE) -> None:
    """Replaces the text between the markers of `name` (appended when absent)."""
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    block = f"{begin}\n{text.strip()}\n{end}\n"
    current = path.read_text() if path.exists() else HEADER
    if begin in current and end in current:
        before, rest = current.split(begin, 1)
        after = rest.split(end, 1)[1].lstrip("\n")
        current = before + block + ("\n" + after if after else "")
    else:
        current = current.rstrip("\n") + "\n\n" + block
    path.write_text(current)
