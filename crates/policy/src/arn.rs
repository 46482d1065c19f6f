//! ARNs as the policy language sees them: six colon-separated segments,
//! `arn:partition:service:region:account:resource`, where the sixth is everything after the fifth
//! colon (so a resource id may itself contain colons).

/// Splits an ARN into its six segments, or `None` when it has fewer than six.
pub(crate) fn segments(arn: &str) -> Option<[&str; 6]> {
    let mut parts = arn.splitn(6, ':');
    let seg = [
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    ];
    Some(seg)
}

/// Whether `s` is a 12-digit AWS account id.
pub(crate) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_six_segments_keeping_colons_in_the_resource() {
        assert_eq!(
            segments("arn:aws:s3:::bucket/a:b"),
            Some(["arn", "aws", "s3", "", "", "bucket/a:b"])
        );
        assert_eq!(segments("arn:aws:s3"), None);
    }
}
