"""The README's table of error codes names exactly the codes the service can emit.

The codes are collected from the source, so a new one cannot slip past: every call that makes a refusal
(error_response, error_payload, refusal_in_kind, DarkroomError and InvalidSpec and their subclasses), every
class default `code = "…"` of those, and every dict literal with a "code" key, plus the closed set the DRF
handler maps DRF's and simplejwt's exceptions onto. A code that is not a string literal must be a pass-through
listed below, in the function it is passed through (with where its values come from), or the test fails and
names the line.
"""

import ast
import re
from pathlib import Path

import pytest

from server import errors

from .test_error_messages import CASES, make, rendered

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("originals", "server", "transforms")
ROOT_CONSTRUCTORS = {
    "error_response": 1,
    "error_payload": 1,
    "refusal_in_kind": 2,
    "DarkroomError": None,
    "InvalidSpec": 2,
    "refusal": 2,  # transforms/answer.py: the variant answer's JSON error
    "FetchError": None,  # originals/fetch_errors.py: an import's refusal, answered as a DarkroomError naming url
}
# (file, expression): where its values come from. Each source is collected elsewhere in this test.
# (file, function, expression): where its values come from. Each source is collected elsewhere in this test.
PASS_THROUGHS = {
    ("server/errors.py", "payload", "self.code"): "DarkroomError's own: the class defaults and code= arguments",
    ("server/errors.py", "error_payload", "code"): "its callers' codes, collected at each call",
    ("server/errors.py", "error_response", "code"): "its callers' codes, collected at each call",
    ("server/errors.py", "refusal_in_kind", "code"): "its callers' codes, collected at each call",
    ("server/errors.py", "_validation_refusal", "_FIELD_CODES.get(str(code), _INVALID_FIELD_CODE)"): "HANDLER_CODES",
    ("server/errors.py", "_token_refusal", "code"): "HANDLER_CODES",
    ("server/errors.py", "_api_refusal", "code"): "HANDLER_CODES",
    ("originals/pages.py", "refusal", "exc.code"): "a DarkroomError's",
    ("originals/services.py", "original_import", "exc.code"): "a FetchError's",
    ("originals/fetch.py", "_redirected", "exc.code"): "a FetchError's, told again with where the redirect went",
    ("originals/pages.py", "dispatch", "exc.code"): "a DarkroomError's",
    ("transforms/builder.py", "get", "exc.code"): "an InvalidSpec's",
    ("transforms/answer.py", "refusal", "code"): "its callers' codes, collected at each call",
    ("transforms/answer.py", "*", "exc.code"): "an InvalidSpec's or OverBudget's",
    ("transforms/answer.py", "*", "problem[0]"): "transforms/signing.py signature_problem's returns",
    ("transforms/thumbor.py", "*", "exc.code"): "an InvalidSpec's",
    ("transforms/thumbor_mapping.py", "refusal", "exc.code"): "the native parser's InvalidSpec's",
    ("server/gunicorn.py", "write_json_error", "code"): "gunicorn's refusals: the first of each _REFUSALS value",
}
# Module-level tables {status: (code, message)} whose codes a pass-through above reads.
CODE_TABLES = {("server/gunicorn.py", "_REFUSALS")}
# Functions whose returned tuples carry a code first, for the pass-throughs above.
CODE_RETURNING = {("transforms/signing.py", "signature_problem")}


def service_files() -> list[tuple[str, ast.Module]]:
    files = []
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/tests/" in relative or "/migrations/" in relative:
                continue
            files.append((relative, ast.parse(path.read_text(), relative)))
    return files


def callee(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def constructors(files: list[tuple[str, ast.Module]]) -> dict[str, int | None]:
    """The refusal-making names: the roots, and every class that subclasses one of them (to a fixpoint)."""
    found = dict(ROOT_CONSTRUCTORS)
    classes = [node for _, tree in files for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    grew = True
    while grew:
        grew = False
        for node in classes:
            bases = {base.id if isinstance(base, ast.Name) else getattr(base, "attr", "") for base in node.bases}
            parent = next((name for name in bases if name in found), None)
            if parent is not None and node.name not in found:
                found[node.name] = found[parent]
                grew = True
    return found


def code_argument(node: ast.Call, position: int | None) -> ast.expr | None:
    for keyword in node.keywords:
        if keyword.arg == "code":
            return keyword.value
    if position is not None and len(node.args) > position:
        return node.args[position]
    return None


def nodes_with_function(tree: ast.AST, function: str = "") -> list[tuple[str, ast.AST]]:
    """Every node, with the name of the function it is in ("" at module or class level)."""
    found = []
    for child in ast.iter_child_nodes(tree):
        found.append((function, child))
        inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
        found.extend(nodes_with_function(child, inner))
    return found


def emitted_codes() -> set[str]:
    files = service_files()
    makers = constructors(files)
    codes: set[str] = set(errors.HANDLER_CODES)
    unknown: list[str] = []

    def take(relative: str, function: str, expr: ast.expr) -> None:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            codes.add(expr.value)
            return
        text = ast.unparse(expr)
        if (relative, function, text) not in PASS_THROUGHS and (relative, "*", text) not in PASS_THROUGHS:
            unknown.append(f"{relative}:{expr.lineno} in {function}(): {text}")

    for relative, tree in files:
        for function, node in nodes_with_function(tree):
            if isinstance(node, ast.Call) and callee(node) in makers:
                argument = code_argument(node, makers[callee(node)])
                if argument is not None:
                    take(relative, function, argument)
            elif isinstance(node, ast.ClassDef) and node.name in makers:
                for statement in node.body:
                    if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
                        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                        if any(isinstance(target, ast.Name) and target.id == "code" for target in targets):
                            take(relative, function, statement.value)
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "code":
                        take(relative, function, value)
            elif (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Dict)
                and any(isinstance(t, ast.Name) and (relative, t.id) in CODE_TABLES for t in node.targets)
            ):
                for row in node.value.values:
                    assert isinstance(row, ast.Tuple), f"{relative}:{row.lineno}: a table row is (code, message)"
                    take(relative, function, row.elts[0])
            elif isinstance(node, ast.FunctionDef) and (relative, node.name) in CODE_RETURNING:
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Return) and isinstance(inner.value, ast.Tuple):
                        take(relative, node.name, inner.value.elts[0])
    assert not unknown, "codes this test cannot read; add them to PASS_THROUGHS with their source:\n" + "\n".join(
        unknown
    )
    return codes


def documented_codes() -> set[str]:
    """The backquoted codes in the last column of the README's table of refusals (status | when | codes)."""
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| status | when | codes |") :].split("\n\n", 1)[0]
    codes: set[str] = set()
    for row in table.splitlines()[2:]:
        codes.update(re.findall(r"`([a-z_]+)`", row.rsplit("|", 2)[-2]))
    return codes


def test_the_readme_names_every_code_the_service_emits():
    emitted, documented = emitted_codes(), documented_codes()
    assert emitted - documented == set(), "emitted but not in the README's table"
    assert documented - emitted == set(), "in the README's table but never emitted"


def test_the_collector_sees_the_kinds_of_codes():
    """A check on the collector itself: one code of each way a refusal is made."""
    assert {
        "missing_file",  # DarkroomError(code=...)
        "file_too_large",  # a class default
        "database_unavailable",  # error_response(message, code, ...)
        "unknown_parameter",  # InvalidSpec(param, message, code)
        "pad_too_large",  # OverBudget, a subclass
        "not_ready",  # a dict literal
        "invalid_signature",  # returned by signature_problem
        "token_not_valid",  # the handler's set
        "url_address_forbidden",  # FetchError(code=...)
    } <= emitted_codes()


@pytest.mark.parametrize(("cls", "detail"), CASES[::7])
def test_the_handler_emits_only_its_closed_set(cls, detail):
    assert rendered(make(cls, detail))[1]["code"] in errors.HANDLER_CODES
