//! The mail settings: where mail goes (an SMTP server, or the outbox folder), who it is
//! from, and the lives of the links it carries.

use std::path::PathBuf;

use lettre::message::Mailbox;
use url::Url;

use super::{ConfigError, invalid};
use crate::secret::Secret;

/// How Lanyard sends mail.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `None`: each message is written to the outbox folder in the data directory.
    pub smtp: Option<SmtpServer>,
    pub from: Mailbox,
    /// A new account must follow its verification link before it can finish signing in
    /// to an app.
    pub require_verified_email: bool,
    /// Seconds a verification link works.
    pub verify_link_ttl: i64,
    /// Seconds a password-reset link works.
    pub reset_link_ttl: i64,
}

/// How the connection to the mail server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: plain, upgraded with STARTTLS when the server offers it (and refused
    /// when it does not and the URL carries credentials).
    StartTlsWhenOffered,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

/// `LANYARD_SMTP_URL`, parsed. The password redacts itself, so the configuration can be
/// logged.
#[derive(Debug, Clone)]
pub struct SmtpServer {
    pub security: SmtpSecurity,
    pub host: String,
    pub port: u16,
    pub credentials: Option<(String, Secret<String>)>,
    /// CA certificates (PEM) that TLS to the mail server trusts instead of the system's.
    pub ca: Option<PathBuf>,
}

const KEY: &str = "LANYARD_SMTP_URL";

impl SmtpServer {
    /// `smtp://[user:password@]host[:port]` or `smtps://…`. The URL itself never reaches an
    /// error message: it may carry a password.
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let url = Url::parse(raw).map_err(|e| invalid(KEY, format!("not a URL: {e}")))?;
        let (security, default_port) = match url.scheme() {
            "smtp" => (SmtpSecurity::StartTlsWhenOffered, 587),
            "smtps" => (SmtpSecurity::Implicit, 465),
            other => {
                return Err(invalid(
                    KEY,
                    format!("scheme {other:?}: use smtp:// or smtps://"),
                ));
            }
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid(KEY, "needs a host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| invalid(KEY, "the user or password is not UTF-8"))
        };
        let credentials = match url.username() {
            "" => None,
            user => Some((
                decode(user)?,
                Secret::new(decode(url.password().unwrap_or_default())?),
            )),
        };
        Ok(Self {
            security,
            host,
            port: url.port().unwrap_or(default_port),
            credentials,
            ca: None,
        })
    }
}

pub(super) fn build(
    smtp_url: Option<&str>,
    smtp_ca: Option<PathBuf>,
    from: Option<&str>,
    issuer: &str,
    product_name: &str,
    require_verified_email: bool,
    ttls: (u64, u64),
) -> Result<MailConfig, ConfigError> {
    let smtp = match (smtp_url.map(SmtpServer::parse).transpose()?, smtp_ca) {
        (Some(smtp), ca) => Some(SmtpServer { ca, ..smtp }),
        (None, Some(_)) => {
            return Err(invalid(
                "LANYARD_SMTP_CA",
                "needs LANYARD_SMTP_URL: without it mail goes to the outbox folder",
            ));
        }
        (None, None) => None,
    };
    let from = match from {
        Some(f) => f
            .parse::<Mailbox>()
            .map_err(|e| invalid("LANYARD_MAIL_FROM", format!("{f:?}: {e}")))?,
        None => {
            let host = Url::parse(issuer)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| "localhost".into());
            // Built rather than parsed, so any product name (commas, quotes) is a display
            // name lettre encodes, not syntax.
            let address = format!("noreply@{host}")
                .parse()
                .map_err(|e| invalid("LANYARD_MAIL_FROM", format!("needs setting: {e}")))?;
            Mailbox::new(Some(product_name.to_string()), address)
        }
    };
    let ttl = |key: &str, v: u64| {
        i64::try_from(v)
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| invalid(key, "must be a positive number of seconds"))
    };
    Ok(MailConfig {
        smtp,
        from,
        require_verified_email,
        verify_link_ttl: ttl("LANYARD_VERIFY_LINK_TTL", ttls.0)?,
        reset_link_ttl: ttl("LANYARD_RESET_LINK_TTL", ttls.1)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        let s = SmtpServer::parse("smtp://mail.example:2525").unwrap();
        assert_eq!(s.security, SmtpSecurity::StartTlsWhenOffered);
        assert_eq!((s.host.as_str(), s.port), ("mail.example", 2525));
        assert!(s.credentials.is_none());

        let s = SmtpServer::parse("smtps://me%40example.com:p%3Ass@mail.example").unwrap();
        assert_eq!((s.security, s.port), (SmtpSecurity::Implicit, 465));
        let (user, password) = s.credentials.clone().unwrap();
        assert_eq!(
            (user.as_str(), password.expose().as_str()),
            ("me@example.com", "p:ss")
        );
        assert!(
            !format!("{s:?}").contains("p:ss"),
            "the password redacts itself"
        );

        for bad in ["http://mail.example", "smtp://", "mail.example:25"] {
            let err = SmtpServer::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("LANYARD_SMTP_URL:"), "{bad}: {err}");
        }
        let err = SmtpServer::parse("smtps://u:hunter2@/")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn the_sender_defaults_to_the_product_at_the_issuer_host() {
        let issuer = "https://auth.example.com";
        let m = build(None, None, None, issuer, "Acme, Inc.", false, (1, 1)).unwrap();
        assert_eq!(m.from.email.to_string(), "noreply@auth.example.com");
        assert_eq!(
            m.from.name.as_deref(),
            Some("Acme, Inc."),
            "the product's name"
        );
        let m = build(
            None,
            None,
            Some("Ops <ops@example.com>"),
            "http://x",
            "Lanyard",
            false,
            (1, 1),
        )
        .unwrap();
        assert_eq!(m.from.to_string(), "Ops <ops@example.com>");
        assert!(
            build(
                None,
                None,
                Some("not an address"),
                "http://x",
                "Lanyard",
                false,
                (1, 1)
            )
            .is_err()
        );
        assert!(build(None, None, None, "http://x", "Lanyard", false, (0, 1)).is_err());
        let ca = Some(PathBuf::from("ca.pem"));
        let err = build(None, ca, None, "http://x", "Lanyard", false, (1, 1)).unwrap_err();
        assert!(err.to_string().starts_with("LANYARD_SMTP_CA:"), "{err}");
    }
}
