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
