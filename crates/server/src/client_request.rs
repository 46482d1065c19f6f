//! A request another service received, judged for it: the one path the authorization API and
//! forward auth share. The request is verified for the service's signing name with the same
//! code as Portcullis's own API (`auth::authenticate_signature`); a request with no SigV4 at
//! all is an anonymous caller in the service's account. Each (action, resource) is then
//! decided by `authz::rule`.

use portcullis_sigv4::{Error as SigError, Request as SignedRequest};

use crate::app::AppState;
use crate::auth::{Caller, ExpectedScope, Identity, StreamingKey, authenticate_signature};
use crate::error::ApiError;

/// The client, as its request established it.
pub(crate) struct ClientAuth {
    pub caller: Caller,
    /// The region of the signature (`aws:RequestedRegion`); the deployment's first region for
    /// an anonymous request.
    pub region: String,
    /// Whether the signature covers the body Portcullis was handed (an empty one when none).
    pub payload_signed: bool,
    /// For an aws-chunked body: the chain its chunks are signed with.
    pub streaming: Option<StreamingKey>,
}

/// Verifies `request`, signed for `signing_name`; an unsigned request is anonymous in
/// `service_account`. A bad signature is the client's AWS error.
pub(crate) fn authenticate_client(
    state: &AppState,
    snapshot: &portcullis_iam::Snapshot,
    request: &SignedRequest<'_>,
    signing_name: &str,
    service_account: &str,
    now: i64,
) -> Result<ClientAuth, ApiError> {
    if matches!(
        portcullis_sigv4::parse(request),
        Err(SigError::MissingAuthentication)
    ) {
        return Ok(ClientAuth {
            caller: Caller::anonymous(service_account),
            region: state.default_region().to_owned(),
            payload_signed: false,
            streaming: None,
        });
    }
    let expected = ExpectedScope {
        service: signing_name,
        regions: &state.regions,
    };
    let a = authenticate_signature(&state.service, snapshot, request, now, expected)?;
    if !a.caller.is_session() && a.caller.identity != Identity::Anonymous {
        state
            .service
            .record_key_use(&a.caller.access_key_id, signing_name, &a.region);
    }
    Ok(ClientAuth {
        caller: a.caller,
        region: a.region,
        payload_signed: a.payload_signed,
        streaming: a.streaming,
    })
}

/// The `User-Agent` among `[name, value]` headers.
pub(crate) fn user_agent<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    headers
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}
