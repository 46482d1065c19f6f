//! The body handed to the inner service: checked against the signed payload hash as it is read.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use sha2::{Digest, Sha256};

/// The request body the inner service receives (axum's body type).
pub type GuardBody = axum_core::body::Body;

/// Why a body the client signed is not the body it sent.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// S3's `XAmzContentSHA256Mismatch`: the body's SHA-256 is not the signed one.
    #[error(
        "The provided 'x-amz-content-sha256' header does not match what was computed (XAmzContentSHA256Mismatch)."
    )]
    DigestMismatch,
    #[error("the request body could not be read: {0}")]
    Read(axum_core::BoxError),
    /// An aws-chunked body that is not what its client signed, or not well formed.
    #[error("{0}")]
    Chunk(#[from] portcullis_sigv4::ChunkError),
}

impl BodyError {
    /// The S3 error code a service answers with.
    pub fn code(&self) -> &'static str {
        match self {
            BodyError::DigestMismatch => "XAmzContentSHA256Mismatch",
            BodyError::Read(_) => "IncompleteBody",
            BodyError::Chunk(e) => e.code(),
        }
    }
}

/// An aws-chunked body, decoded: data frames of verified chunks, then the trailing headers
/// (checksums) as a trailers frame. An error ends the body if anything does not verify.
pub(crate) struct Dechunked<B> {
    inner: B,
    decoder: portcullis_sigv4::ChunkedDecoder,
    ended: bool,
}

impl<B> Dechunked<B> {
    pub(crate) fn new(inner: B, decoder: portcullis_sigv4::ChunkedDecoder) -> Dechunked<B> {
        Dechunked {
            inner,
            decoder,
            ended: false,
        }
    }

    fn trailers(&self) -> Option<http::HeaderMap> {
        let mut map = http::HeaderMap::new();
        for (name, value) in self.decoder.trailers() {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value),
            ) {
                map.append(n, v);
            }
        }
        (!map.is_empty()).then_some(map)
    }
}

impl<B> Body for Dechunked<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<axum_core::BoxError>,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(BodyError::Read(e.into()))));
                }
                Poll::Ready(Some(Ok(frame))) => {
                    let Some(data) = frame.data_ref() else {
                        continue;
                    };
                    let mut out = Vec::new();
                    if let Err(e) = this.decoder.feed(data, &mut out) {
                        this.ended = true;
                        return Poll::Ready(Some(Err(e.into())));
                    }
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                    }
                }
                Poll::Ready(None) => {
                    this.ended = true;
                    if let Err(e) = this.decoder.finish() {
                        return Poll::Ready(Some(Err(e.into())));
                    }
                    return Poll::Ready(this.trailers().map(|t| Ok(Frame::trailers(t))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }
}

/// A body whose SHA-256 must come out as `expected`; the last read fails otherwise, so a
/// service that commits only a body it read to the end never commits a forged one.
pub(crate) struct DigestChecked<B> {
    inner: B,
    hasher: Option<Sha256>,
    expected: [u8; 32],
}

impl<B> DigestChecked<B> {
    pub(crate) fn new(inner: B, expected: [u8; 32]) -> DigestChecked<B> {
        DigestChecked {
            inner,
            hasher: Some(Sha256::new()),
            expected,
        }
    }

    fn finish(&mut self) -> Result<(), BodyError> {
        match self.hasher.take() {
            Some(hasher) => {
                let digest = hasher.finalize();
                if digest.as_slice() == self.expected {
                    Ok(())
                } else {
                    Err(BodyError::DigestMismatch)
                }
            }
            None => Ok(()),
        }
    }
}

impl<B> Body for DigestChecked<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<axum_core::BoxError>,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(hasher)) = (frame.data_ref(), this.hasher.as_mut()) {
                    hasher.update(data);
                } else if frame.is_trailers() {
                    // Trailers come after the last data frame.
                    if let Err(e) = this.finish() {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(BodyError::Read(e.into())))),
            Poll::Ready(None) => match this.finish() {
                Ok(()) => Poll::Ready(None),
                Err(e) => Poll::Ready(Some(Err(e))),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        // Not over until the digest has been checked.
        self.hasher.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Parses a lowercase or uppercase hex SHA-256.
pub(crate) fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let digit = |b: u8| (b as char).to_digit(16);
        out[i] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}
