//! `/metrics` (issue 10): Prometheus's OpenMetrics text on its own listener, counting what
//! the audit point saw: requests by source, action and outcome, decisions, latency, failed
//! authentications, the audit backlog.

mod common;

use common::*;

async fn scrape(addr: std::net::SocketAddr) -> (u16, String, String) {
    let wire = format!("GET /metrics HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    exchange(&addr.to_string(), wire.as_bytes()).await
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_decisions_and_failed_authentications() {
    let server = TestServer::start_configured(|c| {
        c.metrics_listen = Some("127.0.0.1:0".parse().expect("address"));
    })
    .await;
    let addr = server
        .server
        .as_ref()
        .and_then(|s| s.metrics_addr)
        .expect("metrics are served");
    let root = server.root();
    root.create_user()
        .user_name("alice")
        .send()
        .await
        .expect("create");
    root.get_user()
        .user_name("alice")
        .send()
        .await
        .expect("get");
    let alice = server.user_with_policy("mallory", None).await;
    assert_eq!(
        error_code(alice.list_users().send().await).0,
        "AccessDenied"
    );
    let stranger = server.iam("AKIAUNKNOWNKEY000000", "not-a-secret");
    assert_eq!(
        error_code(stranger.list_users().send().await).0,
        "InvalidClientTokenId"
    );

    let (status, head, text) = scrape(addr).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    let iam = r#"source="iam.amazonaws.com""#;
    assert_eq!(
        value(
            &text,
            &format!(r#"portcullis_requests_total{{{iam},action="GetUser",outcome="OK"}}"#)
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!(
                r#"portcullis_requests_total{{{iam},action="ListUsers",outcome="AccessDenied"}}"#
            )
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"portcullis_authentication_failures_total{code="InvalidClientTokenId"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        value(
            &text,
            r#"portcullis_decisions_total{decision="ImplicitDeny"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        value(
            &text,
            &format!("portcullis_request_duration_seconds_count{{{iam}}}")
        )
        .is_some_and(|n| n >= 5.0),
        "{text}"
    );
    assert!(value(&text, "portcullis_audit_backlog").is_some(), "{text}");

    // The API's listener does not serve it.
    let api = server.server.as_ref().expect("server").local_addr;
    let (status, _, _) = scrape(api).await;
    assert_ne!(status, 200);
}
