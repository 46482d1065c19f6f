//! Last-accessed data (the access advisor): GenerateServiceLastAccessedDetails,
//! GetServiceLastAccessedDetails, GetServiceLastAccessedDetailsWithEntities and
//! ListPoliciesGrantingServiceAccess. The reports are made by `portcullis_iam::access_advisor`
//! from the attempts every authorization records (`authz.rs`).

use std::sync::Arc;

use portcullis_iam::AccessJob;
use portcullis_iam::access_advisor::{Attempt, Granularity, policies_granting};

use super::{Call, CallKeys, Entity, page_footer};
use crate::error::ApiError;
use crate::xml::Xml;

/// A time of the report as AWS writes dates (whole seconds, `Z`).
fn date(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn violation(field: &str, value: &str, constraint: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member {constraint}"
    ))
}

/// arnType: 20 to 2,048 characters.
fn check_arn(arn: &str) -> Result<(), ApiError> {
    let n = arn.chars().count();
    if (20..=2048).contains(&n) {
        Ok(())
    } else {
        Err(violation(
            "arn",
            arn,
            "must have length less than or equal to 2048 and greater than or equal to 20",
        ))
    }
}

/// serviceNamespaceType: 1 to 64 characters of `[\w-]`.
fn check_namespace(field: &str, ns: &str) -> Result<(), ApiError> {
    let n = ns.chars().count();
    if !(1..=64).contains(&n) {
        return Err(violation(
            field,
            ns,
            "must have length less than or equal to 64 and greater than or equal to 1",
        ));
    }
    if !ns
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return Err(violation(
            field,
            ns,
            "must satisfy regular expression pattern: [\\w-]*",
        ));
    }
    Ok(())
}

/// The job `JobId` names (jobIDType: exactly 36 characters), once `action` is authorized.
fn authorized_job(call: &Call<'_>, action: &str) -> Result<Arc<AccessJob>, ApiError> {
    let id = call.params.required("JobId")?;
    if id.chars().count() != 36 {
        return Err(violation(
            "jobId",
            id,
            "must have length less than or equal to 36 and greater than or equal to 36",
        ));
    }
    call.authorize(action, "*", CallKeys::default())?;
    Ok(call
        .service
        .access_report(call.account(), id, call.env.now)?)
}

/// Authorizes `action` on the entity `arn` names (with its tags), or on `arn` as given when
/// it names none of this account's users, groups, roles or policies.
fn authorize_arn(call: &Call<'_>, action: &str, arn: &str) -> Result<(), ApiError> {
    match Entity::named_by_arn(arn, call.account()) {
        Some(entity) => call
            .authorize_entity(action, entity, CallKeys::default())
            .map(|_| ()),
        None => call.authorize(action, arn, CallKeys::default()),
    }
}

pub fn generate_service_last_accessed_details(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("Arn")?;
    check_arn(arn)?;
    let granularity = match call.params.get("Granularity") {
        None => Granularity::Service,
        Some(g) => Granularity::parse(g).ok_or_else(|| {
            violation(
                "granularity",
                g,
                "must satisfy enum value set: [SERVICE_LEVEL, ACTION_LEVEL]",
            )
        })?,
    };
    authorize_arn(call, "iam:GenerateServiceLastAccessedDetails", arn)?;
    let job =
        call.service
            .generate_access_report(call.account(), arn, granularity, call.env.now)?;
    let mut x = Xml::new();
    x.text("JobId", &job);
    Ok(x)
}

fn write_attempt(x: &mut Xml, prefix: &str, a: &Attempt) {
    x.text(&format!("{prefix}Entity"), &a.entity_arn)
        .text(&format!("{prefix}Region"), &a.region);
}

pub fn get_service_last_accessed_details(call: &Call<'_>) -> Result<Xml, ApiError> {
    let job = authorized_job(call, "iam:GetServiceLastAccessedDetails")?;
    let report = &job.report;
    let (page, next) = call.paginate(report.services.iter().collect(), |s| s.namespace.clone())?;
    let mut x = Xml::new();
    x.text("JobStatus", "COMPLETED")
        .text("JobType", report.granularity.as_str())
        .text("JobCreationDate", &job.created);
    x.list("ServicesLastAccessed", page, |x, s| {
        x.text("ServiceName", &s.name);
        if let Some(last) = &s.last {
            x.text("LastAuthenticated", &date(last.time_ms));
        }
        x.text("ServiceNamespace", &s.namespace);
        if let Some(last) = &s.last {
            write_attempt(x, "LastAuthenticated", last);
        }
        x.num("TotalAuthenticatedEntities", s.total_entities);
        if let Some(actions) = s.actions.as_ref().filter(|a| !a.is_empty()) {
            x.list("TrackedActionsLastAccessed", actions, |x, (name, a)| {
                x.text("ActionName", name)
                    .text("LastAccessedEntity", &a.entity_arn)
                    .text("LastAccessedTime", &date(a.time_ms))
                    .text("LastAccessedRegion", &a.region);
            });
        }
    });
    x.text("JobCompletionDate", &job.completed);
    page_footer(&mut x, next);
    Ok(x)
}

pub fn get_service_last_accessed_details_with_entities(call: &Call<'_>) -> Result<Xml, ApiError> {
    let namespace = call.params.required("ServiceNamespace")?;
    check_namespace("serviceNamespace", namespace)?;
    let job = authorized_job(call, "iam:GetServiceLastAccessedDetailsWithEntities")?;
    let entities = job.report.entities_for(namespace);
    let (page, next) = call.paginate(entities, |(e, _)| e.arn.clone())?;
    let mut x = Xml::new();
    x.text("JobStatus", "COMPLETED")
        .text("JobCreationDate", &job.created)
        .text("JobCompletionDate", &job.completed);
    x.list("EntityDetailsList", page, |x, (e, last)| {
        x.elem("EntityInfo", |x| {
            x.text("Arn", &e.arn)
                .text("Name", &e.name)
                .text("Type", e.kind.as_str())
                .text("Id", &e.id)
                .text("Path", &e.path);
        });
        if let Some(t) = last {
            x.text("LastAuthenticated", &date(t));
        }
    });
    page_footer(&mut x, next);
    Ok(x)
}

pub fn list_policies_granting_service_access(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("Arn")?;
    check_arn(arn)?;
    let namespaces = call.params.list("ServiceNamespaces");
    if namespaces.is_empty() {
        return Err(ApiError::validation(
            "1 validation error detected: Value null at 'serviceNamespaces' failed to satisfy constraint: Member must not be null",
        ));
    }
    if namespaces.len() > 200 {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'serviceNamespaces' failed to satisfy constraint: Member must have length less than or equal to 200",
        ));
    }
    for ns in &namespaces {
        check_namespace("serviceNamespaces.member", ns)?;
    }
    authorize_arn(call, "iam:ListPoliciesGrantingServiceAccess", arn)?;
    let granted = policies_granting(&call.snapshot.state, call.account(), arn, &namespaces)?;
    let mut x = Xml::new();
    x.list(
        "PoliciesGrantingServiceAccess",
        &granted,
        |x, (ns, policies)| {
            x.text("ServiceNamespace", ns);
            x.list("Policies", policies, |x, p| {
                x.text("PolicyName", &p.name)
                    .text("PolicyType", if p.inline { "INLINE" } else { "MANAGED" })
                    .opt("PolicyArn", p.arn.as_deref());
                if let Some((kind, name)) = &p.entity {
                    x.text("EntityType", kind.as_str()).text("EntityName", name);
                }
            });
        },
    );
    page_footer(&mut x, None);
    Ok(x)
}
