#!/usr/bin/env bash
# The README's quick start, driven by the AWS CLI: start `portcullis serve` on a fresh data
# directory, create a user as root, act as that user (allowed and denied), and stop cleanly.
#
#   scripts/smoke.sh                     # builds and uses target/release/portcullis
#   PORTCULLIS_BIN=target/debug/portcullis scripts/smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."

command -v aws >/dev/null || { echo "smoke: the AWS CLI is needed (pip install awscli)" >&2; exit 2; }
bin=${PORTCULLIS_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin=target/release/portcullis
fi
port=${SMOKE_PORT:-18600}
data=$(mktemp -d)
log="$data/serve.log"
endpoint="http://127.0.0.1:$port"

"$bin" serve --listen "127.0.0.1:$port" --data-dir "$data/state" >"$log" 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

for _ in $(seq 1 100); do
  curl -sf "$endpoint/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "$endpoint/healthz" >/dev/null || { echo "smoke: server did not start"; cat "$log"; exit 1; }

fail() { echo "smoke: FAILED: $*" >&2; cat "$log" >&2; exit 1; }
# As the README says: the endpoint from AWS_ENDPOINT_URL, no --endpoint-url per command.
export AWS_ENDPOINT_URL="$endpoint" AWS_SHARED_CREDENTIALS_FILE="$data/state/root-credentials" AWS_DEFAULT_REGION=us-east-1
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE
iam() { aws --output json iam "$@"; }
[ "$(stat -c %a "$data/state/root-credentials")" = 600 ] || fail "root-credentials is not mode 0600"

passed=0
check() { passed=$((passed + 1)); echo "ok: $*"; }

iam create-user --user-name alice | grep -q '"UserName": "alice"' || fail "create-user"
check "root creates alice"
iam list-users | grep -q '"alice"' || fail "list-users"
check "list-users shows alice"
iam put-user-policy --user-name alice --policy-name read \
  --policy-document '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:GetUser","iam:ListUsers"],"Resource":"*"}}'
check "put-user-policy"
if iam put-user-policy --user-name alice --policy-name bad --policy-document '{"Statement":{"Effect":"Allow","Action":"s3","Resource":"*"}}' 2>"$data/err"; then
  fail "a malformed policy was accepted"
fi
grep -q MalformedPolicyDocument "$data/err" || fail "malformed policy error: $(cat "$data/err")"
check "malformed policy refused with MalformedPolicyDocument"
keys=$(iam create-access-key --user-name alice)
key_id=$(printf '%s' "$keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["AccessKey"]["AccessKeyId"])')
secret=$(printf '%s' "$keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["AccessKey"]["SecretAccessKey"])')
check "create-access-key"

as_alice() { AWS_ACCESS_KEY_ID=$key_id AWS_SECRET_ACCESS_KEY=$secret aws --output json iam "$@"; }
as_alice get-user | grep -q '"UserName": "alice"' || fail "alice get-user"
check "alice may GetUser"
if as_alice create-user --user-name mallory 2>"$data/err"; then fail "alice created a user"; fi
grep -q "AccessDenied" "$data/err" || fail "expected AccessDenied: $(cat "$data/err")"
grep -q "is not authorized to perform: iam:CreateUser" "$data/err" || fail "AccessDenied message: $(cat "$data/err")"
check "alice may not CreateUser (AccessDenied)"
if AWS_ACCESS_KEY_ID=$key_id AWS_SECRET_ACCESS_KEY=wrong aws iam get-user 2>"$data/err"; then fail "bad secret accepted"; fi
grep -q SignatureDoesNotMatch "$data/err" || fail "bad secret: $(cat "$data/err")"
check "a wrong secret gets SignatureDoesNotMatch"

iam delete-access-key --user-name alice --access-key-id "$key_id"
iam delete-user-policy --user-name alice --policy-name read
iam delete-user --user-name alice
if iam get-user --user-name alice 2>"$data/err"; then fail "alice still exists"; fi
grep -q NoSuchEntity "$data/err" || fail "get deleted user: $(cat "$data/err")"
check "cleanup; alice is gone (NoSuchEntity)"

kill -TERM "$server"
wait "$server" || fail "server did not exit cleanly on SIGTERM"
check "SIGTERM stops the server cleanly"
trap 'rm -rf "$data"' EXIT
echo "smoke: $passed passed, 0 failed"
