//! What `/metrics` counts, read after real traffic: responses and latency per endpoint,
//! mints per resource and grant type, sign-in failures and lockouts.

use crate::abuse::sign_in;
use crate::fixtures::*;
use crate::support::*;

#[tokio::test]
async fn metrics_count_per_endpoint_resource_grant_and_sign_in() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let connected = server.connect(EMAIL, None).await;
    let (status, body, _) = refresh(&server, &connected.client_id, connected.refresh_token()).await;
    assert_eq!(status, 200, "{body}");
    for _ in 0..10 {
        assert_eq!(sign_in(&server, "", EMAIL, "wrong").await, 401);
    }
    assert_eq!(sign_in(&server, "", EMAIL, "wrong").await, 429);
    let probe = server
        .http
        .get(server.url("/wp-login.php"))
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), 404);

    let metrics = server.metrics().await;
    let resource = server.resource();
    for line in [
        format!(
            "lanyard_tokens_minted_total{{resource=\"{resource}\",grant_type=\"authorization_code\"}} 1"
        ),
        format!(
            "lanyard_tokens_minted_total{{resource=\"{resource}\",grant_type=\"refresh_token\"}} 1"
        ),
        "lanyard_http_responses_total{endpoint=\"token\",class=\"2xx\"} 2".to_string(),
        "lanyard_http_request_seconds_count{endpoint=\"token\"} 2".to_string(),
        "lanyard_http_responses_total{endpoint=\"other\",class=\"4xx\"} 1".to_string(),
        "lanyard_http_throttled_total{endpoint=\"login\"} 1".to_string(),
        "lanyard_sign_in_failures_total 10".to_string(),
        "lanyard_sign_in_throttled_total 1".to_string(),
        "lanyard_store_up{backend=\"sqlite\"} 1".to_string(),
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in\n{metrics}"
        );
    }
}
