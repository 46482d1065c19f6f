//! Verify latency for a typical IAM Query-protocol POST (CreateUser with tags), header auth.
//! Workload: ~150-byte form body, 4 signed headers. Compared in the same run: a full
//! `verify` (derives the signing key: 4 extra HMACs) against `verify_with_key` (cached
//! key), plus `parse` alone and signing, as baselines.

use portcullis_sigv4::{Request, SigningKey, SigningParams, parse, sign, verify, verify_with_key};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const NOW: i64 = 1_440_938_160;
const BODY: &[u8] = b"Action=CreateUser&UserName=alice&Path=%2Fengineering%2F&Tags.member.1.Key=team&Tags.member.1.Value=platform&Tags.member.2.Key=cost-center&Tags.member.2.Value=1234&Version=2010-05-08";

fn unsigned() -> Request<'static> {
    Request::new("POST", "/", "")
        .header("Host", "iam.amazonaws.com")
        .header(
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .header(
            "User-Agent",
            "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64",
        )
        .body(BODY)
}

fn signed_headers() -> Vec<(&'static str, String)> {
    let params = SigningParams::new("AKIAIOSFODNN7EXAMPLE", SECRET, "us-east-1", "iam", NOW);
    sign(&unsigned(), &params).expect("signs")
}

fn main() {
    divan::main();
}

#[divan::bench]
fn parse_only(bencher: divan::Bencher) {
    let added = signed_headers();
    let request = added.iter().fold(unsigned(), |r, (n, v)| r.header(n, v));
    bencher.bench(|| parse(divan::black_box(&request)).expect("parses"));
}

#[divan::bench]
fn verify_deriving_key(bencher: divan::Bencher) {
    let added = signed_headers();
    let request = added.iter().fold(unsigned(), |r, (n, v)| r.header(n, v));
    bencher.bench(|| {
        let auth = parse(divan::black_box(&request)).expect("parses");
        verify(&auth, &request, SECRET, NOW).expect("verifies")
    });
}

#[divan::bench]
fn verify_cached_key(bencher: divan::Bencher) {
    let added = signed_headers();
    let request = added.iter().fold(unsigned(), |r, (n, v)| r.header(n, v));
    let key = SigningKey::derive(SECRET, parse(&request).expect("parses").scope());
    bencher.bench(|| {
        let auth = parse(divan::black_box(&request)).expect("parses");
        verify_with_key(&auth, &request, &key, NOW).expect("verifies")
    });
}

#[divan::bench]
fn sign_request(bencher: divan::Bencher) {
    let request = unsigned();
    let params = SigningParams::new("AKIAIOSFODNN7EXAMPLE", SECRET, "us-east-1", "iam", NOW);
    bencher.bench(|| sign(divan::black_box(&request), &params).expect("signs"));
}
