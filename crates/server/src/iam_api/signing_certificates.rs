//! Signing certificate actions. Without `UserName`, a call acts on the caller's own
//! certificates (root's when the caller is root), as AWS's do.

use portcullis_iam::model::SigningCertificate;
use portcullis_iam::ops::{self, signing_certificates};

use super::ssh_keys::parse_status;
use super::{Call, CallKeys, page_footer};
use crate::error::ApiError;
use crate::xml::Xml;

fn write_certificate(x: &mut Xml, cert: &SigningCertificate, root_name: &str) {
    x.text("UserName", cert.user_name.as_deref().unwrap_or(root_name))
        .text("CertificateId", &cert.certificate_id)
        .text("CertificateBody", &cert.body)
        .text("Status", cert.status.as_str())
        .text("UploadDate", &cert.upload_date);
}

pub fn upload_signing_certificate(call: &Call<'_>) -> Result<Xml, ApiError> {
    let body = call.params.required("CertificateBody")?;
    let (user, owner) = call.credentials_owner()?;
    call.authorize_entity("iam:UploadSigningCertificate", owner, CallKeys::default())?;
    let cert = call
        .service
        .write(|s, t| signing_certificates::upload(s, t, call.account(), user, body))?;
    let mut x = Xml::new();
    x.elem("Certificate", |x| {
        write_certificate(x, &cert, call.account())
    });
    Ok(x)
}

pub fn list_signing_certificates(call: &Call<'_>) -> Result<Xml, ApiError> {
    let (user, owner) = call.credentials_owner()?;
    call.authorize_entity("iam:ListSigningCertificates", owner, CallKeys::default())?;
    let account = call.snapshot.state.account(call.account())?;
    if let Some(u) = user {
        ops::user(account, u)?;
    }
    let certs = signing_certificates::list(account, user);
    let (page, next) = call.paginate(certs, |c| c.certificate_id.clone())?;
    let mut x = Xml::new();
    x.list("Certificates", page, |x, c| {
        write_certificate(x, c, call.account())
    });
    page_footer(&mut x, next);
    Ok(x)
}

pub fn update_signing_certificate(call: &Call<'_>) -> Result<Xml, ApiError> {
    let id = call.params.required("CertificateId")?;
    let status = parse_status(call)?;
    let (user, owner) = call.credentials_owner()?;
    call.authorize_entity("iam:UpdateSigningCertificate", owner, CallKeys::default())?;
    call.service
        .write(|s, t| signing_certificates::update(s, t, call.account(), user, id, status))?;
    Ok(Xml::new())
}

pub fn delete_signing_certificate(call: &Call<'_>) -> Result<Xml, ApiError> {
    let id = call.params.required("CertificateId")?;
    let (user, owner) = call.credentials_owner()?;
    call.authorize_entity("iam:DeleteSigningCertificate", owner, CallKeys::default())?;
    call.service
        .write(|s, t| signing_certificates::delete(s, t, call.account(), user, id))?;
    Ok(Xml::new())
}
