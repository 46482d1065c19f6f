//! Any bytes as an aws-chunked body, fed in pieces split where the input says: decoding must
//! answer with data or a located error, never panic, and a body that decodes must decode the
//! same whatever the split. The first byte chooses the form (signed chunks, trailer) and the
//! split length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_sigv4::{ChunkSigner, ChunkedDecoder, CredentialScope, SigningKey, Streaming};

fn decode(form: Streaming, body: &[u8], split: usize) -> Result<Vec<u8>, ()> {
    let scope = CredentialScope::new("20260101", "us-east-1", "s3");
    let key = SigningKey::derive("secret", &scope);
    let signer = ChunkSigner::new(key, 1_767_225_600, &"0".repeat(64));
    let mut decoder = ChunkedDecoder::new(form, signer, None).ok_or(())?;
    let mut out = Vec::new();
    for piece in body.chunks(split.max(1)) {
        decoder.feed(piece, &mut out).map_err(|_| ())?;
    }
    decoder.finish().map_err(|_| ())?;
    let _ = decoder.trailers();
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let form = Streaming {
        signed_chunks: control & 1 == 1,
        trailer: control & 2 == 2,
    };
    let split = usize::from(control >> 2) + 1;
    let whole = decode(form, body, body.len().max(1));
    let pieces = decode(form, body, split);
    assert_eq!(whole, pieces);
});
