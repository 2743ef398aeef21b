//! Cookies: reading one by name, and the Set-Cookie line for the session.

use http::HeaderMap;

pub const SESSION: &str = "lanyard_session";

pub fn find<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The session cookie: HttpOnly (no script reads it), SameSite=Lax (sent on the top-level
/// navigation back from a client's authorize link, not on cross-site POSTs), Secure when
/// the issuer is https.
pub fn session(value: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{SESSION}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

pub fn clear_session(secure: bool) -> String {
    session("", 0, secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cookie_among_many() {
        let mut h = HeaderMap::new();
        h.append(
            http::header::COOKIE,
            "a=1; lanyard_session=xyz".parse().unwrap(),
        );
        assert_eq!(find(&h, SESSION), Some("xyz"));
        assert_eq!(find(&h, "b"), None);
        assert_eq!(
            session("v", 60, true),
            "lanyard_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
    }
}
