//! Properties of the decision algorithm that must hold for any policies (proptest):
//! order never matters, a Deny never creates an Allow, an Allow never creates a Deny, and
//! evaluation never panics on a policy the parser accepted.

use portcullis_policy::{
    LabeledPolicy, Outcome, PolicyInputs, PolicyKind, PolicySet, Principal, Request,
    RequestContext, parse_policy,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const ACTIONS: [&str; 9] = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:*",
    "s3:Get*",
    "iam:CreateUser",
    "iam:*",
    "*",
    "ec2:Describe?nstances",
    "S3:getobject",
];
const RESOURCES: [&str; 6] = [
    "*",
    "arn:aws:s3:::bucket/*",
    "arn:aws:s3:::bucket/key",
    "arn:aws:s3:::other/*",
    "arn:aws:iam::111122223333:user/*",
    "arn:aws:s3:::${aws:username}/*",
];
const REQUEST_ACTIONS: [&str; 5] = [
    "s3:GetObject",
    "s3:PutObject",
    "iam:CreateUser",
    "ec2:DescribeInstances",
    "sqs:SendMessage",
];
const REQUEST_RESOURCES: [&str; 5] = [
    "arn:aws:s3:::bucket/key",
    "arn:aws:s3:::other/x",
    "arn:aws:iam::111122223333:user/bob",
    "arn:aws:s3:::alice/photo.jpg",
    "*",
];

fn condition() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(json!({"StringEquals": {"aws:username": "alice"}}))),
        1 => Just(Some(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))),
        1 => Just(Some(json!({"Bool": {"aws:SecureTransport": true}}))),
        1 => Just(Some(json!({"ForAllValues:StringLike": {"aws:TagKeys": ["team*", "env"]}}))),
        1 => Just(Some(json!({"StringNotEqualsIfExists": {"aws:RequestTag/env": "prod"}}))),
        1 => Just(Some(json!({"NumericLessThan": {"s3:max-keys": 10}, "Null": {"aws:TokenIssueTime": "true"}}))),
    ]
}

fn statement(effect: Option<&'static str>) -> impl Strategy<Value = Value> {
    let effect = match effect {
        Some(e) => Just(e).boxed(),
        None => prop_oneof![Just("Allow"), Just("Deny")].boxed(),
    };
    (
        effect,
        any::<bool>(),
        prop::sample::subsequence(ACTIONS.to_vec(), 1..3),
        any::<bool>(),
        prop::sample::subsequence(RESOURCES.to_vec(), 1..3),
        condition(),
    )
        .prop_map(
            |(effect, not_action, actions, not_resource, resources, condition)| {
                let mut s = json!({"Effect": effect});
                s[if not_action { "NotAction" } else { "Action" }] = json!(actions);
                s[if not_resource {
                    "NotResource"
                } else {
                    "Resource"
                }] = json!(resources);
                if let Some(c) = condition {
                    s["Condition"] = c;
                }
                s
            },
        )
}

fn policy(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn compile(policies: &[Value]) -> PolicySet {
    PolicySet::new(
        policies
            .iter()
            .enumerate()
            .map(|(i, p)| LabeledPolicy {
                label: format!("p{i}"),
                policy: parse_policy(&p.to_string(), PolicyKind::Identity)
                    .expect("generated policy is valid"),
            })
            .collect(),
    )
}

fn request() -> impl Strategy<Value = Request> {
    (
        prop::sample::select(REQUEST_ACTIONS.to_vec()),
        prop::sample::select(REQUEST_RESOURCES.to_vec()),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(prop::sample::subsequence(
            vec!["team-a", "env", "owner"],
            0..3,
        )),
    )
        .prop_map(|(action, resource, from_vpn, tls, tag_keys)| {
            let mut context = RequestContext::new();
            context.insert(
                "aws:SourceIp",
                if from_vpn { "10.1.2.3" } else { "203.0.113.9" },
            );
            context.insert("aws:SecureTransport", if tls { "true" } else { "false" });
            if let Some(keys) = tag_keys {
                context.insert_multi("aws:TagKeys", keys);
            }
            let alice = Principal::parse("arn:aws:iam::111122223333:user/alice").expect("valid");
            Request::new(alice, action, resource, context)
        })
}

fn decide(identity: &[Value], boundary: Option<&Value>, request: &Request) -> Outcome {
    let identity = compile(identity);
    let boundary = boundary.map(|b| compile(std::slice::from_ref(b)));
    PolicyInputs {
        identity: Some(&identity),
        boundary: boundary.as_ref(),
        ..Default::default()
    }
    .evaluate(request)
    .outcome
}

fn policies() -> impl Strategy<Value = Vec<Vec<Value>>> {
    prop::collection::vec(prop::collection::vec(statement(None), 1..5), 1..4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn statement_and_policy_order_never_change_the_decision(
        statements in policies(),
        boundary in prop::option::of(prop::collection::vec(statement(Some("Allow")), 1..3)),
        request in request(),
        seed in any::<u64>(),
    ) {
        let forward: Vec<Value> = statements.iter().cloned().map(policy).collect();
        // Reverse the policies and rotate each one's statements by a seed-dependent amount.
        let reordered: Vec<Value> = statements
            .iter()
            .rev()
            .map(|s| {
                let mut s = s.clone();
                let len = s.len();
                s.rotate_left((seed as usize) % len);
                s.reverse();
                policy(s)
            })
            .collect();
        let boundary = boundary.map(policy);
        prop_assert_eq!(
            decide(&forward, boundary.as_ref(), &request),
            decide(&reordered, boundary.as_ref(), &request)
        );
    }

    #[test]
    fn adding_a_deny_never_turns_a_deny_into_an_allow(
        statements in policies(),
        deny in statement(Some("Deny")),
        request in request(),
    ) {
        let before: Vec<Value> = statements.iter().cloned().map(policy).collect();
        let mut with_deny = statements.clone();
        with_deny[0].push(deny);
        let after: Vec<Value> = with_deny.into_iter().map(policy).collect();
        if decide(&before, None, &request) != Outcome::Allowed {
            prop_assert_ne!(decide(&after, None, &request), Outcome::Allowed);
        }
    }

    #[test]
    fn adding_an_allow_never_turns_an_allow_into_a_deny(
        statements in policies(),
        allow in statement(Some("Allow")),
        request in request(),
    ) {
        let before: Vec<Value> = statements.iter().cloned().map(policy).collect();
        let mut with_allow = statements.clone();
        with_allow[0].push(allow);
        let after: Vec<Value> = with_allow.into_iter().map(policy).collect();
        if decide(&before, None, &request) == Outcome::Allowed {
            prop_assert_eq!(decide(&after, None, &request), Outcome::Allowed);
        }
    }

    /// Arbitrary text in every element: whatever the parser accepts, evaluation must not panic,
    /// in any position (identity, boundary, session, resource policy, SCP).
    #[test]
    fn evaluation_never_panics_on_a_parsed_policy(
        actions in prop::collection::vec("[a-zA-Z0-9:*?]{0,12}", 1..3),
        resources in prop::collection::vec("(arn:[a-z0-9*?:/${}]{0,30})|\\*|[ -~]{0,20}", 1..3),
        key in "[a-zA-Z]{1,5}:[a-zA-Z/]{1,10}",
        operator in prop::sample::select(vec![
            "StringLike", "StringNotEquals", "ArnLike", "ArnNotLike", "NumericLessThan", "DateGreaterThan",
            "Bool", "IpAddress", "NotIpAddress", "Null", "BinaryEquals", "ForAllValues:StringEqualsIgnoreCase",
            "ForAnyValue:StringNotLike", "StringEqualsIfExists",
        ]),
        values in prop::collection::vec("[ -~]{0,24}", 0..3),
        context_values in prop::collection::vec("[ -~]{0,24}", 0..3),
        resource in "[ -~]{0,40}",
        action in "[ -~]{0,20}",
    ) {
        let doc = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": resources.clone(), "Condition": {operator: {key.clone(): values}}},
            {"Effect": "Deny", "NotAction": "iam:*", "NotResource": resources},
        ]});
        let text = doc.to_string();
        let mut resource_doc = doc.clone();
        for s in resource_doc["Statement"].as_array_mut().into_iter().flatten() {
            s["Principal"] = json!({"AWS": "111122223333"});
        }
        let mut context = RequestContext::new();
        context.insert_multi(&key, context_values.clone());
        let principals = [
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:sts::111122223333:assumed-role/R/s",
            "arn:aws:sts::444455556666:federated-user/f",
            "111122223333",
            "anonymous",
        ];
        if let Ok(p) = parse_policy(&text, PolicyKind::Identity) {
            let set = PolicySet::single("p", p);
            let resource_set = parse_policy(&resource_doc.to_string(), PolicyKind::Resource)
                .ok()
                .map(|p| PolicySet::single("r", p));
            let scps = [set.clone()];
            for principal in principals {
                let request = Request::new(Principal::parse(principal).expect("valid"), &action, &resource, context.clone());
                let inputs = PolicyInputs {
                    identity: Some(&set),
                    boundary: Some(&set),
                    session: Some(&set),
                    resource: resource_set.as_ref(),
                    service_control: &scps,
                    resource_control: &[],
                };
                let _ = inputs.evaluate(&request);
            }
        }
    }
}
