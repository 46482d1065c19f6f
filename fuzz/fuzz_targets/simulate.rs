//! Any bytes as `portcullis policy simulate` input: an error or a decision, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_policy::parse_simulations;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((sims, _)) = parse_simulations(text, time::OffsetDateTime::UNIX_EPOCH) {
        for sim in &sims {
            let decision = sim.evaluate();
            let _ = sim.result_json(&decision);
        }
    }
});
