"""Each object selection compiled, once per document, into one Python function that builds the
object's dict from its row: a single dict display in the response's key order, the viewer's
permissions checked once per object (graph.plan.rules.shown_to), no loop over fields and no call
per field. This is where graphql-core's per-field cost (resolve, complete, serialize) goes away.

The generated source holds only the document's response keys (GraphQL names, written with repr)
and the expressions of graph.plan.fields: nothing a client sends beyond names the parser checked.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.roles import Permission
from graph.plan.fields import OWNER_COLUMNS, WRITERS
from graph.plan.nodes import Builder, Constant, Scalar, Selection


def object_builder(
    type_name: str, selections: Sequence[Selection], gates: Sequence[Permission], prefix: str
) -> Builder:
    """The builder of one object selection of `type_name`, whose columns are `prefix` + column in its rows."""
    lines = ["def build(row, children, index, checks):"]
    owner = OWNER_COLUMNS.get(type_name, "id")
    # Only the scalars' gates: a reference's gate is checked before its rows are read (graph.plan.executor).
    used = sorted({list(gates).index(s.gate) for s in selections if isinstance(s, Scalar) and s.gate is not None})
    if used:
        lines.append(f"    owner = row[{prefix + owner!r}]")
    lines += [f"    shown_{i} = checks[{i}](owner)" for i in used]
    constants: list[object] = []
    entries: list[str] = []
    child = 0
    for selection in selections:
        if isinstance(selection, Scalar):
            expression = selection.expression
            if selection.gate is not None:
                expression = f"({expression} if shown_{list(gates).index(selection.gate)} else None)"
        elif isinstance(selection, Constant):
            expression = f"constants[{len(constants)}]"
            constants.append(selection.value)
        else:
            expression = f"children[{child}][index]"
            child += 1
        entries.append(f"{selection.key!r}: {expression}")
    lines.append("    return {" + ", ".join(entries) + "}")
    namespace: dict[str, object] = {**WRITERS, "constants": constants}
    exec(compile("\n".join(lines), f"<plan of {type_name}>", "exec"), namespace)
    builder: Builder = namespace["build"]  # type: ignore[assignment]
    return builder
