//! AWS managed policies (`arn:aws:iam::aws:policy/...`): built in, read-only, attachable in
//! every account.

use std::sync::LazyLock;

use portcullis_policy::PolicyKind;

use crate::model::{ManagedPolicy, PolicyDocument, PolicyVersion};

const CREATED: &str = "2015-02-06T18:39:46Z";

const POLICIES: &[(&str, &str, &str, &str)] = &[
    (
        "AdministratorAccess",
        "ANPAIWMBCKSKIEE64ZLYK",
        "Provides full access to AWS services and resources.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "PowerUserAccess",
        "ANPAJYRXTHIB4FOVS3ZXS",
        "Provides full access to AWS services and resources, but does not allow management of Users and groups.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeOrganization","account:ListRegions","account:GetAccountInformation"],"Resource":"*"}]}"#,
    ),
    (
        "ReadOnlyAccess",
        "ANPAILL3HVNFSB6DCOWYQ",
        "Provides read-only access to AWS services and resources.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["*:Get*","*:List*","*:Describe*","*:BatchGet*","*:View*","*:Search*","*:Lookup*"],"Resource":"*"}]}"#,
    ),
    (
        "IAMFullAccess",
        "ANPAI7XKCFMBPM3QQRRVQ",
        "Provides full access to IAM via the AWS Management Console.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","organizations:DescribeAccount","organizations:DescribeOrganization","organizations:DescribeOrganizationalUnit","organizations:DescribePolicy","organizations:ListChildren","organizations:ListParents","organizations:ListPoliciesForTarget","organizations:ListRoots","organizations:ListPolicies","organizations:ListTargetsForPolicy"],"Resource":"*"}]}"#,
    ),
    (
        "IAMReadOnlyAccess",
        "ANPAJKSO7NDY4T57MWDSQ",
        "Provides read only access to IAM via the AWS Management Console.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GenerateCredentialReport","iam:GenerateServiceLastAccessedDetails","iam:Get*","iam:List*","iam:SimulateCustomPolicy","iam:SimulatePrincipalPolicy"],"Resource":"*"}]}"#,
    ),
    (
        "IAMUserChangePassword",
        "ANPAJ4L4MM2A7QIEB56MS",
        "Provides the ability for an IAM user to change their own password.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:ChangePassword"],"Resource":["arn:aws:iam::*:user/${aws:username}"]},{"Effect":"Allow","Action":["iam:GetAccountPasswordPolicy"],"Resource":"*"}]}"#,
    ),
];

/// The built-in policies, parsed once.
pub static AWS_MANAGED: LazyLock<Vec<ManagedPolicy>> = LazyLock::new(|| {
    POLICIES
        .iter()
        .filter_map(|(name, id, description, text)| {
            let document = PolicyDocument::parse(text, PolicyKind::Identity).ok()?;
            Some(ManagedPolicy {
                policy_id: (*id).to_owned(),
                name: (*name).to_owned(),
                path: "/".to_owned(),
                arn: format!("arn:aws:iam::aws:policy/{name}"),
                description: Some((*description).to_owned()),
                create_date: CREATED.to_owned(),
                update_date: CREATED.to_owned(),
                default_version_id: "v1".to_owned(),
                versions: vec![PolicyVersion {
                    version_id: "v1".to_owned(),
                    document,
                    create_date: CREATED.to_owned(),
                }],
                next_version: 2,
                tags: Vec::new(),
            })
        })
        .collect()
});

/// The AWS managed policy with this ARN.
pub fn aws_managed(arn: &str) -> Option<&'static ManagedPolicy> {
    AWS_MANAGED.iter().find(|p| p.arn == arn)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_builtin_policy_parses() {
        assert_eq!(super::AWS_MANAGED.len(), super::POLICIES.len());
    }
}
