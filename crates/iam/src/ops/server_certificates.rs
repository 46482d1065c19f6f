//! Server certificates: upload (certificate, chain and private key checked together), read,
//! rename or move, delete, tags. The private key is kept sealed and never returned.

use crate::error::{IamError, IamResult};
use crate::ids::{IdKind, new_id};
use crate::model::{Secret, ServerCertificate, Tag};
use crate::names::{check_name, check_path, check_tags};
use crate::state::{AccountState, IamState, Touched};
use crate::x509::{check_server_certificate, format_unix};

/// The most server certificates an account may store.
pub const MAX_SERVER_CERTIFICATES: usize = 20;
/// The longest certificate body and private key (characters).
pub const MAX_BODY_LEN: usize = 16_384;
/// The longest certificate chain (characters).
pub const MAX_CHAIN_LEN: usize = 2_097_152;

/// `arn:aws:iam::A:server-certificate/path/NAME`.
pub fn server_certificate_arn(account_id: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account_id}:server-certificate{path}{name}")
}

fn check_len(what: &str, text: &str, max: usize) -> IamResult<()> {
    if text.is_empty() || text.chars().count() > max {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value at '{what}' failed to satisfy constraint: Member must have length less than or equal to {max} and greater than or equal to 1"
        )));
    }
    Ok(())
}

pub fn find<'a>(account: &'a AccountState, name: &str) -> IamResult<&'a ServerCertificate> {
    account
        .server_certificates
        .get(&name.to_lowercase())
        .ok_or_else(|| not_found(name))
}

fn not_found(name: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "The Server Certificate with name {name} cannot be found."
    ))
}

fn find_mut<'a>(
    state: &'a mut IamState,
    account_id: &str,
    name: &str,
) -> IamResult<&'a mut ServerCertificate> {
    state
        .account_mut(account_id)?
        .server_certificates
        .get_mut(&name.to_lowercase())
        .ok_or_else(|| not_found(name))
}

/// What UploadServerCertificate takes.
pub struct NewServerCertificate<'a> {
    pub name: &'a str,
    pub path: Option<&'a str>,
    pub certificate_body: &'a str,
    pub certificate_chain: Option<&'a str>,
    pub private_key: &'a str,
    pub tags: &'a [Tag],
}

/// Uploads a certificate; `now` (unix seconds) is the upload date and the time the
/// certificate must still be valid at.
pub fn upload_server_certificate(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    new: NewServerCertificate<'_>,
    now: i64,
) -> IamResult<ServerCertificate> {
    check_name("serverCertificateName", new.name, 128)?;
    let path = new.path.unwrap_or("/");
    check_path(path)?;
    check_len("certificateBody", new.certificate_body, MAX_BODY_LEN)?;
    if let Some(chain) = new.certificate_chain {
        check_len("certificateChain", chain, MAX_CHAIN_LEN)?;
    }
    check_len("privateKey", new.private_key, MAX_BODY_LEN)?;
    let tags = check_tags(&[], new.tags)?;
    let facts = check_server_certificate(
        new.certificate_body,
        new.certificate_chain,
        new.private_key,
        now,
    )?;
    let account = state.account_mut(account_id)?;
    let key = new.name.to_lowercase();
    if account.server_certificates.contains_key(&key) {
        return Err(IamError::EntityAlreadyExists(format!(
            "The Server Certificate with name {} already exists.",
            new.name
        )));
    }
    if account.server_certificates.len() >= MAX_SERVER_CERTIFICATES {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for ServerCertificatesPerAccount: {MAX_SERVER_CERTIFICATES}."
        )));
    }
    let certificate = ServerCertificate {
        server_certificate_id: new_id(IdKind::ServerCertificate),
        name: new.name.to_owned(),
        path: path.to_owned(),
        certificate_body: new.certificate_body.to_owned(),
        certificate_chain: new.certificate_chain.map(str::to_owned),
        upload_date: format_unix(now),
        expiration: facts.expiration,
        tags,
        private_key: Secret::new(new.private_key.to_owned()),
    };
    account.server_certificates.insert(key, certificate.clone());
    touched.server_certificate(account_id, new.name);
    Ok(certificate)
}

/// Renames and/or moves a certificate.
pub fn update_server_certificate(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
    new_name: Option<&str>,
    new_path: Option<&str>,
) -> IamResult<()> {
    if let Some(n) = new_name {
        check_name("newServerCertificateName", n, 128)?;
    }
    if let Some(p) = new_path {
        check_path(p)?;
    }
    let account = state.account_mut(account_id)?;
    let mut certificate = find(account, name)?.clone();
    if let Some(n) = new_name {
        if !n.eq_ignore_ascii_case(name)
            && account.server_certificates.contains_key(&n.to_lowercase())
        {
            return Err(IamError::EntityAlreadyExists(format!(
                "The Server Certificate with name {n} already exists."
            )));
        }
        certificate.name = n.to_owned();
    }
    if let Some(p) = new_path {
        certificate.path = p.to_owned();
    }
    account.server_certificates.remove(&name.to_lowercase());
    touched.server_certificate(account_id, name);
    touched.server_certificate(account_id, &certificate.name);
    account
        .server_certificates
        .insert(certificate.name.to_lowercase(), certificate);
    Ok(())
}

pub fn delete_server_certificate(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    if account
        .server_certificates
        .remove(&name.to_lowercase())
        .is_none()
    {
        return Err(not_found(name));
    }
    touched.server_certificate(account_id, name);
    Ok(())
}

pub fn tag_server_certificate(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
    tags: &[Tag],
) -> IamResult<()> {
    let certificate = find_mut(state, account_id, name)?;
    certificate.tags = check_tags(&certificate.tags, tags)?;
    touched.server_certificate(account_id, name);
    Ok(())
}

pub fn untag_server_certificate(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
    keys: &[String],
) -> IamResult<()> {
    let certificate = find_mut(state, account_id, name)?;
    certificate
        .tags
        .retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
    touched.server_certificate(account_id, name);
    Ok(())
}
