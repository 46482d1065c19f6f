//! Server certificate actions. The private key goes in with UploadServerCertificate and never
//! comes out.

use portcullis_iam::model::ServerCertificate;
use portcullis_iam::ops::server_certificates::{NewServerCertificate, server_certificate_arn};
use portcullis_iam::ops::{self, server_certificates};

use super::{Call, CallKeys, Entity, page_footer, tag_page, write_tags};
use crate::error::ApiError;
use crate::xml::Xml;

fn write_metadata(x: &mut Xml, call: &Call<'_>, c: &ServerCertificate) {
    x.text("Path", &c.path)
        .text("ServerCertificateName", &c.name)
        .text("ServerCertificateId", &c.server_certificate_id)
        .text(
            "Arn",
            &server_certificate_arn(call.account(), &c.path, &c.name),
        )
        .text("UploadDate", &c.upload_date)
        .text("Expiration", &c.expiration);
}

fn authorize_on(call: &Call<'_>, action: &str, name: &str) -> Result<(), ApiError> {
    call.authorize_entity(action, Entity::ServerCertificate(name), CallKeys::default())
        .map(drop)
}

pub fn upload_server_certificate(call: &Call<'_>) -> Result<Xml, ApiError> {
    let p = call.params;
    let name = p.required("ServerCertificateName")?;
    let body = p.required("CertificateBody")?;
    let private_key = p.required("PrivateKey")?;
    let chain = p.get("CertificateChain");
    let path = p.get("Path");
    let tags = p.tags("Tags");
    call.authorize(
        "iam:UploadServerCertificate",
        &server_certificate_arn(call.account(), path.unwrap_or("/"), name),
        CallKeys {
            request_tags: &tags,
            ..Default::default()
        },
    )?;
    let certificate = call.service.write(|s, t| {
        server_certificates::upload_server_certificate(
            s,
            t,
            call.account(),
            NewServerCertificate {
                name,
                path,
                certificate_body: body,
                certificate_chain: chain,
                private_key,
                tags: &tags,
            },
            call.env.now,
        )
    })?;
    let mut x = Xml::new();
    x.elem("ServerCertificateMetadata", |x| {
        write_metadata(x, call, &certificate)
    });
    if !certificate.tags.is_empty() {
        write_tags(&mut x, &certificate.tags);
    }
    Ok(x)
}

pub fn get_server_certificate(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("ServerCertificateName")?;
    authorize_on(call, "iam:GetServerCertificate", name)?;
    let account = call.snapshot.state.account(call.account())?;
    let c = server_certificates::find(account, name)?;
    let mut x = Xml::new();
    x.elem("ServerCertificate", |x| {
        x.elem("ServerCertificateMetadata", |x| write_metadata(x, call, c))
            .text("CertificateBody", &c.certificate_body)
            .opt("CertificateChain", c.certificate_chain.as_deref());
        write_tags(x, &c.tags);
    });
    Ok(x)
}

pub fn list_server_certificates(call: &Call<'_>) -> Result<Xml, ApiError> {
    let prefix = call.params.get("PathPrefix");
    call.authorize(
        "iam:ListServerCertificates",
        &server_certificate_arn(call.account(), prefix.unwrap_or("/"), ""),
        CallKeys::default(),
    )?;
    let account = call.snapshot.state.account(call.account())?;
    let all: Vec<&ServerCertificate> = account
        .server_certificates
        .values()
        .filter(|c| ops::path_matches(&c.path, prefix))
        .collect();
    let (page, next) = call.paginate(all, |c| c.name.to_lowercase())?;
    let mut x = Xml::new();
    x.list("ServerCertificateMetadataList", page, |x, c| {
        write_metadata(x, call, c)
    });
    page_footer(&mut x, next);
    Ok(x)
}

/// Renaming or moving needs permission on the certificate as it is and as it will be.
pub fn update_server_certificate(call: &Call<'_>) -> Result<Xml, ApiError> {
    let p = call.params;
    let name = p.required("ServerCertificateName")?;
    let new_name = p.get("NewServerCertificateName");
    let new_path = p.get("NewPath");
    let target = call.authorize_entity(
        "iam:UpdateServerCertificate",
        Entity::ServerCertificate(name),
        CallKeys::default(),
    )?;
    if new_name.is_some() || new_path.is_some() {
        let account = call.snapshot.state.account(call.account())?;
        let current_path = account
            .server_certificates
            .get(&name.to_lowercase())
            .map_or("/", |c| c.path.as_str());
        let new_arn = server_certificate_arn(
            call.account(),
            new_path.unwrap_or(current_path),
            new_name.unwrap_or(name),
        );
        if new_arn != target.arn {
            call.authorize(
                "iam:UpdateServerCertificate",
                &new_arn,
                CallKeys {
                    resource_tags: target.tags,
                    ..Default::default()
                },
            )?;
        }
    }
    call.service.write(|s, t| {
        server_certificates::update_server_certificate(
            s,
            t,
            call.account(),
            name,
            new_name,
            new_path,
        )
    })?;
    Ok(Xml::new())
}

pub fn delete_server_certificate(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("ServerCertificateName")?;
    authorize_on(call, "iam:DeleteServerCertificate", name)?;
    call.service
        .write(|s, t| server_certificates::delete_server_certificate(s, t, call.account(), name))?;
    Ok(Xml::new())
}

pub fn tag_server_certificate(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("ServerCertificateName")?;
    let tags = call.params.tags("Tags");
    call.authorize_entity(
        "iam:TagServerCertificate",
        Entity::ServerCertificate(name),
        CallKeys {
            request_tags: &tags,
            ..Default::default()
        },
    )?;
    call.service.write(|s, t| {
        server_certificates::tag_server_certificate(s, t, call.account(), name, &tags)
    })?;
    Ok(Xml::new())
}

pub fn untag_server_certificate(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("ServerCertificateName")?;
    let keys = call.params.list("TagKeys");
    call.authorize_entity(
        "iam:UntagServerCertificate",
        Entity::ServerCertificate(name),
        CallKeys {
            tag_keys: &keys,
            ..Default::default()
        },
    )?;
    call.service.write(|s, t| {
        server_certificates::untag_server_certificate(s, t, call.account(), name, &keys)
    })?;
    Ok(Xml::new())
}

pub fn list_server_certificate_tags(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("ServerCertificateName")?;
    authorize_on(call, "iam:ListServerCertificateTags", name)?;
    let account = call.snapshot.state.account(call.account())?;
    let c = server_certificates::find(account, name)?;
    tag_page(call, &c.tags)
}
