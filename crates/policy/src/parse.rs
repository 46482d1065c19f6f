//! From JSON text to a [`Policy`]: the grammar of policy-semantics.md §2, with every error
//! collected and located (`Statement[1].Action: ...`), never a panic.

use std::collections::HashSet;

use crate::condition::{Condition, ConditionOperator};
use crate::document::{
    ActionClause, ActionPattern, Effect, Policy, PrincipalClause, ResourceClause, ResourcePattern,
    Statement, Version,
};
use crate::finding::{Finding, PolicyError};
use crate::json::Json;
use crate::principal::{PrincipalEntry, PrincipalType};

/// Parses a policy document, checking everything that does not depend on the kind of policy.
pub(crate) fn parse(text: &str) -> Result<Policy, PolicyError> {
    let mut findings = Vec::new();
    let policy = parse_into(text, false, &mut findings);
    match policy {
        Some(policy) if !findings.iter().any(Finding::is_error) => Ok(policy),
        _ => Err(PolicyError { findings }),
    }
}

/// Parses as far as possible, pushing findings; `None` when the document is not even shaped
/// like a policy.
/// `requires_resource`: the document's kind needs `Resource` or `NotResource` in every
/// statement (identity policies), reported here so that AWS's order of checks can be kept
/// even when the statement has other errors.
pub(crate) fn parse_into(
    text: &str,
    requires_resource: bool,
    findings: &mut Vec<Finding>,
) -> Option<Policy> {
    let json = match Json::parse(text) {
        Ok(json) => json,
        Err(e) => {
            findings.push(Finding::error(
                "",
                format!(
                    "Syntax errors in policy: {} (line {}, column {}).",
                    strip_position(&e.to_string()),
                    e.line(),
                    e.column()
                ),
            ));
            return None;
        }
    };
    let Json::Object(fields) = json else {
        findings.push(Finding::error(
            "",
            format!(
                "Syntax errors in policy: the document is {}, not a JSON object.",
                json.kind()
            ),
        ));
        return None;
    };
    check_duplicates(&fields, "", findings);

    let mut version = None;
    let mut id = None;
    let mut statement_json = None;
    for (key, value) in &fields {
        match key.as_str() {
            "Version" => match value {
                Json::String(v) if v == "2012-10-17" => version = Some(Version::V2012_10_17),
                Json::String(v) if v == "2008-10-17" => version = Some(Version::V2008_10_17),
                other => findings.push(Finding::error(
                    "Version",
                    format!(
                        "The policy version {} is not valid: use \"2012-10-17\" (or \"2008-10-17\").",
                        describe(other)
                    ),
                )),
            },
            "Id" => match value {
                Json::String(v) => id = Some(v.clone()),
                other => findings.push(Finding::error("Id", format!("Id must be a string, not {}.", other.kind()))),
            },
            "Statement" => statement_json = Some(value),
            other => findings.push(Finding::error("", format!("Policy document contains unknown field \"{other}\"."))),
        }
    }
    let variables = version == Some(Version::V2012_10_17);

    let Some(statement_json) = statement_json else {
        findings.push(Finding::error("", "Missing required field Statement."));
        return None;
    };
    let statement_values: Vec<&Json> = match statement_json {
        Json::Array(items) => items.iter().collect(),
        obj @ Json::Object(_) => vec![obj],
        other => {
            findings.push(Finding::error(
                "Statement",
                format!(
                    "Statement must be an object or an array of objects, not {}.",
                    other.kind()
                ),
            ));
            return None;
        }
    };
    if statement_values.is_empty() {
        findings.push(Finding::error(
            "Statement",
            "Policy document must contain at least one statement.",
        ));
    }

    let mut statements = Vec::with_capacity(statement_values.len());
    let mut sids = HashSet::new();
    for (i, value) in statement_values.into_iter().enumerate() {
        let location = format!("Statement[{i}]");
        // SIDs are compared whatever else is wrong with their statements, as AWS does.
        if let Json::Object(fields) = value
            && let Some((_, Json::String(sid))) = fields.iter().find(|(k, _)| k == "Sid")
            && !sid.is_empty()
            && !sids.insert(sid.clone())
        {
            findings.push(Finding::error(
                location.clone(),
                format!(
                    "Statement IDs (SID) in a single policy must be unique: \"{sid}\" is repeated."
                ),
            ));
        }
        if let Some(statement) =
            parse_statement(value, &location, variables, requires_resource, findings)
        {
            statements.push(statement);
        }
    }
    Some(Policy {
        version,
        id,
        statements,
    })
}

/// serde_json appends " at line L column C"; the caller reports the position itself.
fn strip_position(message: &str) -> &str {
    message.find(" at line ").map_or(message, |i| &message[..i])
}

fn describe(value: &Json) -> String {
    match value {
        Json::String(s) => format!("\"{s}\""),
        other => other.kind().to_owned(),
    }
}

fn check_duplicates(fields: &[(String, Json)], location: &str, findings: &mut Vec<Finding>) {
    let mut seen = HashSet::new();
    for (key, _) in fields {
        if !seen.insert(key.as_str()) {
            findings.push(Finding::error(
                location,
                format!("Duplicate field \"{key}\"."),
            ));
        }
    }
}

fn join(location: &str, field: &str) -> String {
    if location.is_empty() {
        field.to_owned()
    } else {
        format!("{location}.{field}")
    }
}

fn parse_statement(
    value: &Json,
    location: &str,
    variables: bool,
    requires_resource: bool,
    findings: &mut Vec<Finding>,
) -> Option<Statement> {
    let Json::Object(fields) = value else {
        findings.push(Finding::error(
            location,
            format!("A statement must be a JSON object, not {}.", value.kind()),
        ));
        return None;
    };
    check_duplicates(fields, location, findings);
    let errors_before = findings.iter().filter(|f| f.is_error()).count();

    let mut sid = None;
    let mut effect = None;
    let mut principal = None;
    let mut action: Option<ActionClause> = None;
    let mut resource: Option<ResourceClause> = None;
    let mut conditions = Vec::new();
    let mut saw = HashSet::new();

    for (key, value) in fields {
        let at = join(location, key);
        saw.insert(key.as_str());
        match key.as_str() {
            "Sid" => match value {
                Json::String(s) => sid = Some(s.clone()),
                other => findings.push(Finding::error(
                    at,
                    format!("Sid must be a string, not {}.", other.kind()),
                )),
            },
            "Effect" => match value {
                Json::String(s) if s == "Allow" => effect = Some(Effect::Allow),
                Json::String(s) if s == "Deny" => effect = Some(Effect::Deny),
                other => findings.push(Finding::error(
                    at,
                    format!(
                        "Invalid effect {}: the effect must be \"Allow\" or \"Deny\".",
                        describe(other)
                    ),
                )),
            },
            "Principal" | "NotPrincipal" => {
                if let Some(entries) = parse_principal(value, &at, findings) {
                    principal = Some(PrincipalClause {
                        negated: key == "NotPrincipal",
                        entries,
                    });
                }
            }
            "Action" | "NotAction" => {
                if let Some(list) = string_list(value, &at, "action", findings) {
                    if list.is_empty() {
                        findings.push(Finding::error(
                            location,
                            "Policy statement must contain actions.",
                        ));
                    }
                    let mut patterns = Vec::with_capacity(list.len());
                    for a in list {
                        if a != "*"
                            && let Err(message) = check_action(&a)
                        {
                            findings.push(Finding::error(
                                at.clone(),
                                format!("Action \"{a}\": {message}"),
                            ));
                        }
                        patterns.push(ActionPattern::new(&a));
                    }
                    action = Some(ActionClause {
                        negated: key == "NotAction",
                        patterns,
                    });
                }
            }
            "Resource" | "NotResource" => {
                if let Some(list) = string_list(value, &at, "resource", findings) {
                    if list.is_empty() {
                        findings.push(Finding::error(
                            location,
                            "Policy statement must contain resources.",
                        ));
                    }
                    let mut patterns = Vec::with_capacity(list.len());
                    for r in list {
                        if let Err(message) = check_resource(&r) {
                            findings.push(Finding::error(at.clone(), message));
                        }
                        patterns.push(ResourcePattern::new(&r, variables));
                    }
                    resource = Some(ResourceClause {
                        negated: key == "NotResource",
                        patterns,
                    });
                }
            }
            "Condition" => conditions = parse_conditions(value, &at, variables, findings),
            other => findings.push(Finding::error(
                location,
                format!("Statement contains unknown field \"{other}\"."),
            )),
        }
    }

    if saw.contains("Action") && saw.contains("NotAction") {
        findings.push(Finding::error(
            location,
            "A statement cannot contain both Action and NotAction.",
        ));
    }
    if saw.contains("Resource") && saw.contains("NotResource") {
        findings.push(Finding::error(
            location,
            "A statement cannot contain both Resource and NotResource.",
        ));
    }
    if saw.contains("Principal") && saw.contains("NotPrincipal") {
        findings.push(Finding::error(
            location,
            "A statement cannot contain both Principal and NotPrincipal.",
        ));
    }
    if !saw.contains("Effect") {
        findings.push(Finding::error(location, "Missing required field Effect."));
    }
    if !saw.contains("Action") && !saw.contains("NotAction") {
        findings.push(Finding::error(
            location,
            "Policy statement must contain actions.",
        ));
    }
    if requires_resource && !saw.contains("Resource") && !saw.contains("NotResource") {
        findings.push(Finding::error(
            location,
            "Policy statement must contain resources.",
        ));
    }

    let errors_after = findings.iter().filter(|f| f.is_error()).count();
    if errors_after > errors_before {
        return None;
    }
    Some(Statement {
        sid,
        effect: effect?,
        principal,
        action: action?,
        resource,
        conditions,
    })
}

/// A string, or an array of strings (a single value needs no brackets).
fn string_list(
    value: &Json,
    at: &str,
    what: &str,
    findings: &mut Vec<Finding>,
) -> Option<Vec<String>> {
    match value {
        Json::String(s) => Some(vec![s.clone()]),
        Json::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item {
                    Json::String(s) => out.push(s.clone()),
                    other => {
                        findings.push(Finding::error(
                            format!("{at}[{i}]"),
                            format!("Each {what} must be a string, not {}.", other.kind()),
                        ));
                        return None;
                    }
                }
            }
            Some(out)
        }
        other => {
            findings.push(Finding::error(
                at,
                format!(
                    "The {what} must be a string or an array of strings, not {}.",
                    other.kind()
                ),
            ));
            None
        }
    }
}

/// `service:Name`, where the service is made of letters, digits, `-` and `.` (AWS accepts
/// `s3.s:ListBucket`; wildcards allowed).
/// An action is `vendor:Name`; AWS's three messages for what is not.
fn check_action(action: &str) -> Result<(), String> {
    const PREFACED: &str =
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
    let Some((service, name)) = action.split_once(':') else {
        return Err(PREFACED.into());
    };
    if name.contains(':') {
        return Err("Actions/Condition can contain only one colon.".into());
    }
    if service.is_empty() || name.is_empty() || name.contains(char::is_whitespace) {
        return Err(PREFACED.into());
    }
    if !service
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '*' | '?'))
    {
        return Err(format!("Vendor {service} is not valid"));
    }
    Ok(())
}

/// The colons of `text` outside policy variables (`${aws:username}` has one of its own).
fn colons_outside_variables(text: &str) -> usize {
    let mut depth = 0usize;
    let mut count = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                depth += 1;
            }
            '}' if depth > 0 => depth -= 1,
            ':' if depth == 0 => count += 1,
            _ => {}
        }
    }
    count
}

/// `*` or an ARN: `arn:PARTITION:SERVICE` with a fixed service, and the rest optional (AWS
/// accepts `arn:aws:fdsasf`, which matches only itself), as AWS checks it:
/// - text without a colon is not an ARN; text with one is read as an ARN whatever its first
///   segment, so a bad partition is named as such (`x:y` → partition `y`);
/// - AWS's older parser refuses an ARN of exactly five segments, or one with six or more and
///   no service ("The policy failed legacy parsing");
/// - `arn:aws` and a service with wildcards are refused for their vendor.
fn check_resource(resource: &str) -> Result<(), String> {
    if resource == "*" {
        return Ok(());
    }
    let mut parts = resource.splitn(4, ':');
    let (arn, _partition, service) = (parts.next(), parts.next(), parts.next());
    if arn != Some("arn") {
        if let Some((_, rest)) = resource.split_once(':')
            && let Some(message) = crate::validate::partition_error(&format!("arn:{rest}"))
        {
            return Err(message);
        }
        return Err(format!(
            "Resource {resource} must be in ARN format or \"*\"."
        ));
    }
    let service = service.unwrap_or_default();
    let colons = colons_outside_variables(resource);
    if colons == 4 || (colons >= 5 && service.is_empty()) {
        return Err(format!(
            "The policy failed legacy parsing: the resource {resource} has {}.",
            if colons == 4 {
                "five segments (an ARN has six)"
            } else {
                "no service"
            }
        ));
    }
    if service.is_empty() || service.contains(['*', '?']) {
        return Err(format!(
            "Resource {resource}: Resource vendor must be fully qualified and cannot contain regexes."
        ));
    }
    Ok(())
}

fn parse_principal(
    value: &Json,
    at: &str,
    findings: &mut Vec<Finding>,
) -> Option<Vec<PrincipalEntry>> {
    match value {
        Json::String(s) if s == "*" => Some(vec![PrincipalEntry::Everyone]),
        Json::Object(fields) => {
            check_duplicates(fields, at, findings);
            if fields.is_empty() {
                findings.push(Finding::error(
                    at,
                    "Invalid principal in policy: the principal is empty.",
                ));
                return None;
            }
            let mut entries = Vec::new();
            for (key, value) in fields {
                let key_at = join(at, key);
                let Some(kind) = PrincipalType::from_key(key) else {
                    findings.push(Finding::error(
                        at,
                        format!("Invalid principal in policy: unknown principal type \"{key}\" (expected AWS, Federated, Service or CanonicalUser)."),
                    ));
                    continue;
                };
                let Some(list) = string_list(value, &key_at, "principal", findings) else {
                    continue;
                };
                if list.is_empty() {
                    findings.push(Finding::error(
                        key_at.clone(),
                        "Invalid principal in policy: the list is empty.",
                    ));
                }
                for v in list {
                    match PrincipalEntry::parse(kind, &v) {
                        Ok(entry) => entries.push(entry),
                        Err(message) => findings.push(Finding::error(
                            key_at.clone(),
                            format!("{message}: \"{key}\":\"{v}\"."),
                        )),
                    }
                }
            }
            Some(entries)
        }
        other => {
            findings.push(Finding::error(
                at,
                format!(
                    "Invalid principal in policy: expected \"*\" or an object, not {}.",
                    describe(other)
                ),
            ));
            None
        }
    }
}

fn parse_conditions(
    value: &Json,
    at: &str,
    variables: bool,
    findings: &mut Vec<Finding>,
) -> Vec<Condition> {
    let Json::Object(operators) = value else {
        findings.push(Finding::error(
            at,
            format!("Condition must be an object, not {}.", value.kind()),
        ));
        return Vec::new();
    };
    check_duplicates(operators, at, findings);
    let mut conditions = Vec::new();
    for (name, keys) in operators {
        let op_at = join(at, name);
        let Some(operator) = ConditionOperator::parse(name) else {
            // AWS accepts an unknown operator whose block is empty (it tests nothing, so it is
            // left out, as an empty block of a known operator is).
            if matches!(keys, Json::Object(k) if k.is_empty()) {
                findings.push(Finding::warning(
                    op_at,
                    format!("Unknown condition operator {name} with no keys: it tests nothing."),
                ));
            } else {
                findings.push(Finding::error(
                    at,
                    format!("Invalid Condition type : {name}."),
                ));
            }
            continue;
        };
        let Json::Object(keys) = keys else {
            findings.push(Finding::error(
                op_at,
                format!(
                    "A condition operator takes an object of keys, not {}.",
                    keys.kind()
                ),
            ));
            continue;
        };
        check_duplicates(keys, &op_at, findings);
        for (key, values) in keys {
            let key_at = join(&op_at, key);
            if key.is_empty() || key.contains(char::is_whitespace) {
                findings.push(Finding::error(
                    key_at.clone(),
                    format!("Condition key \"{key}\": Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
                ));
                continue;
            }
            if !key.contains(':') || key.starts_with(':') {
                // AWS accepts it; no request carries such a key, so the condition is decided
                // as for any key the request lacks.
                findings.push(Finding::warning(
                    key_at.clone(),
                    format!("Condition key \"{key}\" has no vendor prefix (such as aws: or s3:): no request carries it."),
                ));
            }
            let raw: Option<Vec<String>> = match values {
                Json::Array(items) => items.iter().map(Json::scalar_text).collect(),
                scalar => scalar.scalar_text().map(|s| vec![s]),
            };
            let Some(raw) = raw else {
                findings.push(Finding::error(
                    key_at,
                    "Condition values must be strings, numbers or booleans, or an array of them.",
                ));
                continue;
            };
            match Condition::parse(operator, key, raw, variables) {
                Ok(condition) => conditions.push(condition),
                Err(message) => findings.push(Finding::error(key_at, message)),
            }
        }
    }
    conditions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        match parse(text) {
            Ok(_) => Vec::new(),
            Err(e) => e.findings.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn accepts_the_whole_grammar() {
        let p = parse(
            r#"{"Version":"2012-10-17","Id":"x","Statement":{"Sid":"A1","Effect":"Allow",
            "Principal":{"AWS":["123456789012","arn:aws:iam::123456789012:user/a"],"Service":"ec2.amazonaws.com"},
            "Action":"s3:GetObject","Resource":["arn:aws:s3:::b/*"],
            "Condition":{"NumericLessThan":{"s3:max-keys":10},"Bool":{"aws:SecureTransport":true}}}}"#,
        )
        .unwrap();
        assert_eq!(p.statements.len(), 1);
        assert_eq!(p.statements[0].conditions.len(), 2);
        assert_eq!(p.statements[0].conditions[0].values(), ["10"]);
    }

    #[test]
    fn reports_errors_with_their_location() {
        assert_eq!(
            errors(
                r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Allow","Action":"x","Resource":"*"}]}"#
            ),
            [
                "Statement[1].Action: Action \"x\": Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
            ]
        );
        assert_eq!(
            errors(r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#),
            ["Statement[0]: Policy statement must contain actions."]
        );
        assert_eq!(
            errors(r#"{"Statement":{"Effect":"Permit","Action":"s3:*"}}"#),
            [
                "Statement[0].Effect: Invalid effect \"Permit\": the effect must be \"Allow\" or \"Deny\"."
            ]
        );
        assert!(
            errors(r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Effect":"Deny"}}"#)[0]
                .contains("Duplicate field")
        );
        assert!(errors("{").len() == 1);
        assert!(errors("[]")[0].contains("not a JSON object"));
        assert!(errors(r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Condition":{"StringEqualz":{"a:b":"c"}}}}"#)[0]
            .contains("Invalid Condition type : StringEqualz"));
    }
}
