//! Decision latency of the policy engine.
//!
//! Workload (issue 2): a principal with 10 attached policies of 5 statements each (3 Allow, 2
//! Deny; action lists, `s3:*`, ARN wildcards, IpAddress, DateLessThan, Bool and StringLike
//! conditions), in accounts of 10, 100 and 1,000 such policies. Cases: allowed, explicitly
//! denied, no action match, no resource match.
//!
//! - `principal_50_statements`: the principal's compiled set (its 10 policies) picked from an
//!   account of N policies. The account size must not matter.
//! - `with_unmatchable_statements`: the same principal's set plus N-10 more policies whose
//!   actions belong to other services: the cost must not grow with them.
//! - `baseline_one_statement`: one Allow statement, no condition: the floor, in the same run.
//!
//! Run: `cargo bench -p portcullis-policy --bench evaluate`

use divan::Bencher;
use portcullis_policy::{
    LabeledPolicy, PolicyInputs, PolicyKind, PolicySet, Principal, Request, RequestContext,
    parse_policy,
};

fn main() {
    divan::main();
}

const ACCOUNT_SIZES: [usize; 3] = [10, 100, 1000];

/// One policy of the workload: 3 Allow and 2 Deny statements about S3 and DynamoDB.
fn workload_policy(i: usize) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Sid":"ReadWrite","Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:ListBucket"],
          "Resource":["arn:aws:s3:::bucket-{i}/*","arn:aws:s3:::bucket-{i}"],
          "Condition":{{"IpAddress":{{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}}}}},
        {{"Sid":"Shared","Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::shared-{i}-*/*",
          "Condition":{{"DateLessThan":{{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}}}},
        {{"Sid":"Tables","Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:Query","dynamodb:Scan"],
          "Resource":"arn:aws:dynamodb:*:111122223333:table/team-{i}-*",
          "Condition":{{"Bool":{{"aws:SecureTransport":"true"}}}}}},
        {{"Sid":"Protect","Effect":"Deny","Action":["s3:DeleteObject","s3:DeleteBucket"],
          "Resource":"arn:aws:s3:::bucket-{i}/protected/*"}},
        {{"Sid":"NoBots","Effect":"Deny","Action":"s3:Put*","Resource":"*",
          "Condition":{{"StringLike":{{"aws:UserAgent":"*bad-bot-{i}*"}}}}}}
        ]}}"#
    )
}

/// A policy about a service nobody asks for: it can never be a candidate for the requests here.
fn unrelated_policy(i: usize) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Action":["svc{i}:Get*","svc{i}:List*","svc{i}:Describe"],"Resource":"arn:aws:svc{i}:*:111122223333:thing/*",
          "Condition":{{"IpAddress":{{"aws:SourceIp":"10.0.0.0/8"}}}}}},
        {{"Effect":"Allow","Action":"svc{i}:*","Resource":"arn:aws:svc{i}:::shared/*"}},
        {{"Effect":"Allow","Action":["svc{i}:Put","svc{i}:Update"],"Resource":"*","Condition":{{"Bool":{{"aws:SecureTransport":"true"}}}}}},
        {{"Effect":"Deny","Action":"svc{i}:Delete*","Resource":"*"}},
        {{"Effect":"Deny","Action":"svc{i}:*","Resource":"*","Condition":{{"StringLike":{{"aws:UserAgent":"*bot*"}}}}}}
        ]}}"#
    )
}

fn parse(label: String, text: &str) -> LabeledPolicy {
    LabeledPolicy {
        label,
        policy: parse_policy(text, PolicyKind::Identity).expect("benchmark policy is valid"),
    }
}

/// The principal's policies: 10 of an account of `account_size`.
fn principal_set(account_size: usize) -> PolicySet {
    let account: Vec<LabeledPolicy> = (0..account_size)
        .map(|i| parse(format!("policy-{i}"), &workload_policy(i)))
        .collect();
    // The principal is attached to the first 10; the rest of the account is someone else's.
    PolicySet::new(account.into_iter().take(10).collect())
}

/// The principal's 10 policies plus `total - 10` about other services.
fn set_with_unrelated(total: usize) -> PolicySet {
    let mut policies: Vec<LabeledPolicy> = (0..10)
        .map(|i| parse(format!("policy-{i}"), &workload_policy(i)))
        .collect();
    policies.extend((10..total).map(|i| parse(format!("other-{i}"), &unrelated_policy(i))));
    PolicySet::new(policies)
}

#[derive(Debug, Clone, Copy)]
enum Case {
    Allowed,
    ExplicitDeny,
    NoActionMatch,
    NoResourceMatch,
}

const CASES: [Case; 4] = [
    Case::Allowed,
    Case::ExplicitDeny,
    Case::NoActionMatch,
    Case::NoResourceMatch,
];

fn request(case: Case) -> Request {
    let (action, resource) = match case {
        Case::Allowed => ("s3:GetObject", "arn:aws:s3:::bucket-3/reports/2026.csv"),
        Case::ExplicitDeny => ("s3:DeleteObject", "arn:aws:s3:::bucket-3/protected/key"),
        Case::NoActionMatch => (
            "sqs:SendMessage",
            "arn:aws:sqs:us-east-1:111122223333:queue",
        ),
        Case::NoResourceMatch => ("s3:GetObject", "arn:aws:s3:::elsewhere/key"),
    };
    let mut context = RequestContext::new();
    context.insert("aws:SourceIp", "10.1.2.3");
    context.insert("aws:CurrentTime", "2026-11-23T12:00:00Z");
    context.insert("aws:SecureTransport", "true");
    context.insert("aws:UserAgent", "aws-cli/2.15");
    let principal = Principal::parse("arn:aws:iam::111122223333:user/alice").expect("valid ARN");
    Request::new(principal, action, resource, context)
}

fn expected_outcome(case: Case) -> &'static str {
    match case {
        Case::Allowed => "allowed",
        Case::ExplicitDeny => "explicitDeny",
        Case::NoActionMatch | Case::NoResourceMatch => "implicitDeny",
    }
}

fn run(bencher: Bencher, set: &PolicySet, case: Case) {
    let inputs = PolicyInputs {
        identity: Some(set),
        ..Default::default()
    };
    let req = request(case);
    assert_eq!(
        inputs.evaluate(&req).outcome.as_str(),
        expected_outcome(case)
    );
    bencher.bench_local(|| inputs.evaluate(divan::black_box(&req)));
}

#[divan::bench(args = ACCOUNT_SIZES, consts = [0, 1, 2, 3])]
fn principal_50_statements<const CASE: usize>(bencher: Bencher, account_size: usize) {
    let set = principal_set(account_size);
    run(bencher, &set, CASES[CASE]);
}

#[divan::bench(args = ACCOUNT_SIZES, consts = [0, 1, 2, 3])]
fn with_unmatchable_statements<const CASE: usize>(bencher: Bencher, total_policies: usize) {
    let set = set_with_unrelated(total_policies);
    run(bencher, &set, CASES[CASE]);
}

#[divan::bench]
fn baseline_one_statement(bencher: Bencher) {
    let policy = parse(
        "one".into(),
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
    );
    let set = PolicySet::new(vec![policy]);
    run(bencher, &set, Case::Allowed);
}

#[divan::bench(args = [10, 100])]
fn parse_and_compile(bencher: Bencher, policies: usize) {
    let texts: Vec<String> = (0..policies).map(workload_policy).collect();
    bencher.bench_local(|| {
        PolicySet::new(
            texts
                .iter()
                .enumerate()
                .map(|(i, t)| parse(format!("p{i}"), t))
                .collect(),
        )
    });
}
