//! The table-driven decision suite: every file in `tests/cases/` is a JSON array of cases.
//!
//! A decision case is a simulation object (the `portcullis policy simulate` format) plus:
//! - `name`: what the case shows (unique across all files);
//! - `expect`: `allowed`, `explicitDeny` or `implicitDeny`;
//! - optionally `expectMissingAllow` (e.g. `permissionsBoundary`) and `expectMatched`, a list of
//!   `{"policy": "identityPolicies[0]", "statementIndex": 1}` that must be among the matched
//!   statements;
//! - optionally `source`: the AWS documentation page or spec section the case comes from.
//!
//! A validation case has `name`, `validate` (a policy object, or a string for text that is not
//! a well-formed object), `kind` (identity, resource, trust, boundary, session, scp), `valid`
//! (true/false) and optionally `message`, a substring the first error must contain.
//!
//! Unless a case sets `aws:CurrentTime`, the clock reads 2026-01-01T00:00:00Z.

use std::collections::HashSet;
use std::path::Path;

use portcullis_policy::{Finding, PolicyKind, parse_simulations, validate};
use serde_json::Value;

const MINIMUM_CASES: usize = 400;

fn now() -> time::OffsetDateTime {
    time::macros::datetime!(2026-01-01 00:00:00 UTC)
}

const TEST_FIELDS: [&str; 6] = [
    "name",
    "expect",
    "expectMissingAllow",
    "expectMatched",
    "source",
    "note",
];

fn run_decision_case(case: &Value) -> Result<(), String> {
    let mut sim = case.clone();
    if let Some(obj) = sim.as_object_mut() {
        for f in TEST_FIELDS {
            obj.remove(f);
        }
    }
    let (sims, _) =
        parse_simulations(&sim.to_string(), now()).map_err(|e| format!("input rejected: {e}"))?;
    let sim = sims.first().ok_or("no simulation")?;
    let decision = sim.evaluate();
    let result = sim.result_json(&decision);
    let got = result["decision"].as_str().unwrap_or_default();
    let want = case["expect"].as_str().ok_or("missing \"expect\"")?;
    if got != want {
        return Err(format!("expected {want}, got {got}: {result}"));
    }
    if let Some(missing) = case.get("expectMissingAllow").and_then(Value::as_str) {
        if result["missingAllow"].as_str() != Some(missing) {
            return Err(format!("expected missingAllow {missing}: {result}"));
        }
    }
    if let Some(expected) = case.get("expectMatched").and_then(Value::as_array) {
        let matched = result["matchedStatements"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for e in expected {
            let found = matched
                .iter()
                .any(|m| m["policy"] == e["policy"] && m["statementIndex"] == e["statementIndex"]);
            if !found {
                return Err(format!("expected matched statement {e}: {result}"));
            }
        }
    }
    Ok(())
}

fn run_validation_case(case: &Value) -> Result<(), String> {
    let text = match &case["validate"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let kind: PolicyKind = case["kind"].as_str().unwrap_or("identity").parse()?;
    let want_valid = case["valid"].as_bool().ok_or("missing \"valid\"")?;
    let findings = validate(&text, kind);
    let first_error = findings.iter().find(|f| f.is_error());
    match (want_valid, first_error) {
        (true, Some(e)) => Err(format!("expected valid, got: {e}")),
        (false, None) => Err(format!(
            "expected an error, got none ({} warnings)",
            findings.iter().filter(|f| !Finding::is_error(f)).count()
        )),
        (false, Some(e)) => match case.get("message").and_then(Value::as_str) {
            Some(m) if !e.to_string().contains(m) => {
                Err(format!("expected an error containing {m:?}, got: {e}"))
            }
            _ => Ok(()),
        },
        (true, None) => Ok(()),
    }
}

#[test]
fn decision_and_validation_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/cases exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut names = HashSet::new();
    let mut failures = Vec::new();
    let mut count = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable case file");
        let cases: Vec<Value> = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not a JSON array of cases: {e}", file.display()));
        let file_name = file
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (i, case) in cases.iter().enumerate() {
            count += 1;
            let name = case["name"].as_str().unwrap_or("(unnamed)").to_owned();
            if !names.insert(name.clone()) {
                failures.push(format!("{file_name}[{i}] {name}: duplicate case name"));
            }
            let outcome = if case.get("validate").is_some() {
                run_validation_case(case)
            } else {
                run_decision_case(case)
            };
            if let Err(e) = outcome {
                failures.push(format!("{file_name}[{i}] {name}: {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        count >= MINIMUM_CASES,
        "only {count} cases; the suite promises at least {MINIMUM_CASES}"
    );
}
