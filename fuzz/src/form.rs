//! Form bodies and query strings: [`Params`], as every endpoint reads them, and the values
//! the endpoints parse out of them (the token request, PKCE, scopes, redirect URIs and
//! resources). The input is the raw body or query string.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lanyard::http::request::Params;
use lanyard::oauth::pkce::Challenge;
use lanyard::oauth::token::TokenRequest;
use lanyard::oauth::types::{GrantType, RedirectUri, ResourceUri, ScopeSet};

const ISSUER: &str = "https://auth.example";

pub fn run(data: &[u8]) {
    let params = Params::parse(data);
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(data).into_owned().collect();
    first_value_wins_and_repeats_show(&params, &pairs);
    round_trips(&params, &pairs);
    token_request(&params);
    pkce(&params);
    scope(params.get("scope"));
    redirect_uri(params.get("redirect_uri"), params.get("state"));
    resource(params.get("resource"));
}

/// RFC 6749 §3.1: a parameter sent twice is refused, so the first value is the one read,
/// an empty value reads as absent, and the repeat is reported.
fn first_value_wins_and_repeats_show(params: &Params, pairs: &[(String, String)]) {
    let mut seen: Vec<&str> = Vec::new();
    let mut first_repeat = None;
    for (k, v) in pairs {
        if seen.contains(&k.as_str()) {
            first_repeat.get_or_insert(k.as_str());
            continue;
        }
        seen.push(k);
        let want = Some(v.as_str()).filter(|v| !v.is_empty());
        assert_eq!(params.get(k), want, "value of {k:?}");
    }
    assert_eq!(params.repeated(), first_repeat);
}

/// What was read, encoded again, reads the same.
fn round_trips(params: &Params, pairs: &[(String, String)]) {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    let mut keys: Vec<&str> = Vec::new();
    for (k, _) in pairs {
        if !keys.contains(&k.as_str()) {
            keys.push(k);
            out.append_pair(k, params.get(k).unwrap_or(""));
        }
    }
    let again = Params::parse(out.finish().as_bytes());
    assert_eq!(again.repeated(), None);
    for k in keys {
        assert_eq!(again.get(k), params.get(k), "{k:?} after a round trip");
    }
}

/// `grant_type` picks the grant; anything else is a 400 in the RFC's words.
fn token_request(params: &Params) {
    match TokenRequest::parse(params) {
        Ok(request) => {
            let named = params.get("grant_type").map(GrantType::parse);
            assert_eq!(named, Some(Ok(request.grant_type())));
            match request {
                TokenRequest::AuthorizationCode { code, verifier, .. } => {
                    assert_eq!(Some(code), params.get("code"));
                    assert_eq!(Some(verifier), params.get("code_verifier"));
                }
                TokenRequest::RefreshToken { token, .. } => {
                    assert_eq!(Some(token), params.get("refresh_token"));
                }
                TokenRequest::ClientCredentials { scope, resource } => {
                    assert_eq!(scope, params.get("scope"));
                    assert_eq!(resource, params.get("resource"));
                }
            }
        }
        Err(e) => {
            assert!(
                matches!(e.code(), "invalid_request" | "unsupported_grant_type"),
                "{e}"
            );
            assert_eq!(e.response().status(), http::StatusCode::BAD_REQUEST, "{e}");
        }
    }
}

/// RFC 7636 §4.6: a verifier matches exactly when its SHA-256, in base64url, is the
/// challenge (and it has the verifier's form).
fn pkce(params: &Params) {
    let Ok(challenge) = Challenge::parse(
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) else {
        return;
    };
    assert_eq!(Some("S256"), params.get("code_challenge_method"));
    let Some(verifier) = params.get("code_verifier") else {
        return;
    };
    let formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let hashed = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
    assert_eq!(
        challenge.verify(verifier),
        formed && hashed == challenge.as_str(),
        "verifier {verifier:?} against {:?}",
        challenge.as_str()
    );
}

/// RFC 6749 §3.3: scope tokens are printable ASCII but space, `"` and `\`; a set that
/// parses prints as a string that parses to the same set.
fn scope(raw: Option<&str>) {
    let Some(raw) = raw else { return };
    let nqchar = |t: &str| {
        t.bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
    };
    match ScopeSet::parse(raw) {
        Ok(set) => {
            for s in set.iter() {
                assert!(nqchar(s.as_str()) && s.as_str().len() <= 128, "{s:?}");
            }
            assert_eq!(ScopeSet::parse(&set.to_string()).as_ref(), Ok(&set));
        }
        Err(_) => assert!(
            raw.split(' ').any(|t| !nqchar(t) || t.len() > 128),
            "{raw:?} was refused"
        ),
    }
}

/// A redirect URI is kept as sent, matches itself, and the response parameters appended to
/// it read back exactly (RFC 6749 §4.1.2: `state` is returned as the client sent it), after
/// the URI's own query.
fn redirect_uri(raw: Option<&str>, state: Option<&str>) {
    let Some(raw) = raw else { return };
    let Ok(uri) = RedirectUri::parse(raw) else {
        return;
    };
    assert_eq!(uri.as_str(), raw);
    assert!(uri.matches_registered(&uri));
    let _ = uri.kind();
    let _ = uri.host();
    let mut sent = vec![("error", "access_denied")];
    if let Some(s) = state {
        sent.push(("state", s));
    }
    sent.push(("iss", ISSUER));
    let reply = uri.with_params(&sent);
    let Ok(reply) = url::Url::parse(&reply) else {
        panic!("{raw:?} with parameters is not a URL: {reply:?}");
    };
    assert_eq!(reply.fragment(), None);
    let own: Vec<(String, String)> = url::Url::parse(raw)
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let got: Vec<(String, String)> = reply.query_pairs().into_owned().collect();
    let want: Vec<(String, String)> = own
        .into_iter()
        .chain(sent.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    assert_eq!(got, want, "parameters appended to {raw:?}");
}

/// A resource indicator is kept in the form it was sent and equals itself normalised.
fn resource(raw: Option<&str>) {
    let Some(raw) = raw else { return };
    let Ok(r) = ResourceUri::parse(raw) else {
        return;
    };
    assert_eq!(r.as_str(), raw);
    let Ok(again) = ResourceUri::parse(r.as_str()) else {
        panic!("{raw:?} does not parse twice");
    };
    assert!(r.same_as(&again));
    // The URL parser drops outer whitespace and controls, which a slash after them keeps.
    if raw.bytes().any(|b| b <= b' ') {
        return;
    }
    let slashed = match raw.split_once('?') {
        Some((path, query)) => format!("{path}/?{query}"),
        None => format!("{raw}/"),
    };
    if let Ok(s) = ResourceUri::parse(&slashed) {
        assert!(r.same_as(&s), "{raw:?} and {slashed:?}");
    }
}
