//! A request read whole, within the body limit, with the parsing helpers handlers need.

use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::response::{Resp, json_error};

/// A request with its body in memory.
#[derive(Debug)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub peer: SocketAddr,
}

/// Parameters from a query string or form body. OAuth forbids repeating a parameter
/// (RFC 6749 §3.1), so repeats are kept visible rather than silently collapsed.
#[derive(Debug, Default, Clone)]
pub struct Params {
    map: HashMap<String, String>,
    repeated: Vec<String>,
}

impl Params {
    pub fn parse(raw: &[u8]) -> Self {
        let mut p = Params::default();
        for (k, v) in url::form_urlencoded::parse(raw) {
            if p.map.contains_key(k.as_ref()) {
                p.repeated.push(k.into_owned());
            } else {
                p.map.insert(k.into_owned(), v.into_owned());
            }
        }
        p
    }
    /// The value, with empty treated as absent (RFC 6749 §3.1).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
    /// The first parameter sent more than once, if any.
    pub fn repeated(&self) -> Option<&str> {
        self.repeated.first().map(String::as_str)
    }
}

impl Req {
    /// Reads the body, refusing more than `limit` bytes with 413 before buffering it.
    pub async fn read(
        req: hyper::Request<Incoming>,
        limit: usize,
        peer: SocketAddr,
    ) -> Result<Self, Resp> {
        let (parts, body) = req.into_parts();
        let too_large = || {
            json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "request body too large",
            )
        };
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let body = match Limited::new(body, limit).collect().await {
            Ok(c) => c.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
            Err(_) => {
                return Err(json_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "could not read request body",
                ));
            }
        };
        Ok(Self {
            method: parts.method,
            path: parts.uri.path().to_string(),
            query: parts.uri.query().map(str::to_string),
            headers: parts.headers,
            body,
            peer,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn query_params(&self) -> Params {
        Params::parse(self.query.as_deref().unwrap_or("").as_bytes())
    }

    /// Whether the body claims to be a form (the only body the OAuth endpoints take).
    pub fn is_form(&self) -> bool {
        self.header("content-type").is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
    }

    pub fn form(&self) -> Params {
        Params::parse(&self.body)
    }

    pub fn bearer_token(&self) -> Option<&str> {
        let v = self.header("authorization")?;
        let (scheme, token) = v.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        super::cookies::find(&self.headers, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_keep_repeats_visible_and_drop_empties() {
        let p = Params::parse(b"a=1&b=&a=2&c=x%20y");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        assert_eq!(p.repeated(), Some("a"));
    }
}
