//! The messages Lanyard sends, each an askama template of plain text (`server/templates/
//! mail/`). Every link is an absolute URL under the issuer.

use askama::Template;

use crate::config::Branding;

/// A message: its subject and its text.
pub trait Mail: Send + Sync {
    fn subject(&self) -> String;
    fn text(&self) -> Result<String, askama::Error>;
}

/// A lifetime in words: "24 hours", "30 minutes".
pub fn lifetime(secs: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match secs {
        s if s >= 3_600 && s % 3_600 == 0 => plural(s / 3_600, "hour"),
        s if s >= 60 => plural(s / 60, "minute"),
        s => plural(s, "second"),
    }
}

/// Sign-up (and "send again"): the link that proves the address.
#[derive(Template)]
#[template(path = "mail/verify.txt")]
pub struct VerifyAddress<'a> {
    pub brand: &'a Branding,
    pub link: String,
    pub lifetime: String,
}

impl Mail for VerifyAddress<'_> {
    fn subject(&self) -> String {
        format!("Confirm your email address for {}", self.brand.product_name)
    }
    fn text(&self) -> Result<String, askama::Error> {
        self.render()
    }
}

/// `/forgot`: the link to a new password.
#[derive(Template)]
#[template(path = "mail/reset.txt")]
pub struct ResetPassword<'a> {
    pub brand: &'a Branding,
    pub link: String,
    pub lifetime: String,
}

impl Mail for ResetPassword<'_> {
    fn subject(&self) -> String {
        format!("Reset your {} password", self.brand.product_name)
    }
    fn text(&self) -> Result<String, askama::Error> {
        self.render()
    }
}

/// Someone tried to sign up with an address that has an account: its holder is told, and
/// the page that person saw said nothing of it.
#[derive(Template)]
#[template(path = "mail/signup_attempt.txt")]
pub struct SignupAttempt<'a> {
    pub brand: &'a Branding,
    pub login: String,
    pub forgot: String,
}

impl Mail for SignupAttempt<'_> {
    fn subject(&self) -> String {
        format!(
            "Someone tried to sign up to {} with your address",
            self.brand.product_name
        )
    }
    fn text(&self) -> Result<String, askama::Error> {
        self.render()
    }
}

/// A change of address asked for on the account page: the link that proves the new one,
/// sent there.
#[derive(Template)]
#[template(path = "mail/change_email.txt")]
pub struct ChangeAddress<'a> {
    pub brand: &'a Branding,
    pub link: String,
    pub lifetime: String,
}

impl Mail for ChangeAddress<'_> {
    fn subject(&self) -> String {
        format!(
            "Confirm your new email address for {}",
            self.brand.product_name
        )
    }
    fn text(&self) -> Result<String, askama::Error> {
        self.render()
    }
}

/// The account moved to another address: its previous address is told, so that a
/// takeover does not go unnoticed.
#[derive(Template)]
#[template(path = "mail/address_changed.txt")]
pub struct AddressChanged<'a> {
    pub brand: &'a Branding,
    pub new_address: String,
}

impl Mail for AddressChanged<'_> {
    fn subject(&self) -> String {
        format!("Your {} email address was changed", self.brand.product_name)
    }
    fn text(&self) -> Result<String, askama::Error> {
        self.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_in_words() {
        assert_eq!(lifetime(86_400), "24 hours");
        assert_eq!(lifetime(3_600), "1 hour");
        assert_eq!(lifetime(1_800), "30 minutes");
        assert_eq!(lifetime(5), "5 seconds");
    }

    #[test]
    fn links_are_not_escaped_in_text() {
        let m = VerifyAddress {
            brand: &Branding::default(),
            link: "https://a.example/verify?token=a&b".into(),
            lifetime: "24 hours".into(),
        };
        assert!(
            m.text()
                .unwrap()
                .contains("https://a.example/verify?token=a&b\n")
        );
    }
}
