//! aws-chunked bodies (`Content-Encoding: aws-chunked`, `x-amz-content-sha256: STREAMING-...`):
//! decoded incrementally, each chunk's signature checked against the chain that starts at the
//! request's own signature, and the trailing headers (checksums) read and, when signed,
//! verified.
//!
//! ```text
//! signed:   <hex size>;chunk-signature=<64 hex>\r\n<data>\r\n ... 0;chunk-signature=<sig>\r\n
//!           then \r\n, or trailer lines `name:value\r\n`, `x-amz-trailer-signature:<sig>\r\n`, \r\n
//! unsigned: <hex size>\r\n<data>\r\n ... 0\r\n then trailer lines `name:value\r\n`, \r\n
//! ```
//!
//! A chunk's string to sign is `AWS4-HMAC-SHA256-PAYLOAD\n<amz date>\n<scope>\n<previous
//! signature>\n<SHA-256 of "">\n<SHA-256 of the chunk's data>`; the trailer's is
//! `AWS4-HMAC-SHA256-TRAILER\n<amz date>\n<scope>\n<previous signature>\n<SHA-256 of the
//! trailer headers, lowercase names sorted, `name:value\n` each>`.
//!
//! Pure: the caller feeds bytes as they arrive, in any split, and receives the decoded data of
//! each chunk once its signature has been checked.

use subtle::ConstantTimeEq;

use crate::canonical::sha256_hex;
use crate::key::SigningKey;
use crate::verify::Streaming;

/// The largest chunk accepted (AWS's SDKs send 64 KiB to 1 MiB chunks).
pub const MAX_CHUNK_BYTES: usize = 16 * 1024 * 1024;
/// The longest chunk header line (`<hex size>;chunk-signature=<64 hex>`), and trailer line.
const MAX_LINE: usize = 4096;
/// The most trailing-header bytes.
const MAX_TRAILER_BYTES: usize = 16 * 1024;
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// The trailer line that carries the trailer's signature.
const TRAILER_SIGNATURE: &str = "x-amz-trailer-signature";

/// What chains the chunk signatures: the signing key of the request's scope, the request's
/// `X-Amz-Date` and scope string, and its signature (the seed).
#[derive(Debug, Clone)]
pub struct ChunkSigner {
    key: SigningKey,
    amz_date: String,
    scope: String,
    seed: [u8; 32],
}

impl ChunkSigner {
    /// From the key of the request's scope, the request time (unix seconds) and the request's
    /// signature in hex; `None` when the signature is not 64 lowercase hex digits.
    pub fn new(key: SigningKey, request_time: i64, seed_signature: &str) -> Option<ChunkSigner> {
        let seed = crate::hex::decode_32(seed_signature)?;
        Some(ChunkSigner {
            amz_date: crate::date::format_amz_date(request_time),
            scope: key.scope().to_scope_string(),
            key,
            seed,
        })
    }

    fn sign(&self, algorithm: &str, previous: &[u8; 32], hashes: &str) -> [u8; 32] {
        let mut sts = String::with_capacity(256);
        sts.push_str(algorithm);
        sts.push('\n');
        sts.push_str(&self.amz_date);
        sts.push('\n');
        sts.push_str(&self.scope);
        sts.push('\n');
        crate::hex::encode_into(&mut sts, previous);
        sts.push('\n');
        sts.push_str(hashes);
        self.key.sign(sts.as_bytes())
    }

    /// The signature of the chunk holding `data`, after the one that was `previous`.
    pub fn chunk_signature(&self, previous: &[u8; 32], data: &[u8]) -> [u8; 32] {
        let hashes = format!("{EMPTY_SHA256}\n{}", sha256_hex(data));
        self.sign("AWS4-HMAC-SHA256-PAYLOAD", previous, &hashes)
    }

    /// The signature of trailing headers (`name:value\n` each, names lowercase and sorted).
    pub fn trailer_signature(&self, previous: &[u8; 32], canonical_trailer: &[u8]) -> [u8; 32] {
        self.sign(
            "AWS4-HMAC-SHA256-TRAILER",
            previous,
            &sha256_hex(canonical_trailer),
        )
    }

    /// The request's signature, the first link of the chain.
    pub fn seed(&self) -> [u8; 32] {
        self.seed
    }
}

/// What is wrong with an aws-chunked body, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkError {
    /// The byte offset in the encoded body where the problem was found.
    pub offset: u64,
    /// The index of the chunk (0 first).
    pub chunk: u64,
    pub kind: ChunkErrorKind,
}

/// The kinds of [`ChunkError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkErrorKind {
    /// A chunk header that is not `<hex size>[;chunk-signature=<64 hex>]`.
    BadChunkHeader(String),
    /// A chunk larger than [`MAX_CHUNK_BYTES`].
    ChunkTooLarge(u64),
    /// A signed body's chunk without `chunk-signature`.
    MissingChunkSignature,
    /// The chunk signature is not the one computed.
    ChunkSignatureDoesNotMatch,
    /// A chunk's data is not followed by `\r\n`.
    MissingChunkEnd,
    /// A trailer line that is not `name:value`, or too many trailer bytes.
    BadTrailer(String),
    /// A signed trailer without `x-amz-trailer-signature`, or with one that does not match.
    TrailerSignatureDoesNotMatch,
    /// Bytes after the end of the body.
    DataAfterEnd,
    /// The body ended before its last chunk (or its trailer).
    Truncated,
    /// The decoded length is not `x-amz-decoded-content-length`.
    DecodedLengthMismatch { declared: u64, decoded: u64 },
}

impl std::fmt::Display for ChunkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "aws-chunked body, chunk {} (byte {}): ",
            self.chunk, self.offset
        )?;
        match &self.kind {
            ChunkErrorKind::BadChunkHeader(h) => write!(
                f,
                "the chunk header \"{h}\" is not <hex size>;chunk-signature=<signature>"
            ),
            ChunkErrorKind::ChunkTooLarge(n) => write!(
                f,
                "a chunk of {n} bytes is larger than {MAX_CHUNK_BYTES} bytes"
            ),
            ChunkErrorKind::MissingChunkSignature => {
                f.write_str("the chunk has no chunk-signature")
            }
            ChunkErrorKind::ChunkSignatureDoesNotMatch => f.write_str(
                "The request signature we calculated does not match the signature you provided.",
            ),
            ChunkErrorKind::MissingChunkEnd => {
                f.write_str("the chunk's data is not followed by CRLF")
            }
            ChunkErrorKind::BadTrailer(t) => write!(f, "bad trailing header: {t}"),
            ChunkErrorKind::TrailerSignatureDoesNotMatch => {
                f.write_str("the trailing headers' signature is missing or does not match")
            }
            ChunkErrorKind::DataAfterEnd => f.write_str("there are bytes after the last chunk"),
            ChunkErrorKind::Truncated => f.write_str("the body ends before its last chunk"),
            ChunkErrorKind::DecodedLengthMismatch { declared, decoded } => write!(
                f,
                "x-amz-decoded-content-length is {declared} but the chunks hold {decoded} bytes"
            ),
        }
    }
}

impl std::error::Error for ChunkError {}

impl ChunkError {
    /// The AWS error code a service answers with.
    pub fn code(&self) -> &'static str {
        match self.kind {
            ChunkErrorKind::ChunkSignatureDoesNotMatch
            | ChunkErrorKind::TrailerSignatureDoesNotMatch
            | ChunkErrorKind::MissingChunkSignature => "SignatureDoesNotMatch",
            ChunkErrorKind::Truncated | ChunkErrorKind::DecodedLengthMismatch { .. } => {
                "IncompleteBody"
            }
            _ => "InvalidRequest",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for a chunk header line.
    Header,
    /// Waiting for `size` data bytes and CRLF.
    Data {
        size: usize,
        signature: Option<[u8; 32]>,
    },
    /// Waiting for the CRLF after the last (empty) chunk.
    LastCrlf,
    /// Reading trailer lines.
    Trailer,
    Done,
}

/// Decodes an aws-chunked body fed in pieces.
#[derive(Debug)]
pub struct ChunkedDecoder {
    signer: Option<ChunkSigner>,
    trailer: bool,
    declared_length: Option<u64>,
    state: State,
    buffer: Vec<u8>,
    /// Offset of `buffer[0]` in the encoded body.
    offset: u64,
    chunk: u64,
    previous: [u8; 32],
    decoded: u64,
    trailers: Vec<(String, String)>,
    trailer_bytes: usize,
    trailer_signature: Option<[u8; 32]>,
}

impl ChunkedDecoder {
    /// A decoder for a body of the `streaming` form. `signer` is required when the chunks
    /// are signed (`None` is refused then); `declared_length` is `x-amz-decoded-content-length`.
    pub fn new(
        streaming: Streaming,
        signer: Option<ChunkSigner>,
        declared_length: Option<u64>,
    ) -> Option<ChunkedDecoder> {
        if streaming.signed_chunks && signer.is_none() {
            return None;
        }
        let previous = signer.as_ref().map(ChunkSigner::seed).unwrap_or([0; 32]);
        Some(ChunkedDecoder {
            signer: if streaming.signed_chunks {
                signer
            } else {
                None
            },
            trailer: streaming.trailer,
            declared_length,
            state: State::Header,
            buffer: Vec::new(),
            offset: 0,
            chunk: 0,
            previous,
            decoded: 0,
            trailers: Vec::new(),
            trailer_bytes: 0,
            trailer_signature: None,
        })
    }

    fn error(&self, kind: ChunkErrorKind) -> ChunkError {
        ChunkError {
            offset: self.offset,
            chunk: self.chunk,
            kind,
        }
    }

    /// Drops `n` bytes from the front of the buffer.
    fn consume(&mut self, n: usize) {
        self.buffer.drain(..n);
        self.offset += n as u64;
    }

    /// The next CRLF-terminated line in the buffer (without the CRLF), if complete.
    fn line(&self) -> Result<Option<usize>, ChunkError> {
        match self.buffer.windows(2).position(|w| w == b"\r\n") {
            Some(at) if at <= MAX_LINE => Ok(Some(at)),
            Some(_) => Err(self.error(ChunkErrorKind::BadChunkHeader("(too long)".into()))),
            None if self.buffer.len() > MAX_LINE + 1 => {
                Err(self.error(ChunkErrorKind::BadChunkHeader("(too long)".into())))
            }
            None => Ok(None),
        }
    }

    /// Feeds the next bytes of the body; appends the data of every chunk completed (and
    /// verified) to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), ChunkError> {
        if self.state == State::Done {
            if input.is_empty() {
                return Ok(());
            }
            return Err(self.error(ChunkErrorKind::DataAfterEnd));
        }
        self.buffer.extend_from_slice(input);
        loop {
            match self.state {
                State::Header => {
                    let Some(at) = self.line()? else {
                        return Ok(());
                    };
                    let (size, signature) = self.parse_header(at)?;
                    self.consume(at + 2);
                    self.state = if size == 0 {
                        self.check_chunk(signature, &[])?;
                        if self.trailer {
                            State::Trailer
                        } else {
                            State::LastCrlf
                        }
                    } else {
                        State::Data { size, signature }
                    };
                }
                State::Data { size, signature } => {
                    if self.buffer.len() < size + 2 {
                        return Ok(());
                    }
                    if &self.buffer[size..size + 2] != b"\r\n" {
                        self.offset += size as u64;
                        return Err(self.error(ChunkErrorKind::MissingChunkEnd));
                    }
                    if let (Some(signer), Some(signature)) = (&self.signer, signature) {
                        let computed = signer.chunk_signature(&self.previous, &self.buffer[..size]);
                        if !bool::from(computed.ct_eq(&signature)) {
                            return Err(self.error(ChunkErrorKind::ChunkSignatureDoesNotMatch));
                        }
                        self.previous = computed;
                    }
                    out.extend_from_slice(&self.buffer[..size]);
                    self.decoded += size as u64;
                    self.consume(size + 2);
                    self.chunk += 1;
                    self.state = State::Header;
                }
                State::LastCrlf => {
                    if self.buffer.len() < 2 {
                        return Ok(());
                    }
                    if &self.buffer[..2] != b"\r\n" {
                        return Err(self.error(ChunkErrorKind::MissingChunkEnd));
                    }
                    self.consume(2);
                    return self.end();
                }
                State::Trailer => {
                    let Some(at) = self.line()? else {
                        return Ok(());
                    };
                    if at == 0 {
                        self.consume(2);
                        self.check_trailer()?;
                        return self.end();
                    }
                    self.trailer_line(at)?;
                    self.consume(at + 2);
                }
                State::Done => return self.end(),
            }
        }
    }

    fn end(&mut self) -> Result<(), ChunkError> {
        self.state = State::Done;
        if !self.buffer.is_empty() {
            return Err(self.error(ChunkErrorKind::DataAfterEnd));
        }
        match self.declared_length {
            Some(declared) if declared != self.decoded => {
                Err(self.error(ChunkErrorKind::DecodedLengthMismatch {
                    declared,
                    decoded: self.decoded,
                }))
            }
            _ => Ok(()),
        }
    }

    /// `<hex size>[;chunk-signature=<sig>]`.
    fn parse_header(&self, at: usize) -> Result<(usize, Option<[u8; 32]>), ChunkError> {
        let text = std::str::from_utf8(&self.buffer[..at])
            .map_err(|_| self.error(ChunkErrorKind::BadChunkHeader("(not ASCII)".into())))?;
        let bad = || {
            self.error(ChunkErrorKind::BadChunkHeader(
                text.chars().take(80).collect(),
            ))
        };
        let (size_text, extension) = match text.split_once(';') {
            Some((s, e)) => (s, Some(e)),
            None => (text, None),
        };
        if size_text.is_empty() || size_text.len() > 16 {
            return Err(bad());
        }
        let size = u64::from_str_radix(size_text, 16).map_err(|_| bad())?;
        if size > MAX_CHUNK_BYTES as u64 {
            return Err(self.error(ChunkErrorKind::ChunkTooLarge(size)));
        }
        let signature = match extension {
            None => None,
            Some(e) => {
                let hex = e.strip_prefix("chunk-signature=").ok_or_else(bad)?;
                Some(crate::hex::decode_32(hex).ok_or_else(bad)?)
            }
        };
        if self.signer.is_some() && signature.is_none() {
            return Err(self.error(ChunkErrorKind::MissingChunkSignature));
        }
        if self.signer.is_none() && signature.is_some() {
            return Err(bad());
        }
        Ok((usize::try_from(size).map_err(|_| bad())?, signature))
    }

    fn check_chunk(&mut self, signature: Option<[u8; 32]>, data: &[u8]) -> Result<(), ChunkError> {
        let (Some(signer), Some(signature)) = (&self.signer, signature) else {
            return Ok(());
        };
        let computed = signer.chunk_signature(&self.previous, data);
        if !bool::from(computed.ct_eq(&signature)) {
            return Err(self.error(ChunkErrorKind::ChunkSignatureDoesNotMatch));
        }
        self.previous = computed;
        Ok(())
    }

    fn trailer_line(&mut self, at: usize) -> Result<(), ChunkError> {
        self.trailer_bytes += at + 2;
        if self.trailer_bytes > MAX_TRAILER_BYTES {
            return Err(self.error(ChunkErrorKind::BadTrailer("too many bytes".into())));
        }
        let line = std::str::from_utf8(&self.buffer[..at])
            .map_err(|_| self.error(ChunkErrorKind::BadTrailer("not UTF-8".into())))?;
        let (name, value) = line
            .split_once(':')
            .filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                self.error(ChunkErrorKind::BadTrailer(line.chars().take(80).collect()))
            })?;
        let name = name.to_ascii_lowercase();
        let value = value.trim_matches(|c| c == ' ' || c == '\t').to_owned();
        if name == TRAILER_SIGNATURE {
            let signature = crate::hex::decode_32(&value)
                .ok_or_else(|| self.error(ChunkErrorKind::TrailerSignatureDoesNotMatch))?;
            self.trailer_signature = Some(signature);
        } else {
            self.trailers.push((name, value));
        }
        Ok(())
    }

    fn check_trailer(&mut self) -> Result<(), ChunkError> {
        let Some(signer) = &self.signer else {
            if self.trailer_signature.is_some() {
                return Err(self.error(ChunkErrorKind::BadTrailer(
                    "an unsigned body's trailer carries a signature".into(),
                )));
            }
            return Ok(());
        };
        let Some(signature) = self.trailer_signature else {
            return Err(self.error(ChunkErrorKind::TrailerSignatureDoesNotMatch));
        };
        let mut sorted: Vec<&(String, String)> = self.trailers.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut canonical = Vec::new();
        for (name, value) in sorted {
            canonical.extend_from_slice(name.as_bytes());
            canonical.push(b':');
            canonical.extend_from_slice(value.as_bytes());
            canonical.push(b'\n');
        }
        let computed = signer.trailer_signature(&self.previous, &canonical);
        if !bool::from(computed.ct_eq(&signature)) {
            return Err(self.error(ChunkErrorKind::TrailerSignatureDoesNotMatch));
        }
        self.previous = computed;
        Ok(())
    }

    /// Whether the whole body has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Called when the body has ended: an error unless its last chunk (and trailer) came.
    pub fn finish(&self) -> Result<(), ChunkError> {
        if self.is_done() {
            Ok(())
        } else {
            Err(self.error(ChunkErrorKind::Truncated))
        }
    }

    /// The trailing headers read (names lowercase, `x-amz-trailer-signature` left out).
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    /// The decoded bytes so far.
    pub fn decoded_length(&self) -> u64 {
        self.decoded
    }
}
