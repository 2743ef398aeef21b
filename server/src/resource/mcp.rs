//! The example MCP server (Streamable HTTP, JSON responses): `initialize`, `tools/list`
//! with the Apps SDK's `securitySchemes`, and a `ping` tool that reports what the caller's
//! token says. `GET /mcp/ping` returns the same as plain JSON.

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::guard::{Denied, challenge, require};
use crate::app::App;
use crate::config::ResourceConfig;
use crate::http::Req;
use crate::http::response::{Resp, json as json_resp, method_not_allowed, text};
use crate::tokens::VerifiedAccess;

/// Protocol revisions this server speaks; the newest is offered when the client's is unknown.
const VERSIONS: [&str; 5] = [
    "2026-07-28",
    "2025-11-25",
    "2025-06-18",
    "2025-03-26",
    "2024-11-05",
];
/// The scope `ping` needs, when the resource offers it.
const PING_SCOPE: &str = "read";

/// The resource this example server is: the configured one at `/mcp` on our origin, else
/// the default one.
pub fn resource(app: &App) -> &ResourceConfig {
    app.config
        .resources
        .iter()
        .find(|r| {
            r.uri.url().is_some_and(|u| {
                u.path().trim_end_matches('/') == "/mcp"
                    && app
                        .config
                        .issuer
                        .starts_with(&u.origin().ascii_serialization())
            })
        })
        .unwrap_or_else(|| app.config.default_resource())
}

fn ping_scope(r: &ResourceConfig) -> Option<&'static str> {
    r.scopes
        .iter()
        .any(|s| s.as_str() == PING_SCOPE)
        .then_some(PING_SCOPE)
}

/// What `ping` answers: who is calling, with what.
fn whoami(c: &VerifiedAccess) -> Value {
    let mut out = Map::new();
    for (k, v) in &c.extra {
        out.insert(k.clone(), v.clone());
    }
    out.insert("sub".into(), json!(c.sub));
    out.insert("email".into(), json!(c.email));
    out.insert("scope".into(), json!(c.scope));
    out.insert("aud".into(), json!(c.aud));
    out.insert("client_id".into(), json!(c.client_id));
    Value::Object(out)
}

pub async fn ping(app: &App, req: &Req) -> Resp {
    let r = resource(app);
    match require(app, req, r, ping_scope(r)).await {
        Ok(c) => json_resp(StatusCode::OK, &whoami(&c)),
        Err(d) => challenge(app, r, &d),
    }
}

pub async fn handle(app: &App, req: &Req) -> Resp {
    if req.method != http::Method::POST {
        // No server-initiated stream: a GET may not open one (Streamable HTTP §GET).
        return method_not_allowed("POST, OPTIONS");
    }
    if let Some(v) = req.header("mcp-protocol-version")
        && !VERSIONS.contains(&v)
    {
        return rpc_error_response(
            StatusCode::BAD_REQUEST,
            Value::Null,
            -32600,
            &format!("unsupported MCP-Protocol-Version {v}"),
        );
    }
    let r = resource(app);
    let caller = match require(app, req, r, None).await {
        Ok(c) => c,
        Err(d) => return challenge(app, r, &d),
    };
    let msg: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(_) => {
            return rpc_error_response(StatusCode::BAD_REQUEST, Value::Null, -32700, "parse error");
        }
    };
    let Some(obj) = msg.as_object() else {
        return rpc_error_response(
            StatusCode::BAD_REQUEST,
            Value::Null,
            -32600,
            "expected one JSON-RPC message",
        );
    };
    let id = obj.get("id").cloned();
    let method = obj.get("method").and_then(Value::as_str);
    let (Some(id), Some(method)) = (id, method) else {
        // Notifications and responses: accepted, nothing to say (Streamable HTTP: 202).
        return text(StatusCode::ACCEPTED, "");
    };
    let params = obj.get("params").cloned().unwrap_or(Value::Null);
    let result = match method {
        "initialize" => Ok(initialize(&params)),
        "ping" => Ok(json!({})),
        "tools/list" => Ok(tools(r)),
        "tools/call" => {
            let name = params.get("name").and_then(Value::as_str);
            match name {
                Some("ping") => match ping_scope(r).filter(|s| !caller.has_scope(s)) {
                    Some(s) => return challenge(app, r, &Denied::InsufficientScope(s)),
                    None => Ok(tool_result(&whoami(&caller))),
                },
                _ => Err((-32602, format!("unknown tool {}", name.unwrap_or("")))),
            }
        }
        other => Err((-32601, format!("method {other} not found"))),
    };
    match result {
        Ok(result) => json_resp(
            StatusCode::OK,
            &json!({"jsonrpc": "2.0", "id": id, "result": result}),
        ),
        Err((code, message)) => rpc_error_response(StatusCode::OK, id, code, &message),
    }
}

fn initialize(params: &Value) -> Value {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    let version = asked
        .filter(|v| VERSIONS.contains(v))
        .unwrap_or(VERSIONS[0]);
    json!({
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": false}},
        "serverInfo": {"name": "lanyard-example", "title": "Lanyard example MCP server", "version": env!("CARGO_PKG_VERSION")},
        "instructions": "Call the ping tool to see who you are signed in as and what your token grants."
    })
}

fn tools(r: &ResourceConfig) -> Value {
    let scopes: Vec<&str> = ping_scope(r).into_iter().collect();
    json!({"tools": [{
        "name": "ping",
        "title": "Who am I",
        "description": "Returns the caller's subject, email, scopes, audience and any policy claims.",
        "inputSchema": {"type": "object", "properties": {}, "additionalProperties": false},
        "annotations": {"readOnlyHint": true},
        "securitySchemes": [{"type": "oauth2", "scopes": scopes}],
        "_meta": {"securitySchemes": [{"type": "oauth2", "scopes": scopes}]}
    }]})
}

fn tool_result(v: &Value) -> Value {
    json!({
        "content": [{"type": "text", "text": v.to_string()}],
        "structuredContent": v,
        "isError": false
    })
}

fn rpc_error_response(status: StatusCode, id: Value, code: i64, message: &str) -> Resp {
    json_resp(
        status,
        &json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
    )
}
