//! GetAccountAuthorizationDetails: every user, group, role and managed policy of the account
//! with the policies that bear on them, in one (paginated) answer.

use portcullis_iam::aws_managed::AWS_MANAGED;
use portcullis_iam::model::{Group, ManagedPolicy, PolicyDocument, Role, User};
use portcullis_iam::ops::policies::{self, UsageCounts};
use portcullis_iam::state::AccountState;

use super::{Call, CallKeys, page_footer, write_tags};
use crate::error::ApiError;
use crate::xml::{Xml, url_encode};

/// One entry of the answer, in the order AWS lists them.
enum Entry<'a> {
    User(&'a User),
    Group(&'a Group),
    Role(&'a Role),
    Policy(&'a ManagedPolicy),
}

impl Entry<'_> {
    fn key(&self) -> String {
        match self {
            Entry::User(u) => format!("user/{}", u.name.to_lowercase()),
            Entry::Group(g) => format!("group/{}", g.name.to_lowercase()),
            Entry::Role(r) => format!("role/{}", r.name.to_lowercase()),
            Entry::Policy(p) => format!("policy/{}", p.arn),
        }
    }
}

const FILTERS: [&str; 5] = [
    "User",
    "Role",
    "Group",
    "LocalManagedPolicy",
    "AWSManagedPolicy",
];

pub fn get_account_authorization_details(call: &Call<'_>) -> Result<Xml, ApiError> {
    let filter = call.params.list("Filter");
    if let Some(bad) = filter.iter().find(|f| !FILTERS.contains(&f.as_str())) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{bad}' at 'filter' failed to satisfy constraint: Member must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]"
        )));
    }
    let wants = |kind: &str| filter.is_empty() || filter.iter().any(|f| f == kind);
    call.authorize(
        "iam:GetAccountAuthorizationDetails",
        "*",
        CallKeys::default(),
    )?;
    let account = call.snapshot.state.account(call.account())?;

    let usage = UsageCounts::of(account);
    let mut entries: Vec<Entry<'_>> = Vec::new();
    if wants("User") {
        entries.extend(account.users.values().map(Entry::User));
    }
    if wants("Group") {
        entries.extend(account.groups.values().map(Entry::Group));
    }
    if wants("Role") {
        entries.extend(account.roles.values().map(Entry::Role));
    }
    if wants("LocalManagedPolicy") {
        entries.extend(account.policies.values().map(Entry::Policy));
    }
    if wants("AWSManagedPolicy") {
        // AWS lists the AWS managed policies that are in use in the account.
        entries.extend(
            AWS_MANAGED
                .iter()
                .filter(|p| usage.get(&p.arn) != (0, 0))
                .map(Entry::Policy),
        );
    }
    let (page, next) = call.paginate(entries, Entry::key)?;

    let mut x = Xml::new();
    x.list(
        "UserDetailList",
        page.iter().filter_map(|e| match e {
            Entry::User(u) => Some(*u),
            _ => None,
        }),
        |x, u| write_user(x, call, account, u),
    );
    x.list(
        "GroupDetailList",
        page.iter().filter_map(|e| match e {
            Entry::Group(g) => Some(*g),
            _ => None,
        }),
        |x, g| {
            x.text("Path", &g.path)
                .text("GroupName", &g.name)
                .text("GroupId", &g.group_id)
                .text("Arn", &call.arn("group", &g.path, &g.name))
                .text("CreateDate", &g.create_date);
            write_inline(x, "GroupPolicyList", g.inline_policies.iter());
            write_attached(x, account, &g.attached_policies);
        },
    );
    x.list(
        "RoleDetailList",
        page.iter().filter_map(|e| match e {
            Entry::Role(r) => Some(*r),
            _ => None,
        }),
        |x, r| write_role(x, call, account, r),
    );
    x.list(
        "Policies",
        page.iter().filter_map(|e| match e {
            Entry::Policy(p) => Some(*p),
            _ => None,
        }),
        |x, p| write_policy(x, &usage, p),
    );
    page_footer(&mut x, next);
    Ok(x)
}

fn write_inline<'a>(
    x: &mut Xml,
    name: &str,
    inline: impl Iterator<Item = (&'a String, &'a PolicyDocument)>,
) {
    x.list(name, inline, |x, (policy_name, doc)| {
        x.text("PolicyName", policy_name)
            .text("PolicyDocument", &url_encode(&doc.text));
    });
}

fn write_attached(x: &mut Xml, account: &AccountState, arns: &[String]) {
    x.list(
        "AttachedManagedPolicies",
        arns.iter().filter_map(|a| policies::find(account, a).ok()),
        |x, p| {
            x.text("PolicyName", &p.name).text("PolicyArn", &p.arn);
        },
    );
}

fn write_boundary(x: &mut Xml, boundary: Option<&str>) {
    if let Some(arn) = boundary {
        x.elem("PermissionsBoundary", |x| {
            x.text("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
                .text("PermissionsBoundaryArn", arn);
        });
    }
}

fn write_user(x: &mut Xml, call: &Call<'_>, account: &AccountState, u: &User) {
    x.text("Path", &u.path)
        .text("UserName", &u.name)
        .text("UserId", &u.user_id)
        .text("Arn", &call.arn("user", &u.path, &u.name))
        .text("CreateDate", &u.create_date);
    write_inline(x, "UserPolicyList", u.inline_policies.iter());
    x.list("GroupList", &u.groups, |x, g| {
        x.text_only(g);
    });
    write_attached(x, account, &u.attached_policies);
    write_boundary(x, u.permissions_boundary.as_deref());
    if !u.tags.is_empty() {
        write_tags(x, &u.tags);
    }
}

fn write_role(x: &mut Xml, call: &Call<'_>, account: &AccountState, r: &Role) {
    x.text("Path", &r.path)
        .text("RoleName", &r.name)
        .text("RoleId", &r.role_id)
        .text("Arn", &call.arn("role", &r.path, &r.name))
        .text("CreateDate", &r.create_date)
        .text(
            "AssumeRolePolicyDocument",
            &url_encode(&r.assume_role_policy.text),
        );
    write_inline(x, "RolePolicyList", r.inline_policies.iter());
    write_attached(x, account, &r.attached_policies);
    write_boundary(x, r.permissions_boundary.as_deref());
    if !r.tags.is_empty() {
        write_tags(x, &r.tags);
    }
    if let Some(used) = &r.last_used {
        x.elem("RoleLastUsed", |x| {
            x.text("LastUsedDate", &used.last_used_date)
                .text("Region", &used.region);
        });
    }
}

fn write_policy(x: &mut Xml, usage: &UsageCounts<'_>, p: &ManagedPolicy) {
    super::policies::write_policy_summary(x, usage, p, true);
    x.list("PolicyVersionList", &p.versions, |x, v| {
        x.text("Document", &url_encode(&v.document.text))
            .text("VersionId", &v.version_id)
            .bool("IsDefaultVersion", v.version_id == p.default_version_id)
            .text("CreateDate", &v.create_date);
    });
}
