//! A request read whole, within the body's size and time limits, with the parsing helpers
//! handlers need.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::BodyExt;
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
    /// The client's address: the peer, or whom a trusted proxy forwarded for.
    pub client: IpAddr,
    /// The request's id (this process's tag, then a number), which logs and
    /// `x-request-id` carry.
    pub id: String,
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

/// How much of an oversized body is read and thrown away, and for how long, before its
/// 413 is sent. A client that writes its whole body before reading (as most do) would
/// otherwise find the connection reset under it and never see the 413; nginx's lingering
/// close does the same.
const LINGER_BYTES: usize = 4 << 20;
const LINGER_TIME: Duration = Duration::from_secs(2);

/// Why a body was not read.
enum BodyError {
    TooLarge,
    TooSlow,
    Broken,
}

impl BodyError {
    fn response(self) -> Resp {
        let (status, description) = match self {
            Self::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
            Self::TooSlow => (StatusCode::REQUEST_TIMEOUT, "request body too slow"),
            Self::Broken => (StatusCode::BAD_REQUEST, "could not read request body"),
        };
        let mut resp = json_error(status, "invalid_request", description);
        // What is left of the body is not read: the connection cannot carry another request.
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        resp
    }
}

impl Req {
    /// Reads the body: at most `limit` bytes (413 beyond), within `timeout` (408 beyond).
    pub async fn read(
        req: hyper::Request<Incoming>,
        limit: usize,
        timeout: Duration,
        peer: SocketAddr,
        client: IpAddr,
        id: String,
    ) -> Result<Self, Resp> {
        let (parts, body) = req.into_parts();
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body = match declared {
            Some(n) if n > limit as u64 => {
                linger(body, 0).await;
                Err(BodyError::TooLarge)
            }
            _ => match tokio::time::timeout(timeout, read_body(body, limit)).await {
                Ok(read) => read,
                Err(_) => Err(BodyError::TooSlow),
            },
        };
        Ok(Self {
            method: parts.method,
            path: parts.uri.path().to_string(),
            query: parts.uri.query().map(str::to_string),
            headers: parts.headers,
            body: body.map_err(BodyError::response)?,
            peer,
            client,
            id,
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

/// The whole body, or `TooLarge` (after lingering) once it passes `limit`.
async fn read_body(mut body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|_| BodyError::Broken)?.into_data() else {
            continue;
        };
        if buf.len() + data.len() > limit {
            linger(body, buf.len() + data.len()).await;
            return Err(BodyError::TooLarge);
        }
        buf.extend_from_slice(&data);
    }
    Ok(buf.freeze())
}

/// Reads and discards what is left of a refused body, within `LINGER_BYTES` (counting the
/// `seen` bytes already read) and `LINGER_TIME`.
async fn linger(mut body: Incoming, mut seen: usize) {
    let drain = async {
        while seen <= LINGER_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => seen += frame.data_ref().map_or(0, Bytes::len),
                Some(Err(_)) | None => return,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
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
