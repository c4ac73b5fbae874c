"""Line anchors in the docs: check them, or move them to where the named thing is now.

A line anchor is a Markdown link whose text is a backticked name and whose target is a
repo file with `#L<n>`:

    [`user_signup`](../accounts/services.py#L42)
    [`Job.enqueue`](../jobs/base.py#L120)

It is valid when line n of that file defines the name: `def name`, `async def name`,
`class name`, or an assignment `NAME = ...`; a dotted `Class.method` is the method's
def line inside that class. Edits elsewhere shift lines, so:

    .venv/bin/python docs/anchors.py --check   # exit 1, listing every stale anchor
    .venv/bin/python docs/anchors.py --fix     # rewrite each #L<n> to the current line

`tests/test_docs.py` imports this module, so the test and the fixer read anchors the
same way.
"""

import argparse
import ast
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
ANCHOR = re.compile(r"\[`(?P<name>[A-Za-z_][\w.]*)`\]\((?P<path>[^)\s#]+)#L(?P<line>\d+)\)")


def docs():
    """The files whose anchors are checked: README.md and docs/*.md."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Anchor:
    doc: Path
    doc_line: int  # where the link is in the doc
    name: str
    path: str  # as written, relative to the doc
    line: int  # the #L<n>
    start: int  # offsets of the number in the doc's text
    end: int

    @property
    def file(self):
        return (self.doc.parent / self.path).resolve()

    def __str__(self):
        where = self.doc.relative_to(ROOT)
        return f"{where}:{self.doc_line}: [`{self.name}`]({self.path}#L{self.line})"


def anchors(doc, text=None):
    """Every line anchor in `doc` outside fenced code blocks."""
    text = doc.read_text() if text is None else text
    blanked = FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)
    for match in ANCHOR.finditer(blanked):
        yield Anchor(
            doc=doc,
            doc_line=text.count("\n", 0, match.start()) + 1,
            name=match["name"],
            path=match["path"],
            line=int(match["line"]),
            start=match.start("line"),
            end=match.end("line"),
        )


def _assigned(node):
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def _members(body):
    """name -> line of each def, async def, class and assignment directly in `body`."""
    found = {}
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.setdefault(node.name, node.lineno)
        for name in _assigned(node):
            found.setdefault(name, node.lineno)
    return found


@cache
def definitions(file):
    """name -> line for a module's top level, and Class.member -> line for its classes."""
    tree = ast.parse(Path(file).read_text())
    found = _members(tree.body)
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for member, line in _members(node.body).items():
                found.setdefault(f"{node.name}.{member}", line)
    return found


def defined_at(anchor):
    """The line that defines the anchor's name now, or None (no such file or name)."""
    file = anchor.file
    if not file.is_file() or file.suffix != ".py":
        return None
    return definitions(file).get(anchor.name)


def stale(paths=None):
    """(anchor, current line or None) for every anchor whose line is not its definition."""
    return [
        (anchor, now)
        for doc in paths or docs()
        for anchor in anchors(doc)
        if (now := defined_at(anchor)) != anchor.line
    ]


def fix(doc):
    """Rewrite the doc's anchors to their current lines; returns those it could not place."""
    text = doc.read_text()
    missing = []
    pieces, last = [], 0
    for anchor in anchors(doc, text):
        now = defined_at(anchor)
        if now is None:
            missing.append(anchor)
            continue
        pieces += [text[last : anchor.start], str(now)]
        last = anchor.end
    pieces.append(text[last:])
    new = "".join(pieces)
    if new != text:
        doc.write_text(new)
    return missing


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="list stale anchors, exit 1 if any")
    mode.add_argument("--fix", action="store_true", help="move anchors to the current lines")
    args = parser.parse_args(argv)
    if args.fix:
        missing = [anchor for doc in docs() for anchor in fix(doc)]
        definitions.cache_clear()
        for anchor in missing:
            print(f"{anchor}: {anchor.path} defines no {anchor.name}; fix it by hand")
        return 1 if missing else 0
    found = stale()
    for anchor, now in found:
        print(f"{anchor}: " + (f"now at line {now}" if now else "not defined there"))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
