"""Pages generated at build time (mkdocs-gen-files): the configuration and CLI references from the
code, a results page per provenance record, and a page per example script.

Nothing generated is committed, so the site cannot drift from the code it documents.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mkdocs_gen_files

from structsearch.commands._reference import (
    cli_reference,
    configuration_reference,
    load_records,
    results_index,
    results_page,
)

ROOT = Path(__file__).resolve().parents[1]


def write(path: str, text: str, source: str | None = None) -> None:
    with mkdocs_gen_files.open(path, "w") as page:
        page.write(text)
    if source:
        mkdocs_gen_files.set_edit_path(path, source)


write("reference/configuration.md", configuration_reference())
write("reference/cli.md", cli_reference())

records = load_records(ROOT / "docs" / "results" / "data")
write("results/index.md", results_index(records))
for name, record in records.items():
    write(f"results/{name}.md", results_page(name, record))

examples = sorted((ROOT / "examples").glob("*.py"))
index = ["# Examples", "", "Short scripts that run as they are (`python examples/NAME.py`); CI runs each of them "
         "on tiny settings (`tests/test_examples.py`).", "", "| example | what it shows |", "|---|---|"]
for script in examples:
    source = script.read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(source)) or script.stem
    title, _, rest = doc.partition("\n")
    index.append(f"| [{title.rstrip('.')}]({script.stem}.md) | `examples/{script.name}` |")
    body = source.split('"""', 2)[2].lstrip("\n") if source.startswith('"""') else source
    write(f"examples/{script.stem}.md",
          f"# {title.rstrip('.')}\n\n{rest.strip()}\n\n```bash\npython examples/{script.name}\n```\n\n"
          f"```python\n{body}```\n", f"examples/{script.name}")
write("examples/index.md", "\n".join(index) + "\n")
