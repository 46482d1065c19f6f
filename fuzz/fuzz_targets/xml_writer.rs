//! Any text (NUL-separated pieces) written into a response and an error document: both must be
//! well-formed XML 1.0, and text must read back as written (unrepresentable characters
//! replaced).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let texts: Vec<&str> = text.split('\0').collect();
    let _ = portcullis_server::fuzzing::xml(&texts);
});
