//! A framework-neutral view of an HTTP request: what SigV4 reads, borrowed from whatever the
//! server (or client) holds, so that this crate never depends on an HTTP library.

/// How the canonical URI is made from the raw path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UriEncoding {
    /// Every service but S3: the path is normalized (`.`, `..`, empty segments) and encoded
    /// again, so `%20` on the wire is `%2520` in the canonical URI.
    #[default]
    Double,
    /// S3: the path exactly as sent (already encoded once by the client), not normalized.
    Single,
}

impl UriEncoding {
    /// The rule of a signing name: [`UriEncoding::Single`] for `s3` (and S3's variants
    /// `s3-object-lambda`, `s3express`), else [`UriEncoding::Double`].
    pub fn for_service(signing_name: &str) -> UriEncoding {
        match signing_name {
            "s3" | "s3-object-lambda" | "s3express" => UriEncoding::Single,
            _ => UriEncoding::Double,
        }
    }
}

/// The parts of an HTTP request that SigV4 signs.
///
/// `path` and `query` are raw: exactly as on the wire (still percent-encoded), the query
/// without its `?`. Header names may be in any case and may repeat; values are bytes.
///
/// ```
/// use portcullis_sigv4::Request;
/// let body = b"Action=ListUsers&Version=2010-05-08";
/// let request = Request::new("POST", "/", "")
///     .header("Host", "iam.amazonaws.com")
///     .header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
///     .body(body);
/// assert_eq!(request.header_values("host").count(), 1);
/// ```
#[derive(Clone)]
pub struct Request<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    headers: Vec<(&'a str, &'a [u8])>,
    body: &'a [u8],
    /// The body's SHA-256 (lowercase hex) when the body itself is not at hand.
    payload_hash: Option<&'a str>,
    uri_encoding: UriEncoding,
}

impl<'a> Request<'a> {
    /// A request with no headers and an empty body.
    pub fn new(method: &'a str, path: &'a str, query: &'a str) -> Self {
        Request {
            method,
            path,
            query,
            headers: Vec::new(),
            body: &[],
            payload_hash: None,
            uri_encoding: UriEncoding::Double,
        }
    }

    /// Sets how the canonical URI is made (S3 signs the path encoded once).
    pub fn uri_encoding(mut self, encoding: UriEncoding) -> Self {
        self.uri_encoding = encoding;
        self
    }

    /// How the canonical URI is made.
    pub fn uri_encoding_mode(&self) -> UriEncoding {
        self.uri_encoding
    }

    /// A request from a request target (`/path?query`), split at the first `?`.
    pub fn from_target(method: &'a str, target: &'a str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Request::new(method, path, query)
    }

    /// Adds a header (kept in order; a repeated name adds another value).
    pub fn header(mut self, name: &'a str, value: &'a (impl AsRef<[u8]> + ?Sized)) -> Self {
        self.push_header(name, value.as_ref());
        self
    }

    /// Adds a header in place.
    pub fn push_header(&mut self, name: &'a str, value: &'a [u8]) {
        self.headers.push((name, value));
    }

    /// Sets the body.
    pub fn body(mut self, body: &'a [u8]) -> Self {
        self.body = body;
        self
    }

    /// Sets the body's SHA-256 (lowercase hex) in place of the body, for a verifier that was
    /// handed the hash rather than the bytes (a service asking Portcullis about a request it
    /// received): the signature is checked against this hash, the body is left empty.
    pub fn payload_hash(mut self, hash: &'a str) -> Self {
        self.payload_hash = Some(hash);
        self
    }

    /// The body's SHA-256, lowercase hex: the one set by [`Request::payload_hash`], else the
    /// hash of the body.
    pub(crate) fn body_hash(&self) -> String {
        match self.payload_hash {
            Some(hash) => hash.to_owned(),
            None => crate::canonical::sha256_hex(self.body),
        }
    }

    /// The HTTP method, as sent (`GET`, `POST`, ...).
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The raw path.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The raw query string, without `?`.
    pub fn query(&self) -> &'a str {
        self.query
    }

    /// All headers, in order, names as given.
    pub fn headers(&self) -> &[(&'a str, &'a [u8])] {
        &self.headers
    }

    /// The body bytes.
    pub fn body_bytes(&self) -> &'a [u8] {
        self.body
    }

    /// The values of every header named `name` (ASCII case-insensitive), in order.
    pub fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The same request with another raw query string.
    pub(crate) fn with_query<'b>(&self, query: &'b str) -> Request<'b>
    where
        'a: 'b,
    {
        Request {
            query,
            ..self.clone()
        }
    }

    /// The value of the header `name` if it appears exactly once.
    pub(crate) fn single_header(&self, name: &str) -> Result<Option<&'a [u8]>, ()> {
        let mut values = self.header_values(name);
        match (values.next(), values.next()) {
            (None, _) => Ok(None),
            (Some(v), None) => Ok(Some(v)),
            (Some(_), Some(_)) => Err(()),
        }
    }
}

/// Debug shows the shape of the request but no header values (they may hold credentials,
/// session tokens or signatures) and only the body's length.
impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| *n).collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query_len", &self.query.len())
            .field("header_names", &names)
            .field("body_len", &self.body.len())
            .field("payload_hash", &self.payload_hash)
            .field("uri_encoding", &self.uri_encoding)
            .finish()
    }
}
