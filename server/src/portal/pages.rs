//! The page templates (askama, compiled in) and the one HTML error page.

use askama::Template;
use http::StatusCode;

use super::render_or_500;
use crate::app::App;
use crate::config::Branding;
use crate::http::response::Resp;

#[derive(Template)]
#[template(path = "login.html")]
pub struct Login<'a> {
    pub brand: &'a Branding,
    pub csrf_token: String,
    pub request: Option<String>,
    /// The portal page to come back to, when no app is asking (`Landing::next`).
    pub next: Option<&'static str>,
    pub email: String,
    pub error: Option<String>,
    /// Who is asking, when the sign-in is for an app.
    pub client_name: Option<String>,
    /// The "Sign in with a passkey" button (this server has passkeys).
    pub passkey: bool,
    /// Why the passkey did not sign in, next to its button.
    pub passkey_error: Option<String>,
}

#[derive(Template)]
#[template(path = "register.html")]
pub struct Register<'a> {
    pub brand: &'a Branding,
    pub csrf_token: String,
    pub request: Option<String>,
    pub email: String,
    pub error: Option<String>,
    pub client_name: Option<String>,
}

/// The second step of signing in: a code.
#[derive(Template)]
#[template(path = "second_factor.html")]
pub struct SecondFactor<'a> {
    pub brand: &'a Branding,
    pub csrf_token: String,
    pub client_name: Option<String>,
    /// The code field (TOTP or recovery code).
    pub code: bool,
    /// The passkey button.
    pub passkey: bool,
    /// Shown next to the field.
    pub error: Option<String>,
    /// Shown next to the passkey button.
    pub passkey_error: Option<String>,
}

/// The TOTP enrolment page, in the state the account is in.
#[derive(Template)]
#[template(path = "totp.html")]
pub struct Totp<'a> {
    pub brand: &'a Branding,
    pub csrf_token: String,
    pub email: String,
    /// The account must enrol before it can sign in (`LANYARD_MFA=required`).
    pub required: bool,
    pub state: TotpState,
    pub error: Option<String>,
}

/// What the enrolment page shows.
pub enum TotpState {
    /// A secret to scan (the QR code, an SVG drawn on the server) and confirm.
    Enrolling {
        qr_svg: String,
        uri: String,
        secret: String,
    },
    /// Just confirmed: the recovery codes, shown this once.
    Confirmed { recovery_codes: Vec<String> },
    /// On, with so many recovery codes left.
    On { recovery_codes_left: u32 },
    /// Second factors cannot be kept here (no encryption key on this store).
    Unavailable,
}

/// One permission on the consent page, in words.
pub struct ScopeLine {
    pub name: String,
    pub description: String,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct Consent<'a> {
    pub brand: &'a Branding,
    pub csrf_token: String,
    pub request: String,
    pub client_name: String,
    /// The name is whatever its dynamic registrant chose.
    pub name_unverified: bool,
    /// Where the code will be sent.
    pub redirect_host: String,
    /// Who published the app's metadata document, for such apps.
    pub document_host: Option<String>,
    /// The code goes to another host than the one that published the document.
    pub elsewhere: bool,
    /// Redirects only to this machine (a local app, or one impersonating one).
    pub localhost_only: bool,
    pub resource_name: String,
    pub resource_uri: String,
    pub scopes: Vec<ScopeLine>,
    pub notices: Vec<String>,
    pub email: String,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub brand: &'a Branding,
    pub title: &'a str,
    pub message: &'a str,
    /// Where "return to the app" goes, when the app is known and safe to send back to.
    pub back: Option<String>,
    pub back_label: Option<String>,
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct Home<'a> {
    pub brand: &'a Branding,
    pub email: Option<String>,
    pub csrf_token: String,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct Logout<'a> {
    pub brand: &'a Branding,
    pub csrf_token: String,
}

/// After a sign-up that waits for its address to be confirmed; the same page whether or
/// not the address had an account, where Lanyard hides that.
#[derive(Template)]
#[template(path = "check_mail.html")]
pub struct CheckMail<'a> {
    pub brand: &'a Branding,
    pub csrf_token: String,
    pub email: String,
    pub request: Option<String>,
    pub notice: Option<String>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "forgot.html")]
pub struct Forgot<'a> {
    pub brand: &'a Branding,
    pub csrf_token: String,
    pub email: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "reset.html")]
pub struct Reset<'a> {
    pub brand: &'a Branding,
    pub csrf_token: String,
    pub token: String,
    pub email: String,
    pub error: Option<String>,
}

/// A page that says what happened and where to go next.
#[derive(Template)]
#[template(path = "notice.html")]
pub struct Notice<'a> {
    pub brand: &'a Branding,
    pub title: &'a str,
    pub message: &'a str,
    pub link: Option<String>,
    pub link_label: &'a str,
}

pub fn render(status: StatusCode, t: &impl Template) -> Resp {
    render_or_500(t.render(), status)
}

/// The portal's one error page.
pub fn error_page(app: &App, status: StatusCode, title: &str, message: &str) -> Resp {
    render(
        status,
        &ErrorPage {
            brand: &app.config.branding,
            title,
            message,
            back: None,
            back_label: None,
        },
    )
}

/// A page that is not an error: what happened, and a link onward.
pub fn notice_page(app: &App, title: &str, message: &str, link: Option<(String, &str)>) -> Resp {
    let (link, link_label) = match link {
        Some((href, label)) => (Some(href), label),
        None => (None, ""),
    };
    render(
        StatusCode::OK,
        &Notice {
            brand: &app.config.branding,
            title,
            message,
            link,
            link_label,
        },
    )
}

pub fn unavailable_page(app: &App) -> Resp {
    retry_soon(error_page(
        app,
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The sign-in service cannot reach its storage right now. Nothing was changed; please try again in a moment.",
    ))
}

/// Too many sign-ins at once: the password checks are full.
pub fn busy_page(app: &App) -> Resp {
    retry_soon(error_page(
        app,
        StatusCode::SERVICE_UNAVAILABLE,
        "Busy",
        "Too many people are signing in right now. Nothing was changed; please try again in a moment.",
    ))
}

/// A 503 says when to come back (RFC 9110 §10.2.3).
fn retry_soon(mut resp: Resp) -> Resp {
    resp.headers_mut().insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from_static("2"),
    );
    resp
}
