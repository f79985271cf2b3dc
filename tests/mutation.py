"""Mutation testing with mutmut: the score of a run, and runs over the money services.

`make mutation` runs mutmut as pyproject's [tool.mutmut] says (the fare engine, its pure tests)
and then `score`. mutmut reads its settings only from ./pyproject.toml, so `make mutation-money`
runs `scratch`: a fresh copy of src/, tests/ and pyproject.toml in .mutation-money/ whose
[tool.mutmut] names the modules and tests asked for, so the engine's settings and mutants/
stay as they are. Every run starts from nothing: a score never mixes old and new results.

    python -m tests.mutation score [--fail-under PERCENT] [DIRECTORY]
    python -m tests.mutation scratch --mutate src/... [...] --tests tests/... [...]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SCRATCH = PROJECT / ".mutation-money"
MUTMUT = str(Path(sys.executable).with_name("mutmut"))
_MUTMUT_TABLE = re.compile(r"^\[tool\.mutmut\]\n.*?(?=^\[)", re.MULTILINE | re.DOTALL)


def score(directory: Path, fail_under: float | None) -> int:
    """Print killed/total and the survivors of the last run in `directory`."""
    subprocess.run([MUTMUT, "export-cicd-stats"], cwd=directory, check=True, capture_output=True)
    stats = json.loads((directory / "mutants" / "mutmut-cicd-stats.json").read_text())
    # A mutant that makes the tests hang is caught too: its tests did not pass.
    caught = stats["killed"] + stats["timeout"]
    percent = 100 * caught / stats["total"] if stats["total"] else 0.0
    unkilled = {k: stats[k] for k in ("survived", "no_tests", "suspicious", "skipped") if stats[k]}
    print(f"mutation score: {caught}/{stats['total']} killed ({percent:.1f}%)", unkilled or "")
    results = subprocess.run(
        [MUTMUT, "results"], cwd=directory, check=True, capture_output=True, text=True
    )
    print(results.stdout, end="")
    if stats["total"] == 0 or (fail_under is not None and percent < fail_under):
        print(f"mutation score below {fail_under}%", file=sys.stderr)
        return 1
    return 0


def _pyproject_mutating(mutate: list[str], tests: list[str], skip: list[str]) -> str:
    deselect = [arg for node in skip for arg in ("--deselect", node)]
    table = "\n".join(
        [
            "[tool.mutmut]",
            'source_paths = ["src"]',
            f"only_mutate = {json.dumps(mutate)}",
            f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
            f"pytest_add_cli_args = {json.dumps(deselect)}",
            # The scratch copy is no git checkout.
            "use_git_change_detection = false",
            "",
            "",
        ]
    )
    text = (PROJECT / "pyproject.toml").read_text()
    replaced, count = _MUTMUT_TABLE.subn(table, text)
    if count != 1:
        raise SystemExit("pyproject.toml has no [tool.mutmut] table followed by another table")
    return replaced


def scratch(mutate: list[str], tests: list[str], skip: list[str], fail_under: float | None) -> int:
    """Run mutmut over `mutate` with `tests` in a fresh copy of the project, then score it."""
    shutil.rmtree(SCRATCH, ignore_errors=True)
    SCRATCH.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", "vendor")
    for folder in ("src", "tests"):
        shutil.copytree(PROJECT / folder, SCRATCH / folder, ignore=ignore)
    (SCRATCH / "pyproject.toml").write_text(_pyproject_mutating(mutate, tests, skip))
    started = time.monotonic()
    subprocess.run([MUTMUT, "run"], cwd=SCRATCH, check=True)
    print(f"mutmut run took {time.monotonic() - started:.0f} s")
    return score(SCRATCH, fail_under)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    scored = commands.add_parser("score", help="print the last run's score and survivors")
    scored.add_argument("directory", nargs="?", type=Path, default=PROJECT)
    scored.add_argument("--fail-under", type=float)
    copied = commands.add_parser("scratch", help="mutate other modules in a scratch copy")
    copied.add_argument("--mutate", nargs="+", required=True)
    copied.add_argument("--tests", nargs="+", required=True)
    copied.add_argument("--skip", nargs="*", default=[], help="test node ids left out")
    copied.add_argument("--fail-under", type=float)
    args = parser.parse_args()
    if args.command == "score":
        return score(args.directory, args.fail_under)
    return scratch(args.mutate, args.tests, args.skip, args.fail_under)


if __name__ == "__main__":
    sys.exit(main())
