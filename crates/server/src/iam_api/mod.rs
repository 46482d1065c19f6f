//! The IAM API (2010-05-08): one handler per action. Every handler authorizes its call with
//! [`Call::authorize`] before it reads or changes anything; the dispatcher refuses to answer
//! for a handler that did not.

mod access_advisor;
mod access_keys;
mod account;
mod authorization_details;
mod groups;
mod instance_profiles;
mod login_profiles;
mod mfa;
mod model_constraints;
mod model_validation;
mod policies;
mod providers;
mod roles;
mod server_certificates;
mod service_credentials;
mod signing_certificates;
mod ssh_keys;
mod target;
mod users;

use std::cell::Cell;
use std::sync::Arc;

use portcullis_iam::model::Tag;
use portcullis_iam::{IamService, Snapshot};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::query::Params;
use crate::xml::Xml;

pub const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// What a handler sees of its request.
pub struct Call<'a> {
    pub params: &'a Params,
    pub caller: &'a Caller,
    pub service: &'a IamService,
    pub snapshot: Arc<Snapshot>,
    pub env: &'a RequestEnv,
    authorized: Cell<bool>,
}

pub use crate::authz::{CallKeys, RequestEnv};
pub use target::{Entity, Target};

type Handler = fn(&Call<'_>) -> Result<Xml, ApiError>;

/// Every IAM action served, with its handler: the dispatch table.
const HANDLERS: &[(&str, Handler)] = &[
    ("CreateUser", users::create_user),
    ("GetUser", users::get_user),
    ("ListUsers", users::list_users),
    ("UpdateUser", users::update_user),
    ("DeleteUser", users::delete_user),
    ("TagUser", users::tag_user),
    ("UntagUser", users::untag_user),
    ("ListUserTags", users::list_user_tags),
    (
        "PutUserPermissionsBoundary",
        users::put_user_permissions_boundary,
    ),
    (
        "DeleteUserPermissionsBoundary",
        users::delete_user_permissions_boundary,
    ),
    ("CreateGroup", groups::create_group),
    ("GetGroup", groups::get_group),
    ("ListGroups", groups::list_groups),
    ("UpdateGroup", groups::update_group),
    ("DeleteGroup", groups::delete_group),
    ("AddUserToGroup", groups::add_user_to_group),
    ("RemoveUserFromGroup", groups::remove_user_from_group),
    ("ListGroupsForUser", groups::list_groups_for_user),
    ("CreatePolicy", policies::create_policy),
    ("GetPolicy", policies::get_policy),
    ("ListPolicies", policies::list_policies),
    ("DeletePolicy", policies::delete_policy),
    ("CreatePolicyVersion", policies::create_policy_version),
    ("GetPolicyVersion", policies::get_policy_version),
    ("ListPolicyVersions", policies::list_policy_versions),
    ("DeletePolicyVersion", policies::delete_policy_version),
    (
        "SetDefaultPolicyVersion",
        policies::set_default_policy_version,
    ),
    ("ListEntitiesForPolicy", policies::list_entities_for_policy),
    ("AttachUserPolicy", policies::attach_user_policy),
    ("DetachUserPolicy", policies::detach_user_policy),
    (
        "ListAttachedUserPolicies",
        policies::list_attached_user_policies,
    ),
    ("AttachGroupPolicy", policies::attach_group_policy),
    ("DetachGroupPolicy", policies::detach_group_policy),
    (
        "ListAttachedGroupPolicies",
        policies::list_attached_group_policies,
    ),
    ("PutUserPolicy", policies::put_user_policy),
    ("GetUserPolicy", policies::get_user_policy),
    ("DeleteUserPolicy", policies::delete_user_policy),
    ("ListUserPolicies", policies::list_user_policies),
    ("PutGroupPolicy", policies::put_group_policy),
    ("GetGroupPolicy", policies::get_group_policy),
    ("DeleteGroupPolicy", policies::delete_group_policy),
    ("ListGroupPolicies", policies::list_group_policies),
    ("CreateRole", roles::create_role),
    ("GetRole", roles::get_role),
    ("ListRoles", roles::list_roles),
    ("UpdateRole", roles::update_role),
    ("UpdateRoleDescription", roles::update_role_description),
    ("UpdateAssumeRolePolicy", roles::update_assume_role_policy),
    ("DeleteRole", roles::delete_role),
    ("TagRole", roles::tag_role),
    ("UntagRole", roles::untag_role),
    ("ListRoleTags", roles::list_role_tags),
    (
        "PutRolePermissionsBoundary",
        roles::put_role_permissions_boundary,
    ),
    (
        "DeleteRolePermissionsBoundary",
        roles::delete_role_permissions_boundary,
    ),
    ("AttachRolePolicy", policies::attach_role_policy),
    ("DetachRolePolicy", policies::detach_role_policy),
    (
        "ListAttachedRolePolicies",
        policies::list_attached_role_policies,
    ),
    ("PutRolePolicy", policies::put_role_policy),
    ("GetRolePolicy", policies::get_role_policy),
    ("DeleteRolePolicy", policies::delete_role_policy),
    ("ListRolePolicies", policies::list_role_policies),
    (
        "CreateInstanceProfile",
        instance_profiles::create_instance_profile,
    ),
    (
        "GetInstanceProfile",
        instance_profiles::get_instance_profile,
    ),
    (
        "ListInstanceProfiles",
        instance_profiles::list_instance_profiles,
    ),
    (
        "DeleteInstanceProfile",
        instance_profiles::delete_instance_profile,
    ),
    (
        "AddRoleToInstanceProfile",
        instance_profiles::add_role_to_instance_profile,
    ),
    (
        "RemoveRoleFromInstanceProfile",
        instance_profiles::remove_role_from_instance_profile,
    ),
    (
        "ListInstanceProfilesForRole",
        instance_profiles::list_instance_profiles_for_role,
    ),
    (
        "TagInstanceProfile",
        instance_profiles::tag_instance_profile,
    ),
    (
        "UntagInstanceProfile",
        instance_profiles::untag_instance_profile,
    ),
    (
        "ListInstanceProfileTags",
        instance_profiles::list_instance_profile_tags,
    ),
    ("CreateAccessKey", access_keys::create_access_key),
    ("ListAccessKeys", access_keys::list_access_keys),
    ("UpdateAccessKey", access_keys::update_access_key),
    ("DeleteAccessKey", access_keys::delete_access_key),
    (
        "GetAccessKeyLastUsed",
        access_keys::get_access_key_last_used,
    ),
    (
        "GetAccountAuthorizationDetails",
        authorization_details::get_account_authorization_details,
    ),
    ("CreateLoginProfile", login_profiles::create_login_profile),
    ("GetLoginProfile", login_profiles::get_login_profile),
    ("UpdateLoginProfile", login_profiles::update_login_profile),
    ("DeleteLoginProfile", login_profiles::delete_login_profile),
    ("ChangePassword", login_profiles::change_password),
    (
        "UpdateAccountPasswordPolicy",
        account::update_account_password_policy,
    ),
    (
        "GetAccountPasswordPolicy",
        account::get_account_password_policy,
    ),
    (
        "DeleteAccountPasswordPolicy",
        account::delete_account_password_policy,
    ),
    ("CreateAccountAlias", account::create_account_alias),
    ("ListAccountAliases", account::list_account_aliases),
    ("DeleteAccountAlias", account::delete_account_alias),
    ("GetAccountSummary", account::get_account_summary),
    (
        "SetSecurityTokenServicePreferences",
        account::set_security_token_service_preferences,
    ),
    (
        "GenerateCredentialReport",
        account::generate_credential_report,
    ),
    ("GetCredentialReport", account::get_credential_report),
    (
        "GenerateServiceLastAccessedDetails",
        access_advisor::generate_service_last_accessed_details,
    ),
    (
        "GetServiceLastAccessedDetails",
        access_advisor::get_service_last_accessed_details,
    ),
    (
        "GetServiceLastAccessedDetailsWithEntities",
        access_advisor::get_service_last_accessed_details_with_entities,
    ),
    (
        "ListPoliciesGrantingServiceAccess",
        access_advisor::list_policies_granting_service_access,
    ),
    (
        "CreateServiceSpecificCredential",
        service_credentials::create_service_specific_credential,
    ),
    (
        "ListServiceSpecificCredentials",
        service_credentials::list_service_specific_credentials,
    ),
    (
        "ResetServiceSpecificCredential",
        service_credentials::reset_service_specific_credential,
    ),
    (
        "UpdateServiceSpecificCredential",
        service_credentials::update_service_specific_credential,
    ),
    (
        "DeleteServiceSpecificCredential",
        service_credentials::delete_service_specific_credential,
    ),
    ("UploadSSHPublicKey", ssh_keys::upload_ssh_public_key),
    ("GetSSHPublicKey", ssh_keys::get_ssh_public_key),
    ("ListSSHPublicKeys", ssh_keys::list_ssh_public_keys),
    ("UpdateSSHPublicKey", ssh_keys::update_ssh_public_key),
    ("DeleteSSHPublicKey", ssh_keys::delete_ssh_public_key),
    (
        "UploadSigningCertificate",
        signing_certificates::upload_signing_certificate,
    ),
    (
        "ListSigningCertificates",
        signing_certificates::list_signing_certificates,
    ),
    (
        "UpdateSigningCertificate",
        signing_certificates::update_signing_certificate,
    ),
    (
        "DeleteSigningCertificate",
        signing_certificates::delete_signing_certificate,
    ),
    ("TagPolicy", policies::tag_policy),
    ("UntagPolicy", policies::untag_policy),
    ("ListPolicyTags", policies::list_policy_tags),
    (
        "CreateOpenIDConnectProvider",
        providers::create_open_id_connect_provider,
    ),
    (
        "GetOpenIDConnectProvider",
        providers::get_open_id_connect_provider,
    ),
    (
        "ListOpenIDConnectProviders",
        providers::list_open_id_connect_providers,
    ),
    (
        "DeleteOpenIDConnectProvider",
        providers::delete_open_id_connect_provider,
    ),
    (
        "AddClientIDToOpenIDConnectProvider",
        providers::add_client_id_to_open_id_connect_provider,
    ),
    (
        "RemoveClientIDFromOpenIDConnectProvider",
        providers::remove_client_id_from_open_id_connect_provider,
    ),
    (
        "UpdateOpenIDConnectProviderThumbprint",
        providers::update_open_id_connect_provider_thumbprint,
    ),
    (
        "TagOpenIDConnectProvider",
        providers::tag_open_id_connect_provider,
    ),
    (
        "UntagOpenIDConnectProvider",
        providers::untag_open_id_connect_provider,
    ),
    (
        "ListOpenIDConnectProviderTags",
        providers::list_open_id_connect_provider_tags,
    ),
    ("CreateSAMLProvider", providers::create_saml_provider),
    ("GetSAMLProvider", providers::get_saml_provider),
    ("ListSAMLProviders", providers::list_saml_providers),
    ("UpdateSAMLProvider", providers::update_saml_provider),
    ("DeleteSAMLProvider", providers::delete_saml_provider),
    ("TagSAMLProvider", providers::tag_saml_provider),
    ("UntagSAMLProvider", providers::untag_saml_provider),
    ("ListSAMLProviderTags", providers::list_saml_provider_tags),
    (
        "UploadServerCertificate",
        server_certificates::upload_server_certificate,
    ),
    (
        "GetServerCertificate",
        server_certificates::get_server_certificate,
    ),
    (
        "ListServerCertificates",
        server_certificates::list_server_certificates,
    ),
    (
        "UpdateServerCertificate",
        server_certificates::update_server_certificate,
    ),
    (
        "DeleteServerCertificate",
        server_certificates::delete_server_certificate,
    ),
    (
        "TagServerCertificate",
        server_certificates::tag_server_certificate,
    ),
    (
        "UntagServerCertificate",
        server_certificates::untag_server_certificate,
    ),
    (
        "ListServerCertificateTags",
        server_certificates::list_server_certificate_tags,
    ),
    ("CreateVirtualMFADevice", mfa::create_virtual_mfa_device),
    ("EnableMFADevice", mfa::enable_mfa_device),
    ("ResyncMFADevice", mfa::resync_mfa_device),
    ("DeactivateMFADevice", mfa::deactivate_mfa_device),
    ("DeleteVirtualMFADevice", mfa::delete_virtual_mfa_device),
    ("ListMFADevices", mfa::list_mfa_devices),
    ("ListVirtualMFADevices", mfa::list_virtual_mfa_devices),
    ("GetMFADevice", mfa::get_mfa_device),
    ("TagMFADevice", mfa::tag_mfa_device),
    ("UntagMFADevice", mfa::untag_mfa_device),
    ("ListMFADeviceTags", mfa::list_mfa_device_tags),
];

/// The handler of an IAM action.
fn handler(action: &str) -> Option<Handler> {
    static BY_NAME: std::sync::LazyLock<std::collections::HashMap<&'static str, Handler>> =
        std::sync::LazyLock::new(|| HANDLERS.iter().copied().collect());
    BY_NAME.get(action).copied()
}

/// The names of the IAM actions served (for tests that walk the whole dispatch table).
pub fn action_names() -> impl Iterator<Item = &'static str> {
    HANDLERS.iter().map(|(name, _)| *name)
}

/// Runs one IAM action for an authenticated caller.
pub fn dispatch(
    action: &str,
    params: &Params,
    caller: &Caller,
    service: &IamService,
    env: &RequestEnv,
) -> Result<Xml, ApiError> {
    let Some(handler) = handler(action) else {
        return Err(ApiError::new(
            "InvalidAction",
            400,
            format!("Could not find operation {action} for version 2010-05-08"),
        ));
    };
    model_constraints::check(action, params)?;
    let call = Call {
        params,
        caller,
        service,
        snapshot: service.snapshot(),
        env,
        authorized: Cell::new(false),
    };
    let result = handler(&call);
    if result.is_ok() && !call.authorized.get() {
        tracing::error!(action, "handler answered without authorizing the call");
        return Err(ApiError::new(
            "ServiceFailure",
            500,
            "The request was not authorized.",
        ));
    }
    result
}

impl Call<'_> {
    /// The caller's account.
    pub fn account(&self) -> &str {
        &self.caller.account_id
    }

    /// `arn:aws:iam::A:user/path/name` and the like.
    pub fn arn(&self, kind: &str, path: &str, name: &str) -> String {
        portcullis_iam::ops::entity_arn(self.account(), kind, path, name)
    }

    /// Authorizes `action` on `resource` for the caller, with the global condition keys and
    /// `keys`. AccessDenied says who was denied what, as AWS's messages do.
    pub fn authorize(
        &self,
        action: &str,
        resource: &str,
        keys: CallKeys<'_>,
    ) -> Result<(), ApiError> {
        self.authorized.set(true);
        if self.caller.identity == crate::auth::Identity::Root && !self.caller.is_session() {
            // The account's root user, in its own account, is not asked about (as in AWS);
            // the trail still records what it acted on.
            crate::audit::note_root(action, resource);
            return Ok(());
        }
        crate::authz::authorize(
            self.service,
            self.caller,
            &self.snapshot,
            self.env,
            &crate::authz::Question {
                action,
                resource,
                keys,
                resource_policy: None,
                resource_account: None,
            },
        )
    }

    /// `MaxItems` and `Marker` applied to `items`, sorted as given; the marker is the key of
    /// the first item of the next page.
    pub fn paginate<T>(
        &self,
        items: Vec<T>,
        key: impl Fn(&T) -> String,
    ) -> Result<(Vec<T>, Option<String>), ApiError> {
        let max = self.params.int("MaxItems", 1, 1000)?.unwrap_or(100) as usize;
        let start = match self.params.get("Marker") {
            Some(marker) => items
                .iter()
                .position(|i| key(i) == marker)
                .ok_or_else(|| ApiError::validation("Invalid Marker."))?,
            None => 0,
        };
        let mut rest: Vec<T> = items.into_iter().skip(start).collect();
        let next = if rest.len() > max {
            Some(key(&rest[max]))
        } else {
            None
        };
        rest.truncate(max);
        Ok((rest, next))
    }
}

/// `<IsTruncated>` and `<Marker>` for a page.
pub fn page_footer(x: &mut Xml, next: Option<String>) {
    x.bool("IsTruncated", next.is_some());
    x.opt("Marker", next.as_deref());
}

/// `<Tags>` of an entity.
pub fn write_tags(x: &mut Xml, tags: &[Tag]) {
    x.list("Tags", tags, |x, t| {
        x.text("Key", &t.key).text("Value", &t.value);
    });
}

/// A page of an entity's tags (`List*Tags`), with `MaxItems` and `Marker`.
pub fn tag_page(call: &Call<'_>, tags: &[Tag]) -> Result<Xml, ApiError> {
    let (page, next) = call.paginate(tags.iter().collect(), |t| t.key.clone())?;
    let mut x = Xml::new();
    write_tags(&mut x, &page.into_iter().cloned().collect::<Vec<_>>());
    page_footer(&mut x, next);
    Ok(x)
}
