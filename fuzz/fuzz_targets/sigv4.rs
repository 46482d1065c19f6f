//! Any bytes as the parts of a signed request (method, path, query, headers, body): parsing
//! and verifying must answer with an error or a result, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_sigv4::{Request, parse, verify};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Fields separated by newlines: method, path, query, then "name: value" headers, then body.
    let mut lines = text.split('\n');
    let method = lines.next().unwrap_or("POST");
    let path = lines.next().unwrap_or("/");
    let query = lines.next().unwrap_or("");
    let mut headers = Vec::new();
    let mut body = "";
    for line in lines.by_ref() {
        match line.split_once(": ") {
            Some((name, value)) => headers.push((name, value)),
            None => {
                body = line;
                break;
            }
        }
    }
    let mut request = Request::new(method, path, query).body(body.as_bytes());
    for (name, value) in &headers {
        request.push_header(name, value.as_bytes());
    }
    if let Ok(auth) = parse(&request) {
        let _ = verify(&auth, &request, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1_440_938_160);
    }
});
