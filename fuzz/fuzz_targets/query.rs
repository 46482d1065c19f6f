//! Any bytes as a Query-protocol request: a form body, a query string and parameter names,
//! separated by NUL. Parsing and every accessor must answer, never panic, and a name's value
//! must be its first occurrence (body before query), as the signature covered it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0);
    let body = parts.next().unwrap_or_default();
    let query = parts.next().unwrap_or_default();
    let names: Vec<&str> = parts.filter_map(|n| std::str::from_utf8(n).ok()).collect();
    portcullis_server::fuzzing::query(body, query, &names);
});
