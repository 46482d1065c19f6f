#!/usr/bin/env python3
"""Writes the simulation inputs of the large-policy benchmark (issue 8): principals with 60,
600 and 6,000 statements of realistic shape, and bucket policies of 12 and 100 statements (a
bucket policy is limited to 20 KB, about 110 such statements), each asked about one
s3:GetObject. Rerunnable; the output is deterministic.

    python3 scripts/bench-policies.py > /tmp/big.json
    cargo run --release -p portcullis -- policy bench --input /tmp/big.json
"""
import json
import sys

ACCOUNT = "111122223333"


def statements(n):
    """n statements: mostly one bucket each (exact and wildcard actions, object and bucket
    ARNs), some with conditions, a few NotAction / NotResource / wildcard resources."""
    out = []
    for i in range(n):
        kind = i % 20
        if kind == 0:
            out.append({"Effect": "Allow", "Action": "s3:Get*", "Resource": f"arn:aws:s3:::bucket-{i}/*"})
        elif kind == 1:
            out.append({"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::bucket-{i}/*",
                        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}})
        elif kind == 2:
            out.append({"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": f"arn:aws:s3:::bucket-{i}",
                        "Condition": {"StringLike": {"s3:prefix": ["home/", "shared/*"]}}})
        elif kind == 3 and i % 1000 == 3:
            out.append({"Effect": "Allow", "NotAction": "iam:*", "NotResource": f"arn:aws:s3:::secret-{i}/*",
                        "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}})
        elif kind == 4:
            out.append({"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                        "Resource": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/table-{i}"})
        elif kind == 5:
            out.append({"Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::logs-{i}-*"})
        else:
            out.append({"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                        "Resource": [f"arn:aws:s3:::bucket-{i}/*", f"arn:aws:s3:::bucket-{i}/shared/*"]})
    return out


def identity(n):
    target = n // 2 + 7  # a kind-7 statement
    per_policy = 10
    policies = []
    stmts = statements(n)
    for start in range(0, n, per_policy):
        policies.append({"Version": "2012-10-17", "Statement": stmts[start:start + per_policy]})
    return {
        "_name": f"identity, {n} statements",
        "request": {"principal": f"arn:aws:iam::{ACCOUNT}:user/alice", "action": "s3:GetObject",
                    "resource": f"arn:aws:s3:::bucket-{target}/reports/q3.csv",
                    "context": {"aws:SourceIp": "203.0.113.7", "aws:MultiFactorAuthPresent": "true"}},
        "identityPolicies": policies,
    }


def bucket_policy(n):
    target = n // 2 + 7
    stmts = []
    for i, s in enumerate(statements(n)):
        s = dict(s)
        if "NotAction" in s:
            continue
        s["Principal"] = {"AWS": f"arn:aws:iam::{100000000000 + i}:root"}
        stmts.append(s)
    return {
        "_name": f"bucket policy, {len(stmts)} statements",
        "request": {"principal": f"arn:aws:iam::{100000000000 + target}:root", "action": "s3:GetObject",
                    "resource": f"arn:aws:s3:::bucket-{target}/reports/q3.csv", "resourceAccount": ACCOUNT,
                    "context": {"aws:SourceIp": "203.0.113.7"}},
        "identityPolicies": [{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}],
        "resourcePolicy": {"Version": "2012-10-17", "Statement": stmts},
    }


sims = [identity(n) for n in (60, 600, 6000)] + [bucket_policy(n) for n in (12, 100)]
json.dump(sims, sys.stdout)
