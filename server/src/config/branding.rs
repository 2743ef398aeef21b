//! The operator's name on every page and mail: `[branding]` in `lanyard.toml`, read and
//! checked at start-up so that a missing logo or a malformed colour stops the server with
//! the key's name instead of showing a broken page to users.

use std::path::Path;

use bytes::Bytes;
use serde::Deserialize;
use url::Url;

use super::{ConfigError, invalid};
use crate::domain::Email;

/// A logo file is served from memory on every page view, so keep it small.
const MAX_LOGO_BYTES: usize = 512 * 1024;

/// `[branding]` as read.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct BrandingSettings {
    name: Option<String>,
    /// A file (relative to `lanyard.toml`) or an `https://` URL.
    logo: Option<String>,
    accent: Option<String>,
    support: Option<String>,
    terms: Option<String>,
    privacy: Option<String>,
}

/// What pages and mails show of the operator.
#[derive(Debug, Clone)]
pub struct Branding {
    pub product_name: String,
    pub logo: Option<Logo>,
    /// A CSS colour, `#rgb` or `#rrggbb`: checked, so it can go into a style sheet as is.
    pub accent: Option<String>,
    pub support: Option<Email>,
    pub terms: Option<Url>,
    pub privacy: Option<Url>,
}

impl Default for Branding {
    fn default() -> Self {
        Self {
            product_name: "Lanyard".to_string(),
            logo: None,
            accent: None,
            support: None,
            terms: None,
            privacy: None,
        }
    }
}

/// The logo: somewhere else on the web, or a file Lanyard serves at [`Logo::PATH`].
#[derive(Debug, Clone)]
pub enum Logo {
    Url(Url),
    File {
        bytes: Bytes,
        content_type: &'static str,
    },
}

impl Logo {
    /// Where a logo file is served.
    pub const PATH: &'static str = "/branding/logo";
}

impl Branding {
    /// The logo's address for an `<img src>`.
    pub fn logo_src(&self) -> Option<&str> {
        match self.logo.as_ref()? {
            Logo::Url(url) => Some(url.as_str()),
            Logo::File { .. } => Some(Logo::PATH),
        }
    }

    /// Checks `[branding]`; a relative logo path is relative to `base` (the file's folder).
    pub(super) fn build(s: BrandingSettings, base: &Path) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let product_name = match s.name.map(|n| n.trim().to_string()) {
            Some(n)
                if n.is_empty() || n.chars().count() > 60 || n.chars().any(char::is_control) =>
            {
                return Err(invalid("branding.name", "1 to 60 printable characters"));
            }
            Some(n) => n,
            None => defaults.product_name,
        };
        Ok(Self {
            product_name,
            logo: s.logo.map(|l| logo(&l, base)).transpose()?,
            accent: s.accent.map(|a| accent(&a)).transpose()?,
            support: s
                .support
                .map(|e| Email::parse(&e).map_err(|e| invalid("branding.support", e.to_string())))
                .transpose()?,
            terms: s
                .terms
                .map(|u| https_url("branding.terms", &u))
                .transpose()?,
            privacy: s
                .privacy
                .map(|u| https_url("branding.privacy", &u))
                .transpose()?,
        })
    }
}

fn https_url(key: &str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|e| invalid(key, format!("{raw:?}: {e}")))?;
    if url.scheme() != "https" {
        return Err(invalid(key, format!("{raw:?}: must be an https URL")));
    }
    Ok(url)
}

fn accent(raw: &str) -> Result<String, ConfigError> {
    let hex = raw.strip_prefix('#').unwrap_or("");
    if matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(invalid(
            "branding.accent",
            format!("{raw:?}: a colour as #rgb or #rrggbb"),
        ))
    }
}

fn logo(raw: &str, base: &Path) -> Result<Logo, ConfigError> {
    const KEY: &str = "branding.logo";
    if raw.starts_with("https://") {
        return https_url(KEY, raw).map(Logo::Url);
    }
    let path = base.join(raw);
    let content_type = match path.extension().and_then(|e| e.to_str()) {
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("gif") => "image/gif",
        _ => {
            return Err(invalid(
                KEY,
                format!("{raw:?}: an https URL or a .svg, .png, .jpg, .webp or .gif file"),
            ));
        }
    };
    let bytes = std::fs::read(&path).map_err(|e| {
        invalid(
            KEY,
            format!("cannot read the logo file {}: {e}", path.display()),
        )
    })?;
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(invalid(
            KEY,
            format!("{} is over {} KiB", path.display(), MAX_LOGO_BYTES / 1024),
        ));
    }
    Ok(Logo::File {
        bytes: Bytes::from(bytes),
        content_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml: &str) -> BrandingSettings {
        toml::from_str(toml).unwrap()
    }

    #[test]
    fn a_missing_logo_file_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = Branding::build(settings("logo = 'nope.svg'"), dir.path()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("branding.logo: cannot read the logo file"),
            "{text}"
        );
        assert!(text.contains("nope.svg"), "{text}");
    }

    #[test]
    fn a_logo_file_is_read_with_its_type() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("logo.svg"), "<svg/>").unwrap();
        let b = Branding::build(settings("logo = 'logo.svg'"), dir.path()).unwrap();
        assert!(matches!(
            &b.logo,
            Some(Logo::File { bytes, content_type: "image/svg+xml" }) if bytes.as_ref() == b"<svg/>"
        ));
        assert_eq!(b.logo_src(), Some(Logo::PATH));
    }

    #[test]
    fn colours_and_links_are_checked() {
        let dir = Path::new("/");
        for bad in [
            "accent = 'red'",
            "accent = '#12345'",
            "accent = '#fff;}body{display:none'",
            "terms = 'http://example.com/terms'",
            "privacy = 'javascript:alert(1)'",
            "support = 'nobody'",
            "name = ''",
            "logo = 'http://example.com/logo.png'",
        ] {
            assert!(Branding::build(settings(bad), dir).is_err(), "{bad}");
        }
        let b = Branding::build(
            settings("name = 'Acme'\naccent = '#0F766E'\nterms = 'https://acme.test/terms'"),
            dir,
        )
        .unwrap();
        assert_eq!(b.product_name, "Acme");
        assert_eq!(b.accent.as_deref(), Some("#0f766e"));
        assert_eq!(b.terms.unwrap().as_str(), "https://acme.test/terms");
        assert_eq!(
            Branding::build(settings(""), dir).unwrap().product_name,
            "Lanyard"
        );
    }
}
