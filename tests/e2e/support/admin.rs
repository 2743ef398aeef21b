//! A caller of the admin API, as an operator's billing or support system would be: a client
//! made with `lanyard client add --admin-scopes`, a token from the client-credentials grant
//! for `<issuer>/admin`, then JSON over HTTP to the admin listener.
//!
//! Every answer it receives is checked against the server's own OpenAPI document: the
//! operation must be documented, the status must be one it documents, and the body must
//! match that status's schema for the content type sent. So every admin call of the e2e
//! suite also tests the document.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::TestServer;

/// An authenticated admin API client of one server (or one instance of several).
#[derive(Clone)]
pub struct Admin {
    base: String,
    http: reqwest::Client,
    token: String,
    pub client_id: String,
    pub secret: String,
    document: Arc<Value>,
}

/// One answer: status, headers and JSON body (`Null` when there is none).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn etag(&self) -> String {
        self.headers
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .expect("an ETag")
            .to_string()
    }
}

/// `lanyard client add --admin-scopes <scopes>` on `server`: (client_id, secret).
fn admin_client(server: &TestServer, name: &str, scopes: &str) -> (String, String) {
    let out = server.cli_json(&["client", "add", "--name", name, "--admin-scopes", scopes]);
    let id = out["client_id"].as_str().expect("client_id").to_string();
    let secret = out["client_secret"].as_str().expect("a secret").to_string();
    (id, secret)
}

/// A client-credentials token for the admin API: (status, body).
pub async fn admin_token(server: &TestServer, id: &str, secret: &str) -> (StatusCode, Value) {
    let resource = format!("{}/admin", server.issuer);
    let r = server
        .http
        .post(server.url("/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("resource", resource.as_str()),
        ])
        .send()
        .await
        .expect("token request");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

impl Admin {
    /// A new admin client with `scopes` (comma-separated), signed in on `server`.
    pub async fn new(server: &TestServer, scopes: &str) -> Self {
        let (client_id, secret) = admin_client(server, "operator tools", scopes);
        Self::with_client(server, client_id, secret).await
    }

    /// An existing admin client, signed in on `server` (another instance, say).
    pub async fn with_client(server: &TestServer, client_id: String, secret: String) -> Self {
        let (status, body) = admin_token(server, &client_id, &secret).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let token = body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string();
        let r = server
            .http
            .get(server.admin_url("/admin/v1/openapi.json"))
            .send()
            .await
            .expect("openapi.json");
        assert_eq!(r.status(), StatusCode::OK);
        let document: Value = r.json().await.expect("the OpenAPI document is JSON");
        assert_eq!(document["openapi"], "3.1.0");
        Self {
            base: server.admin_url("/admin/v1"),
            http: server.http.clone(),
            token,
            client_id,
            secret,
            document: Arc::new(document),
        }
    }

    /// The same client with another token (an expired, foreign or absent one).
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: token.to_string(),
            ..self.clone()
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        let body = serde_json::to_vec(&body).expect("JSON");
        self.send(Method::POST, path, Some(("application/json", body)), &[])
            .await
    }

    /// A request with a body of any media type and extra headers.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut r = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if !self.token.is_empty() {
            r = r.bearer_auth(&self.token);
        }
        if let Some((media, bytes)) = body {
            r = r.header("content-type", media).body(bytes);
        }
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let resp = r.send().await.expect("admin request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("admin answer");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        let answer = Answer {
            status,
            headers,
            body,
        };
        conforms(&self.document, &method, path, &answer);
        answer
    }
}

/// The document's template for a concrete path: literal segments match themselves,
/// `{name}` matches any one segment; a literal match wins over a parameter.
fn template<'a>(document: &'a Value, path: &str) -> Option<&'a str> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut best: Option<(&str, usize)> = None;
    for t in document["paths"].as_object()?.keys() {
        let parts: Vec<&str> = t.trim_start_matches('/').split('/').collect();
        if parts.len() != segments.len() {
            continue;
        }
        let fits = parts
            .iter()
            .zip(&segments)
            .all(|(p, s)| p.starts_with('{') || p == s);
        let literal = parts.iter().filter(|p| !p.starts_with('{')).count();
        if fits && best.is_none_or(|(_, l)| literal > l) {
            best = Some((t, literal));
        }
    }
    best.map(|(t, _)| t)
}

/// Panics unless the document describes this answer.
fn conforms(document: &Value, method: &Method, path: &str, answer: &Answer) {
    let Some(t) = template(document, path) else {
        // A path the API does not have: its 404 is still a problem detail.
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{path} is not documented"
        );
        assert_problem(document, answer);
        return;
    };
    let item = &document["paths"][t];
    let operation = &item[method.as_str().to_ascii_lowercase()];
    if operation.is_null() {
        assert_eq!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {t}"
        );
        assert_problem(document, answer);
        return;
    }
    let status = answer.status.as_str();
    let response = &operation["responses"][status];
    assert!(
        !response.is_null(),
        "{method} {t} answered {status}, which the document does not list: {}",
        answer.body
    );
    let content = &response["content"];
    if answer.body.is_null() {
        assert!(
            content.is_null() || content.as_object().is_some_and(|c| c.is_empty()),
            "{method} {t} {status} documents a body but sent none"
        );
        return;
    }
    let media = answer
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a content type")
        .trim();
    let pointer = format!(
        "#/paths/{}/{}/responses/{status}/content/{}/schema",
        escape(t),
        method.as_str().to_ascii_lowercase(),
        escape(media)
    );
    assert!(
        !content[media].is_null(),
        "{method} {t} {status} answered {media}, which the document does not list"
    );
    validate(
        document,
        &pointer,
        &answer.body,
        &format!("{method} {t} {status}"),
    );
}

fn assert_problem(document: &Value, answer: &Answer) {
    let media = answer
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    assert_eq!(media, Some("application/problem+json"));
    validate(
        document,
        "#/components/schemas/Problem",
        &answer.body,
        "a problem",
    );
}

/// JSON Pointer escaping (RFC 6901), then percent-encoding for use in a URI fragment.
fn escape(segment: &str) -> String {
    segment
        .replace('~', "~0")
        .replace('/', "~1")
        .replace('{', "%7B")
        .replace('}', "%7D")
}

/// Validates `instance` against the schema at `pointer` in the document (JSON Schema
/// 2020-12, which OpenAPI 3.1 schemas are), with `#/components/...` references resolved
/// in the document itself.
fn validate(document: &Value, pointer: &str, instance: &Value, what: &str) {
    let mut root = document.clone();
    root["$ref"] = json!(pointer);
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    let validator = jsonschema::draft202012::new(&root)
        .unwrap_or_else(|e| panic!("{what}: the document's schema does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: the answer does not match the document: {errors:?}\n{instance:#}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_prefer_literal_segments() {
        let doc = json!({"paths": {"/keys": {}, "/keys/rotate": {}, "/users/{id}": {}, "/users/{id}/grants/{client_id}": {}}});
        assert_eq!(template(&doc, "/keys/rotate"), Some("/keys/rotate"));
        assert_eq!(template(&doc, "/users/u1?x=1"), Some("/users/{id}"));
        assert_eq!(
            template(&doc, "/users/u1/grants/c1"),
            Some("/users/{id}/grants/{client_id}")
        );
        assert_eq!(template(&doc, "/nothing"), None);
    }

    fn document() -> Value {
        json!({"components": {"schemas": {"Problem": {"type": "object", "required": ["status"],
            "properties": {"status": {"type": "integer"}, "detail": {"type": ["string", "null"]}}}}}})
    }

    #[test]
    fn answers_that_match_the_schema_pass() {
        let ok = json!({"status": 404, "detail": null});
        validate(
            &document(),
            "#/components/schemas/Problem",
            &ok,
            "a problem",
        );
    }

    #[test]
    #[should_panic(expected = "does not match the document")]
    fn answers_that_do_not_match_the_schema_fail() {
        let wrong = json!({"status": "404"});
        validate(
            &document(),
            "#/components/schemas/Problem",
            &wrong,
            "a problem",
        );
    }
}
