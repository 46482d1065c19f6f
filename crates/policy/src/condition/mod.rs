//! The Condition element: operators, typed values, and their evaluation against a request.
//!
//! Semantics (policy-semantics.md §4): keys under one operator AND, values of one key OR;
//! negated operators over several values are NOR; a missing key makes positive operators false
//! and negated ones true, except with `...IfExists` (true) and `Null`; `ForAllValues` is true
//! for a missing or empty key, `ForAnyValue` false.

pub(crate) mod values;

use std::fmt;

use ipnet::IpNet;

use crate::arn;
use crate::context::{ContextValue, RequestContext};
use crate::glob::{Glob, Piece, match_pieces};
use crate::variables::Template;

/// The base condition operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

/// What a value is compared as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    String,
    Numeric,
    Date,
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

/// How an ordered comparison is made (request value OP policy value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparison {
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Comparison::Eq => request == policy,
            Comparison::Lt => request < policy,
            Comparison::Le => request <= policy,
            Comparison::Gt => request > policy,
            Comparison::Ge => request >= policy,
        }
    }
}

impl Operator {
    const ALL: [Operator; 27] = [
        Operator::StringEquals,
        Operator::StringNotEquals,
        Operator::StringEqualsIgnoreCase,
        Operator::StringNotEqualsIgnoreCase,
        Operator::StringLike,
        Operator::StringNotLike,
        Operator::NumericEquals,
        Operator::NumericNotEquals,
        Operator::NumericLessThan,
        Operator::NumericLessThanEquals,
        Operator::NumericGreaterThan,
        Operator::NumericGreaterThanEquals,
        Operator::DateEquals,
        Operator::DateNotEquals,
        Operator::DateLessThan,
        Operator::DateLessThanEquals,
        Operator::DateGreaterThan,
        Operator::DateGreaterThanEquals,
        Operator::Bool,
        Operator::BinaryEquals,
        Operator::IpAddress,
        Operator::NotIpAddress,
        Operator::ArnEquals,
        Operator::ArnLike,
        Operator::ArnNotEquals,
        Operator::ArnNotLike,
        Operator::Null,
    ];

    /// The operator's name as AWS spells it.
    pub fn name(self) -> &'static str {
        match self {
            Operator::StringEquals => "StringEquals",
            Operator::StringNotEquals => "StringNotEquals",
            Operator::StringEqualsIgnoreCase => "StringEqualsIgnoreCase",
            Operator::StringNotEqualsIgnoreCase => "StringNotEqualsIgnoreCase",
            Operator::StringLike => "StringLike",
            Operator::StringNotLike => "StringNotLike",
            Operator::NumericEquals => "NumericEquals",
            Operator::NumericNotEquals => "NumericNotEquals",
            Operator::NumericLessThan => "NumericLessThan",
            Operator::NumericLessThanEquals => "NumericLessThanEquals",
            Operator::NumericGreaterThan => "NumericGreaterThan",
            Operator::NumericGreaterThanEquals => "NumericGreaterThanEquals",
            Operator::DateEquals => "DateEquals",
            Operator::DateNotEquals => "DateNotEquals",
            Operator::DateLessThan => "DateLessThan",
            Operator::DateLessThanEquals => "DateLessThanEquals",
            Operator::DateGreaterThan => "DateGreaterThan",
            Operator::DateGreaterThanEquals => "DateGreaterThanEquals",
            Operator::Bool => "Bool",
            Operator::BinaryEquals => "BinaryEquals",
            Operator::IpAddress => "IpAddress",
            Operator::NotIpAddress => "NotIpAddress",
            Operator::ArnEquals => "ArnEquals",
            Operator::ArnLike => "ArnLike",
            Operator::ArnNotEquals => "ArnNotEquals",
            Operator::ArnNotLike => "ArnNotLike",
            Operator::Null => "Null",
        }
    }

    pub(crate) fn family(self) -> Family {
        use Operator::*;
        match self {
            StringEquals
            | StringNotEquals
            | StringEqualsIgnoreCase
            | StringNotEqualsIgnoreCase
            | StringLike
            | StringNotLike => Family::String,
            NumericEquals
            | NumericNotEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => Family::Numeric,
            DateEquals
            | DateNotEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => Family::Date,
            Bool => Family::Bool,
            BinaryEquals => Family::Binary,
            IpAddress | NotIpAddress => Family::Ip,
            ArnEquals | ArnLike | ArnNotEquals | ArnNotLike => Family::Arn,
            Null => Family::Null,
        }
    }

    /// Negated operators: true for a missing key, NOR over several values.
    pub fn is_negated(self) -> bool {
        use Operator::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }

    /// Whether policy variables in values are substituted (String and ARN operators only).
    pub(crate) fn takes_variables(self) -> bool {
        matches!(self.family(), Family::String | Family::Arn)
    }

    fn comparison(self) -> Comparison {
        use Operator::*;
        match self {
            NumericLessThan | DateLessThan => Comparison::Lt,
            NumericLessThanEquals | DateLessThanEquals => Comparison::Le,
            NumericGreaterThan | DateGreaterThan => Comparison::Gt,
            NumericGreaterThanEquals | DateGreaterThanEquals => Comparison::Ge,
            _ => Comparison::Eq,
        }
    }

    fn from_name(name: &str) -> Option<Operator> {
        Operator::ALL
            .into_iter()
            .find(|op| op.name().eq_ignore_ascii_case(name))
    }
}

/// `ForAllValues:` or `ForAnyValue:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetQualifier {
    ForAllValues,
    ForAnyValue,
}

/// A full condition operator: an optional set qualifier, the base operator, and `IfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConditionOperator {
    pub qualifier: Option<SetQualifier>,
    pub operator: Operator,
    pub if_exists: bool,
}

impl ConditionOperator {
    /// Parses e.g. `ForAnyValue:StringLikeIfExists`. `None` for an unknown operator.
    pub fn parse(name: &str) -> Option<ConditionOperator> {
        let (qualifier, rest) = if let Some(rest) = strip_prefix_ignore_case(name, "ForAllValues:")
        {
            (Some(SetQualifier::ForAllValues), rest)
        } else if let Some(rest) = strip_prefix_ignore_case(name, "ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), rest)
        } else {
            (None, name)
        };
        if let Some(op) = Operator::from_name(rest) {
            return Some(ConditionOperator {
                qualifier,
                operator: op,
                if_exists: false,
            });
        }
        let base = strip_suffix_ignore_case(rest, "IfExists")?;
        let op = Operator::from_name(base).filter(|op| *op != Operator::Null)?;
        Some(ConditionOperator {
            qualifier,
            operator: op,
            if_exists: true,
        })
    }
}

impl fmt::Display for ConditionOperator {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.qualifier {
            Some(SetQualifier::ForAllValues) => f.write_str("ForAllValues:")?,
            Some(SetQualifier::ForAnyValue) => f.write_str("ForAnyValue:")?,
            None => {}
        }
        f.write_str(self.operator.name())?;
        if self.if_exists {
            f.write_str("IfExists")?;
        }
        Ok(())
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn strip_suffix_ignore_case<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    let tail = s.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &s[..cut])
}

/// A string value of a String or ARN condition.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TextValue {
    /// No variable: compared as a pattern (Like), exactly (Equals), or lowercased (IgnoreCase).
    Plain(Glob),
    /// ARN operators: one pattern per segment (first five), the sixth is the rest.
    ArnSegments(Box<[Glob; 6]>),
    /// Contains policy variables: resolved per request.
    Template(Template),
}

/// The values of one condition key, parsed for its operator.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    Text(Vec<TextValue>),
    Number(Vec<f64>),
    Date(Vec<i128>),
    Bool(Vec<bool>),
    Binary(Vec<Vec<u8>>),
    Ip(Vec<IpNet>),
    Null(Vec<bool>),
}

/// One `Operator: { Key: Values }` test of a statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    operator: ConditionOperator,
    /// The key as written in the policy.
    key: String,
    /// The key lowercased, for lookups.
    key_lower: Box<str>,
    /// The values as written in the policy.
    raw_values: Vec<String>,
    values: Values,
}

impl Condition {
    /// Parses one condition key's values for `operator`. `variables` says whether policy
    /// variables are substituted (Version 2012-10-17). The error names what is wrong.
    pub(crate) fn parse(
        operator: ConditionOperator,
        key: &str,
        raw_values: Vec<String>,
        variables: bool,
    ) -> Result<Condition, String> {
        let op = operator.operator;
        let bad = |v: &str, what: &str| {
            format!(
                "Invalid value \"{v}\" for {} condition on {key}: {what}.",
                op.name()
            )
        };
        let values = match op.family() {
            Family::String | Family::Arn => {
                let wildcards = matches!(
                    op,
                    Operator::StringLike
                        | Operator::StringNotLike
                        | Operator::ArnLike
                        | Operator::ArnNotLike
                        | Operator::ArnEquals
                        | Operator::ArnNotEquals
                );
                let folded = matches!(
                    op,
                    Operator::StringEqualsIgnoreCase | Operator::StringNotEqualsIgnoreCase
                );
                let arn = op.family() == Family::Arn;
                Values::Text(
                    raw_values
                        .iter()
                        .map(|v| {
                            text_value(v, variables && op.takes_variables(), wildcards, folded, arn)
                        })
                        .collect(),
                )
            }
            Family::Numeric => Values::Number(
                raw_values
                    .iter()
                    .map(|v| values::parse_number(v).ok_or_else(|| bad(v, "expected a number")))
                    .collect::<Result<_, _>>()?,
            ),
            Family::Date => Values::Date(
                raw_values
                    .iter()
                    .map(|v| {
                        values::parse_date(v)
                            .ok_or_else(|| bad(v, "expected an ISO 8601 date or epoch seconds"))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Family::Bool => Values::Bool(
                raw_values
                    .iter()
                    .map(|v| values::parse_bool(v).ok_or_else(|| bad(v, "expected true or false")))
                    .collect::<Result<_, _>>()?,
            ),
            Family::Null => Values::Null(
                raw_values
                    .iter()
                    .map(|v| values::parse_bool(v).ok_or_else(|| bad(v, "expected true or false")))
                    .collect::<Result<_, _>>()?,
            ),
            Family::Binary => Values::Binary(
                raw_values
                    .iter()
                    .map(|v| values::parse_binary(v).ok_or_else(|| bad(v, "expected base64")))
                    .collect::<Result<_, _>>()?,
            ),
            Family::Ip => Values::Ip(
                raw_values
                    .iter()
                    .map(|v| {
                        values::parse_ip_range(v)
                            .ok_or_else(|| bad(v, "expected an IP address or CIDR block"))
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        Ok(Condition {
            operator,
            key: key.to_owned(),
            key_lower: key.to_lowercase().into(),
            raw_values,
            values,
        })
    }

    pub fn operator(&self) -> ConditionOperator {
        self.operator
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn values(&self) -> &[String] {
        &self.raw_values
    }

    /// The wildcard-free role ARNs this condition requires `aws:PrincipalArn` to equal, if it
    /// is a positive test of that key. A resource policy that grants to `"*"` under such a
    /// condition names those roles, and the grant is limited as a role grant is.
    pub(crate) fn exact_principal_role_arns(&self) -> impl Iterator<Item = &str> {
        let positive = self.operator.qualifier.is_none()
            && matches!(
                self.operator.operator,
                Operator::StringEquals
                    | Operator::StringLike
                    | Operator::ArnEquals
                    | Operator::ArnLike
            );
        let applies = positive && &*self.key_lower == "aws:principalarn";
        self.raw_values
            .iter()
            .filter(move |_| applies)
            .map(String::as_str)
            .filter(|v| !v.contains(['*', '?', '$']))
            .filter(|v| {
                crate::arn::segments(v).is_some_and(|s| s[2] == "iam" && s[5].starts_with("role/"))
            })
    }

    /// Whether this condition holds for the request.
    pub(crate) fn holds(&self, context: &RequestContext) -> bool {
        let op = self.operator;
        let values: &[ContextValue] = context
            .get_lowercase(&self.key_lower)
            .map_or(&[], |entry| entry.values());
        if op.operator == Operator::Null {
            let is_null = values.iter().all(|v| v.as_str().is_empty());
            return match &self.values {
                Values::Null(wanted) => wanted.contains(&is_null),
                _ => false,
            };
        }
        let negated = op.operator.is_negated();
        match op.qualifier {
            Some(SetQualifier::ForAllValues) => {
                if values.is_empty() || (values.len() == 1 && values[0].as_str().is_empty()) {
                    return true;
                }
                values
                    .iter()
                    .all(|v| self.matches_any(v, context) != negated)
            }
            Some(SetQualifier::ForAnyValue) => {
                if values.is_empty() {
                    return op.if_exists;
                }
                values
                    .iter()
                    .any(|v| self.matches_any(v, context) != negated)
            }
            None => {
                if values.is_empty() {
                    return op.if_exists || negated;
                }
                let hit = values.iter().any(|v| self.matches_any(v, context));
                hit != negated
            }
        }
    }

    /// Whether one request value matches at least one policy value under the operator's
    /// positive form (StringNotEquals tests equality, and so on).
    fn matches_any(&self, value: &ContextValue, context: &RequestContext) -> bool {
        let op = self.operator.operator;
        match &self.values {
            Values::Text(policy) => policy
                .iter()
                .any(|p| text_matches(p, op, value.as_str(), context)),
            Values::Number(policy) => value.number().is_some_and(|n| {
                let cmp = op.comparison();
                policy.iter().any(|p| cmp.holds(n, *p))
            }),
            Values::Date(policy) => value.date().is_some_and(|d| {
                let cmp = op.comparison();
                policy.iter().any(|p| cmp.holds(d, *p))
            }),
            Values::Bool(policy) => {
                values::parse_bool(value.as_str()).is_some_and(|b| policy.contains(&b))
            }
            Values::Binary(policy) => value
                .binary()
                .is_some_and(|b| policy.iter().any(|p| p == b)),
            Values::Ip(policy) => value
                .ip()
                .is_some_and(|ip| policy.iter().any(|net| net.contains(&ip))),
            Values::Null(_) => false,
        }
    }
}

fn text_value(raw: &str, variables: bool, wildcards: bool, folded: bool, arn: bool) -> TextValue {
    if variables {
        if let Some(template) = Template::parse(raw, wildcards) {
            return TextValue::Template(template);
        }
    }
    if arn {
        if let Some(seg) = arn::segments(raw) {
            return TextValue::ArnSegments(Box::new(seg.map(Glob::new)));
        }
        return TextValue::Plain(Glob::new(raw));
    }
    if folded {
        TextValue::Plain(Glob::Exact(raw.to_lowercase().into()))
    } else if wildcards {
        TextValue::Plain(Glob::new(raw))
    } else {
        TextValue::Plain(Glob::Exact(raw.into()))
    }
}

/// Compares without allocating: both sides lowercased character by character.
fn eq_folded(policy_lower: &str, request: &str) -> bool {
    policy_lower
        .chars()
        .eq(request.chars().flat_map(char::to_lowercase))
}

fn text_matches(policy: &TextValue, op: Operator, request: &str, context: &RequestContext) -> bool {
    let folded = matches!(
        op,
        Operator::StringEqualsIgnoreCase | Operator::StringNotEqualsIgnoreCase
    );
    match policy {
        TextValue::Plain(Glob::Exact(lower)) if folded => eq_folded(lower, request),
        TextValue::Plain(glob) => glob.matches(request),
        TextValue::ArnSegments(patterns) => match arn::segments(request) {
            Some(seg) => patterns.iter().zip(seg).all(|(p, s)| p.matches(s)),
            None => false,
        },
        TextValue::Template(template) => {
            let mut pieces = Vec::new();
            if !template.resolve(context, &mut pieces) {
                return false;
            }
            if folded {
                let resolved: String = pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Lit(s) => *s,
                        Piece::Star => "*",
                        Piece::One => "?",
                    })
                    .collect();
                return eq_folded(&resolved.to_lowercase(), request);
            }
            if op.family() == Family::Arn {
                return arn_pieces_match(&pieces, request);
            }
            match_pieces(&pieces, |p| *p, request)
        }
    }
}

/// ARN matching for a resolved template: split the pieces at the first five colons of their
/// literal text, then match segment by segment.
fn arn_pieces_match(pieces: &[Piece<'_>], request: &str) -> bool {
    let Some(request_segments) = arn::segments(request) else {
        return false;
    };
    let mut segments: Vec<Vec<Piece<'_>>> = Vec::with_capacity(6);
    let mut current: Vec<Piece<'_>> = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Lit(text) => {
                let mut rest: &str = text;
                while segments.len() < 5 {
                    let Some(colon) = rest.find(':') else { break };
                    if colon > 0 {
                        current.push(Piece::Lit(&rest[..colon]));
                    }
                    segments.push(std::mem::take(&mut current));
                    rest = &rest[colon + 1..];
                }
                if !rest.is_empty() {
                    current.push(Piece::Lit(rest));
                }
            }
            other => current.push(*other),
        }
    }
    segments.push(current);
    segments.len() == 6
        && segments
            .iter()
            .zip(request_segments)
            .all(|(p, s)| match_pieces(p, |x| *x, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(op: &str, key: &str, values: &[&str]) -> Condition {
        Condition::parse(
            ConditionOperator::parse(op).unwrap(),
            key,
            values.iter().map(|s| s.to_string()).collect(),
            true,
        )
        .unwrap()
    }

    #[test]
    fn parses_operator_names() {
        let op = ConditionOperator::parse("ForAnyValue:StringLikeIfExists").unwrap();
        assert_eq!(op.qualifier, Some(SetQualifier::ForAnyValue));
        assert_eq!(op.operator, Operator::StringLike);
        assert!(op.if_exists);
        assert_eq!(op.to_string(), "ForAnyValue:StringLikeIfExists");
        assert!(ConditionOperator::parse("NullIfExists").is_none());
        assert!(ConditionOperator::parse("StringEqualz").is_none());
        assert!(ConditionOperator::parse("IfExists").is_none());
    }

    #[test]
    fn arn_like_matches_segment_by_segment() {
        let c = cond(
            "ArnLike",
            "aws:SourceArn",
            &["arn:aws:someservice:*:111122223333:finance/*"],
        );
        let mut ctx = RequestContext::new();
        ctx.insert(
            "aws:SourceArn",
            "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt",
        );
        assert!(!c.holds(&ctx));
        let s = cond(
            "StringLike",
            "aws:SourceArn",
            &["arn:aws:someservice:*:111122223333:finance/*"],
        );
        assert!(s.holds(&ctx));
    }

    #[test]
    fn arn_template_splits_on_colons() {
        let c = cond(
            "ArnLike",
            "aws:SourceArn",
            &["arn:aws:iam::${aws:PrincipalAccount}:user/*"],
        );
        let mut ctx = RequestContext::new();
        ctx.insert("aws:PrincipalAccount", "111122223333");
        ctx.insert("aws:SourceArn", "arn:aws:iam::111122223333:user/bob");
        assert!(c.holds(&ctx));
        ctx.insert("aws:SourceArn", "arn:aws:iam::999999999999:user/bob");
        assert!(!c.holds(&ctx));
    }
}
