//! Findings: what is wrong with a policy document, and where.

use std::fmt;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// AWS accepts the document, but it probably does not do what its author meant.
    Warning,
    /// AWS rejects the document (`MalformedPolicyDocument`, or `LimitExceeded` for size).
    Error,
}

/// One problem in a policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// Where in the document: `""` for the document as a whole, else e.g. `Statement[1]` or
    /// `Statement[0].Condition.StringEquals`. Statement indexes count from 0.
    pub location: String,
    /// What is wrong, worded as AWS words it where AWS has a message.
    pub message: String,
}

impl Finding {
    pub(crate) fn error(location: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Error,
            location: location.into(),
            message: message.into(),
        }
    }

    /// A warning (for checks outside this crate, such as the service authorization reference).
    pub fn warning(location: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Warning,
            location: location.into(),
            message: message.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Finding {
    /// `Statement[1]: Policy document should not specify a principal.`
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.location.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.location, self.message)
        }
    }
}

/// A policy document AWS would reject, with every error found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub findings: Vec<Finding>,
}

impl PolicyError {
    /// The first error, as one line: what an AWS-style `MalformedPolicyDocument` message shows.
    pub fn first_message(&self) -> String {
        self.findings
            .iter()
            .find(|f| f.is_error())
            .map(ToString::to_string)
            .unwrap_or_else(|| "Syntax errors in policy.".to_owned())
    }
}

/// AWS's own sentences that our messages extend with a located detail (`Syntax errors in
/// policy: unexpected end (line 1, column 9).`): the IAM API answers the sentence alone, as
/// AWS does; `portcullis policy validate` shows the detail.
const AWS_SENTENCES: &[&str] = &[
    "Syntax errors in policy.",
    "Statement IDs (SID) in a single policy must be unique.",
    "Resource vendor must be fully qualified and cannot contain regexes.",
    "AssumeRole policy may only specify STS AssumeRole actions.",
    "Has prohibited field Resource.",
];

impl PolicyError {
    /// The error AWS would answer, as AWS's `MalformedPolicyDocument` message: without our
    /// location, cut to AWS's sentence where ours adds a detail to it, and chosen as AWS
    /// chooses when several apply (the first error of the earliest [`Stage`]).
    pub fn aws_message(&self) -> String {
        self.findings
            .iter()
            .filter(|f| f.is_error())
            .map(|f| aws_form(&f.message))
            .min_by_key(|(stage, _)| *stage)
            .map(|(_, message)| message)
            .unwrap_or_else(|| "Syntax errors in policy.".to_owned())
    }
}

/// AWS's checks of a policy document, in the order it makes them (as its answers to
/// documents with several errors show): JSON and the document's shape, then what its older
/// parser refuses, then SIDs, then whether statements have actions and resources, then the
/// resources' form, then the actions' form, then the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Syntax,
    Legacy,
    UniqueSids,
    HasActions,
    HasResources,
    ResourceForm,
    ActionForm,
    Other,
}

/// Our messages for what AWS calls a syntax error (the document's shape).
const SYNTAX: &[&str] = &[
    "Syntax errors in policy",
    "Policy document contains unknown field",
    "Statement contains unknown field",
    "Duplicate field",
    "Missing required field Statement",
    "Missing required field Effect",
    "Statement must be an object",
    "A statement must be a JSON object",
    "Policy document must contain at least one statement",
    "Id must be a string",
    "Sid must be a string",
    "The policy version",
    "A statement cannot contain both Action and NotAction",
    "A statement cannot contain both Resource and NotResource",
    "Each action must be",
    "Each resource must be",
    "The action must be",
    "The resource must be",
    "Condition must be an object",
    "A condition operator takes an object",
    "Condition values must be",
];

/// A finding's place in AWS's order, and AWS's message for it.
pub fn aws_form(message: &str) -> (Stage, String) {
    const SYNTAX_ERRORS: &str = "Syntax errors in policy.";
    const LEGACY: &str = "The policy failed legacy parsing";
    if let Some(rest) = message.strip_prefix("Invalid effect ") {
        // A known effect in another case is what the older parser refuses; anything else is
        // not an effect at all.
        let value = rest.strip_prefix('"').and_then(|r| r.split('"').next());
        let known = value
            .is_some_and(|v| v.eq_ignore_ascii_case("allow") || v.eq_ignore_ascii_case("deny"));
        return if known {
            (Stage::Legacy, LEGACY.to_owned())
        } else {
            (Stage::Syntax, SYNTAX_ERRORS.to_owned())
        };
    }
    if SYNTAX.iter().any(|p| message.starts_with(p)) {
        return (Stage::Syntax, SYNTAX_ERRORS.to_owned());
    }
    // A condition value its operator cannot read (a date, a number, an address).
    if message.starts_with(LEGACY)
        || (message.starts_with("Invalid value ") && message.contains(" condition on "))
    {
        return (Stage::Legacy, LEGACY.to_owned());
    }
    let stage = if message.starts_with("Statement IDs (SID) in a single policy must be unique") {
        Stage::UniqueSids
    } else if message == "Policy statement must contain actions." {
        Stage::HasActions
    } else if message == "Policy statement must contain resources." {
        Stage::HasResources
    } else if message.contains("must be in ARN format")
        || message.starts_with("Partition \"")
        || message.starts_with("IAM resource")
        || message.contains("can not contain region information")
        || message.contains("Resource vendor must be fully qualified")
    {
        Stage::ResourceForm
    } else if message.contains("Actions/Conditions must be prefaced by a vendor")
        || message.contains("Actions/Condition can contain only one colon")
        || message.contains(": Vendor ")
    {
        Stage::ActionForm
    } else {
        Stage::Other
    };
    (stage, aws_sentence(message))
}

/// `message` cut to AWS's sentence: our `Action "x": ` location dropped, and our detail after
/// one of [`AWS_SENTENCES`].
fn aws_sentence(message: &str) -> String {
    let message = match message.strip_prefix("Action \"") {
        Some(rest) => rest.split_once("\": ").map_or(message, |(_, m)| m),
        None => message,
    };
    for sentence in AWS_SENTENCES {
        let stem = sentence.trim_end_matches('.');
        if message.starts_with(&format!("{stem}:")) || message.contains(sentence) {
            return (*sentence).to_owned();
        }
    }
    message.to_owned()
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let mut first = true;
        for finding in self.findings.iter().filter(|f| f.is_error()) {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{finding}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyError {}

#[cfg(test)]
mod aws_message_tests {
    use super::*;

    fn error(location: &str, message: &str) -> PolicyError {
        PolicyError {
            findings: vec![
                Finding::warning("", "a warning first"),
                Finding::error(location, message),
            ],
        }
    }

    #[test]
    fn the_iam_api_answers_awss_sentence_without_our_location() {
        for (ours, aws) in [
            (
                "Syntax errors in policy: expected value (line 1, column 2).",
                "Syntax errors in policy.",
            ),
            (
                "Statement IDs (SID) in a single policy must be unique: \"a\".",
                "Statement IDs (SID) in a single policy must be unique.",
            ),
            (
                "Resource x:*:y: Resource vendor must be fully qualified and cannot contain regexes.",
                "Resource vendor must be fully qualified and cannot contain regexes.",
            ),
            (
                "Policy document should not specify a principal.",
                "Policy document should not specify a principal.",
            ),
        ] {
            let e = error("Statement[0]", ours);
            assert_eq!(e.aws_message(), aws);
            assert!(e.first_message().starts_with("Statement[0]: "));
        }
    }
}
