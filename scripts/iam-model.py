#!/usr/bin/env python3
"""Writes crates/server/data/iam-model.json: the constraints of the IAM API model on each
operation's top-level request members, from botocore's `iam/2010-05-08/service-2.json`
(Apache-2.0, on PyPI). The server checks every request against them before its handler runs,
as AWS validates a request against its model first.

    python3 -m pip install botocore==1.43.11 && python3 scripts/iam-model.py

Per operation, in the model's member order: name, type (string, integer, boolean, list,
structure, timestamp), required, and where the model has them min, max, pattern, enum and
sensitive (AWS leaves a sensitive value out of its message); for a list of strings, the
member's constraints under "member". One operation per line, sorted, so a refresh reads as a
diff.
"""
import json
import os
import sys

import botocore
from botocore.loaders import Loader

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "server", "data", "iam-model.json")


def constraints(shape):
    out = {"type": shape.type_name}
    for key in ("min", "max", "pattern", "sensitive"):
        if key in shape.metadata:
            out[key] = shape.metadata[key]
    if getattr(shape, "enum", None):
        out["enum"] = list(shape.enum)
    if shape.type_name == "list" and shape.member.type_name == "string":
        out["member"] = constraints(shape.member)
    return out


def main():
    from botocore.model import ServiceModel

    model = ServiceModel(Loader().load_service_model("iam", "service-2"))
    operations = {}
    for name in model.operation_names:
        shape = model.operation_model(name).input_shape
        members = []
        if shape is not None:
            for member, member_shape in shape.members.items():
                entry = constraints(member_shape)
                if member in shape.required_members:
                    entry["required"] = True
                members.append([member, entry])
        operations[name] = members
    lines = [f'"source": {json.dumps("botocore " + botocore.__version__)}']
    lines += [f"{json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in sorted(operations.items())]
    with open(OUT, "w") as f:
        f.write("{\n" + lines[0] + ',\n"operations": {\n' + ",\n".join(lines[1:]) + "\n}}\n")
    print(f"{len(operations)} operations from botocore {botocore.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
