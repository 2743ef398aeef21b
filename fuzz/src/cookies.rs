//! Cookies: the `Cookie` headers a browser sends (the session cookie and a signed-out
//! browser's form cookie, read by [`cookies::find`] and [`session::read_anonymous`]), and
//! the form cookie Lanyard writes back, which carries the authorization request a page was
//! opened for (`?request=` on the sign-in page, read by [`portal::request_id`]).
//!
//! The input is lines: `cookie <header value>` (one `Cookie` header each), `request
//! <query string>` (the sign-in page's), and `https` (the `__Host-` names).
//!
//! What a cookie's value reads as, written back and sent again by a browser, reads the same;
//! and a value Lanyard writes never adds attributes to its cookie.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bytes::Bytes;
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue, Method};
use lanyard::http::{Req, cookies};
use lanyard::portal::{self, session};

use crate::lines;

/// A form token as Lanyard makes them (32 random bytes in base64url).
const TOKEN: &str = "c2lnbmVkLW91dC1mb3JtLXRva2VuLWZvci10ZXN0cw";

pub fn run(data: &[u8]) {
    let mut headers = HeaderMap::new();
    let mut query = None;
    let mut secure = false;
    for (keyword, rest) in lines::parse(data) {
        match keyword {
            "cookie" => {
                if let Ok(v) = HeaderValue::from_bytes(rest.as_bytes()) {
                    headers.append(COOKIE, v);
                }
            }
            "request" => query = Some(rest),
            "https" => secure = true,
            _ => {}
        }
    }
    for name in [
        cookies::session_name(secure),
        cookies::anonymous_name(secure),
    ] {
        if let Some(value) = cookies::find(&headers, name) {
            assert!(!value.contains(';'), "{name} read as {value:?}");
            let sent = headers
                .get_all(COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok());
            assert!(
                sent.into_iter().any(|h| h.contains(value)),
                "{value:?} was not sent"
            );
        }
    }
    let anonymous = cookies::find(&headers, cookies::anonymous_name(secure));
    if let Some((csrf, pending)) = anonymous.and_then(session::read_anonymous) {
        assert!(
            csrf.len() >= 32 && !csrf.contains('.'),
            "form token {csrf:?}"
        );
        assert_eq!(
            Some(session::anonymous_value(csrf, pending).as_str()),
            anonymous
        );
        survives_a_browser(csrf, pending, secure);
    }
    if let Some(query) = query {
        let req = login_page(query, headers);
        if let Some(id) = portal::request_id(&req, None) {
            survives_a_browser(TOKEN, Some(&id), secure);
        }
    }
}

fn login_page(query: &str, headers: HeaderMap) -> Req {
    let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40000);
    Req {
        method: Method::GET,
        path: "/login".into(),
        query: Some(query.to_string()),
        headers,
        body: Bytes::new(),
        peer,
        client: peer.ip(),
        id: String::new(),
    }
}

/// The form cookie holding `csrf` and `pending`, as Lanyard sets it, is a valid header
/// whose only attributes are Lanyard's, and a browser that stores it and sends it back
/// (RFC 6265 §5.2, §5.4) gives Lanyard the same form token and pending request.
fn survives_a_browser(csrf: &str, pending: Option<&str>, secure: bool) {
    let value = session::anonymous_value(csrf, pending);
    let set = cookies::anonymous(&value, 600, secure);
    assert!(
        HeaderValue::from_str(&set).is_ok(),
        "Set-Cookie {set:?} is not a header value"
    );
    let mut parts = set.split(';');
    let pair = parts.next().unwrap_or_default();
    let (name, stored) = pair.split_once('=').unwrap_or(("", pair));
    let trim = |s: &str| s.trim_matches([' ', '\t']).to_string();
    assert_eq!(trim(name), cookies::anonymous_name(secure));
    for attribute in parts {
        let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
        let key = trim(key).to_ascii_lowercase();
        match key.as_str() {
            "httponly" | "secure" | "max-age" => {}
            "path" => assert_eq!(trim(val), "/", "in {set:?}"),
            "samesite" => assert_eq!(trim(val), "Lax", "in {set:?}"),
            _ => panic!("attribute {attribute:?} in {set:?}"),
        }
    }
    let Ok(header) = HeaderValue::from_str(&format!("{}={}", trim(name), trim(stored))) else {
        panic!("the browser cannot send {stored:?} back");
    };
    let mut back = HeaderMap::new();
    back.append(COOKIE, header);
    let read = cookies::find(&back, cookies::anonymous_name(secure));
    assert_eq!(read, Some(value.as_str()), "in {set:?}");
    assert_eq!(
        read.and_then(session::read_anonymous),
        Some((csrf, pending)),
        "in {set:?}"
    );
}
