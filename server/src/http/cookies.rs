//! Cookies: reading one by name, and the Set-Cookie line for the session. The `cookie`
//! crate does the RFC 6265 parsing and rendering.

use cookie::time::Duration;
use cookie::{Cookie, SameSite};
use http::HeaderMap;

/// The session cookie's name. On an https issuer it carries the `__Host-` prefix, which
/// browsers accept only from a secure origin, for the whole host (no `Domain`, `Path=/`):
/// neither a sibling subdomain nor a plain-http page can set or shadow it.
pub fn session_name(secure: bool) -> &'static str {
    if secure {
        "__Host-lanyard_session"
    } else {
        "lanyard_session"
    }
}

/// The value of the first cookie called `name` in the request's `Cookie` headers. Pairs
/// that do not parse are skipped, so one malformed cookie set by another app on the same
/// host does not hide ours.
pub fn find<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .and_then(|c| c.value_raw())
}

/// The session cookie: HttpOnly (no script reads it), SameSite=Lax (sent on the top-level
/// navigation back from a client's authorize link, not on cross-site POSTs), Secure when
/// the issuer is https.
pub fn session(value: &str, max_age: i64, secure: bool) -> String {
    build(session_name(secure), value, max_age, secure)
}

/// The cookie of a browser that is not signed in: its form token (and the authorization
/// request it is on), with nothing kept on the server. On https it carries the `__Host-`
/// prefix, so no other origin can plant a token a forged form would then match.
pub fn anonymous_name(secure: bool) -> &'static str {
    if secure {
        "__Host-lanyard_form"
    } else {
        "lanyard_form"
    }
}

pub fn anonymous(value: &str, max_age: i64, secure: bool) -> String {
    build(anonymous_name(secure), value, max_age, secure)
}

fn build(name: &'static str, value: &str, max_age: i64, secure: bool) -> String {
    Cookie::build((name, value))
        .path("/")
        .max_age(Duration::seconds(max_age))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build()
        .to_string()
}

pub fn clear_session(secure: bool) -> String {
    session("", 0, secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for line in lines {
            h.append(http::header::COOKIE, line.parse().unwrap());
        }
        h
    }

    #[test]
    fn finds_cookie_among_many() {
        let h = headers(&["a=1; lanyard_session=xyz", "b=2"]);
        assert_eq!(find(&h, session_name(false)), Some("xyz"));
        assert_eq!(find(&h, "b"), Some("2"));
        assert_eq!(find(&h, "c"), None);
    }

    #[test]
    fn malformed_pairs_do_not_hide_the_session() {
        let h = headers(&["=nameless; junk; lanyard_session = xyz ;"]);
        assert_eq!(find(&h, session_name(false)), Some("xyz"));
        assert_eq!(find(&headers(&[";;;"]), session_name(false)), None);
    }

    #[test]
    fn session_cookie_attributes() {
        assert_eq!(
            session("v", 60, true),
            "__Host-lanyard_session=v; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=60"
        );
        assert_eq!(
            clear_session(false),
            "lanyard_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0"
        );
    }
}
