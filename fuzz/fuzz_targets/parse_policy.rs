//! Any bytes as a policy document, of every kind: validation must answer (never panic), and
//! whatever parses must compile and evaluate without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_policy::{
    PolicyInputs, PolicyKind, PolicySet, Principal, Request, RequestContext, parse_policy, validate,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in PolicyKind::ALL {
        let _ = validate(text, kind);
        let Ok(policy) = parse_policy(text, kind) else {
            continue;
        };
        let set = PolicySet::single("fuzz", policy);
        let mut context = RequestContext::new();
        context.insert("aws:SourceIp", "10.1.2.3");
        context.insert("aws:CurrentTime", "2026-01-01T00:00:00Z");
        context.insert_multi("aws:TagKeys", ["a", "b"]);
        for principal in ["arn:aws:iam::111122223333:user/alice", "arn:aws:sts::111122223333:assumed-role/R/s", "anonymous"] {
            let Ok(principal) = Principal::parse(principal) else { continue };
            let request = Request::new(principal, "s3:GetObject", "arn:aws:s3:::bucket/key", context.clone());
            let inputs = PolicyInputs {
                identity: Some(&set),
                boundary: Some(&set),
                resource: Some(&set),
                ..Default::default()
            };
            let _ = inputs.evaluate(&request);
        }
    }
});
