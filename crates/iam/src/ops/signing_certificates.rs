//! Signing certificates: UploadSigningCertificate, ListSigningCertificates,
//! UpdateSigningCertificate, DeleteSigningCertificate. A certificate belongs to a user, or
//! (`user` None) to the account's root user.

use crate::error::{IamError, IamResult};
use crate::model::{KeyStatus, SigningCertificate, now_timestamp};
use crate::signing_cert;
use crate::state::{AccountState, IamState, Touched};

/// The most signing certificates a user (or root) may have.
pub const MAX_PER_USER: usize = 2;

fn owned_by(cert: &SigningCertificate, user: Option<&str>) -> bool {
    match (&cert.user_name, user) {
        (Some(c), Some(u)) => c.eq_ignore_ascii_case(u),
        (None, None) => true,
        _ => false,
    }
}

/// The certificates of a user (or of root), oldest first.
pub fn list<'a>(account: &'a AccountState, user: Option<&str>) -> Vec<&'a SigningCertificate> {
    let mut certs: Vec<&SigningCertificate> = account
        .signing_certificates
        .values()
        .filter(|c| owned_by(c, user))
        .collect();
    certs.sort_by(|a, b| {
        a.upload_date
            .cmp(&b.upload_date)
            .then(a.certificate_id.cmp(&b.certificate_id))
    });
    certs
}

pub fn upload(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user: Option<&str>,
    body: &str,
) -> IamResult<SigningCertificate> {
    let parsed = signing_cert::parse(body)?;
    let id = signing_cert::certificate_id(account_id, &parsed);
    let account = state.account_mut(account_id)?;
    let user_name = match user {
        Some(u) => Some(super::user(account, u)?.name.clone()),
        None => None,
    };
    if account.signing_certificates.contains_key(&id) {
        return Err(IamError::DuplicateCertificate(format!(
            "The certificate is already associated with an IAM user or the root user of this account (certificate id {id})."
        )));
    }
    if list(account, user).len() >= MAX_PER_USER {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for SigningCertificatesPerUser: {MAX_PER_USER}."
        )));
    }
    let cert = SigningCertificate {
        certificate_id: id,
        user_name,
        body: body.to_owned(),
        status: KeyStatus::Active,
        upload_date: now_timestamp(),
    };
    account
        .signing_certificates
        .insert(cert.certificate_id.clone(), cert.clone());
    touched.signing_certificate(account_id, &cert.certificate_id);
    Ok(cert)
}

fn owned<'a>(
    account: &'a mut AccountState,
    user: Option<&str>,
    certificate_id: &str,
) -> IamResult<&'a mut SigningCertificate> {
    if let Some(u) = user {
        super::user(account, u)?;
    }
    account
        .signing_certificates
        .get_mut(certificate_id)
        .filter(|c| owned_by(c, user))
        .ok_or_else(|| {
            IamError::NoSuchEntity(format!(
                "The Certificate with id {certificate_id} cannot be found."
            ))
        })
}

pub fn update(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user: Option<&str>,
    certificate_id: &str,
    status: KeyStatus,
) -> IamResult<()> {
    owned(state.account_mut(account_id)?, user, certificate_id)?.status = status;
    touched.signing_certificate(account_id, certificate_id);
    Ok(())
}

pub fn delete(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user: Option<&str>,
    certificate_id: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    owned(account, user, certificate_id)?;
    account.signing_certificates.remove(certificate_id);
    touched.signing_certificate(account_id, certificate_id);
    Ok(())
}
