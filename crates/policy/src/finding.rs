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
    /// The first error as AWS's `MalformedPolicyDocument` message: without our location, and
    /// cut to AWS's sentence where ours adds a detail to it.
    pub fn aws_message(&self) -> String {
        let Some(first) = self.findings.iter().find(|f| f.is_error()) else {
            return "Syntax errors in policy.".to_owned();
        };
        let message = first.message.as_str();
        for sentence in AWS_SENTENCES {
            let stem = sentence.trim_end_matches('.');
            if message.starts_with(&format!("{stem}:")) || message.contains(sentence) {
                return (*sentence).to_owned();
            }
        }
        message.to_owned()
    }
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
