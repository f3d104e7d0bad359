"""Times discovery on generated Terragrunt repositories (default: 2,000 units), one layout at a time.

    python benchmarks/bench_discover.py [--units 2000] [--layouts root-hcl,legacy,own-excludes,...]

Layouts: `root-hcl` (units include root.hcl: nothing needs a parse), `legacy` (a root terragrunt.hcl
every unit includes with find_in_parent_folders(): one parse settles it), `mid-level` (a parent
terragrunt.hcl per environment), `own-excludes` (5% of units carry an exclude block),
`parent-exclude` (root.hcl has an exclude block: every unit is parsed and evaluated, the worst
case), `stacks` (units declared in 40 terragrunt.stack.hcl files). Printed: units found, excluded,
and the wall time of `discover_all`, best of --repeat runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from driftctl.discover import discover_all
from driftctl.model import Tool

ROOT_INCLUDE = 'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n'
INPUTS = "inputs = {\n" + "".join(f'  setting_{k} = "value-{k}"\n' for k in range(8)) + "}\n"
EXCLUDE = 'exclude {\n  if = local.retired\n  actions = ["all"]\n}\nlocals {\n  retired = true\n}\n'


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def unit_dirs(units: int) -> list[str]:
    return [f"envs/env{n % 4}/region{n % 5}/service{n}" for n in range(units)]


def root_hcl(root: Path, units: int) -> None:
    write(root / "root.hcl", "remote_state {}\n")
    for unit in unit_dirs(units):
        write(root / unit / "terragrunt.hcl", ROOT_INCLUDE + INPUTS)


def legacy(root: Path, units: int) -> None:
    write(root / "terragrunt.hcl", "remote_state {}\n")
    for unit in unit_dirs(units):
        write(root / unit / "terragrunt.hcl", "include {\n  path = find_in_parent_folders()\n}\n" + INPUTS)


def mid_level(root: Path, units: int) -> None:
    for env in range(4):
        write(root / "envs" / f"env{env}" / "terragrunt.hcl", "remote_state {}\n")
    for unit in unit_dirs(units):
        write(root / unit / "terragrunt.hcl", "include {\n  path = find_in_parent_folders()\n}\n" + INPUTS)


def own_excludes(root: Path, units: int) -> None:
    write(root / "root.hcl", "remote_state {}\n")
    for n, unit in enumerate(unit_dirs(units)):
        write(root / unit / "terragrunt.hcl", ROOT_INCLUDE + INPUTS + (EXCLUDE if n % 20 == 0 else ""))


def parent_exclude(root: Path, units: int) -> None:
    write(
        root / "root.hcl",
        'exclude {\n  if = basename(get_terragrunt_dir()) == "service0"\n  actions = ["all"]\n}\n',
    )
    for unit in unit_dirs(units):
        write(root / unit / "terragrunt.hcl", ROOT_INCLUDE + INPUTS)


def stacks(root: Path, units: int) -> None:
    write(root / "root.hcl", "remote_state {}\n")
    write(
        root / "catalog" / "units" / "svc" / "terragrunt.hcl",
        ROOT_INCLUDE + "inputs = { name = values.name }\n",
    )
    files = 40
    for f in range(files):
        blocks = "".join(
            f'unit "u{n}" {{\n  source = "../../catalog/units/svc"\n  path = "u{n}"\n'
            f'  values = {{ name = "u{n}" }}\n}}\n'
            for n in range(f, units, files)
        )
        write(root / "live" / f"s{f}" / "terragrunt.stack.hcl", blocks)


LAYOUTS: dict[str, Callable[[Path, int], None]] = {
    "root-hcl": root_hcl,
    "legacy": legacy,
    "mid-level": mid_level,
    "own-excludes": own_excludes,
    "parent-exclude": parent_exclude,
    "stacks": stacks,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--layouts", default=",".join(LAYOUTS))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'layout':<16}{'units':>7}{'excluded':>10}{'seconds':>10}")
    for name in args.layouts.split(","):
        with tempfile.TemporaryDirectory(prefix=f"bench-discover-{name}-") as tmp:
            root = Path(tmp)
            LAYOUTS[name](root, args.units)
            best = float("inf")
            for _ in range(args.repeat):
                started = time.perf_counter()
                found = discover_all(root, Tool.TERRAGRUNT)
                best = min(best, time.perf_counter() - started)
            excluded = sum(1 for unit in found.stacks if unit.excluded)
            print(f"{name:<16}{len(found.stacks):>7}{excluded:>10}{best:>10.3f}")


if __name__ == "__main__":
    main()
