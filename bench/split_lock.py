"""Split a `pip freeze` of the dev venv into requirements.lock (the runtime: what the 'paperlens'
distribution needs, transitively) and requirements-test.lock (everything else: test tools and the
small LLM the tests run). Used by `make lock`.

    python bench/split_lock.py FREEZE RUNTIME_LOCK TEST_LOCK
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import PackageNotFoundError, distribution


def _name(req: str) -> str:
    return re.split(r"[\s;\[<>=!~(]", req.strip(), maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")


def runtime_closure(root: str = "paperlens") -> set[str]:
    """Names of the distributions the root needs without extras, transitively."""
    seen: set[str] = set()
    todo = [root]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        for r in reqs:
            if "extra ==" in r.replace('"', "").replace("'", ""):
                continue  # optional: not part of the runtime
            todo.append(_name(r))
    return seen


def main(freeze: str, runtime_lock: str, test_lock: str) -> None:
    lines = [ln.strip() for ln in open(freeze, encoding="utf-8") if "==" in ln]
    need = runtime_closure()
    runtime = [ln for ln in lines if _name(ln) in need]
    rest = [ln for ln in lines if _name(ln) not in need]
    open(runtime_lock, "w", encoding="utf-8").write("\n".join(runtime) + "\n")
    head = "# Test tools and the small LLM for the tests; installed after requirements.lock by `make test`.\n"
    open(test_lock, "w", encoding="utf-8").write(head + "\n".join(rest) + "\n")
    print(f"{runtime_lock}: {len(runtime)} pins; {test_lock}: {len(rest)} pins")


if __name__ == "__main__":
    main(*sys.argv[1:4])
