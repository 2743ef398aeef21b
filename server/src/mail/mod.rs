//! Mail. A message is rendered from an askama template (plain text, every link an absolute
//! URL under the issuer), queued durably in the store on the request path, and delivered
//! off it by [`sender`], with retries: over SMTP when `LANYARD_SMTP_URL` is set, else into
//! the outbox folder of the data directory, one `.eml` file per message. A mail server
//! that is down delays mail; it never fails the request that promised it.

mod delivery;
pub mod messages;
pub mod sender;

use std::time::{Duration, UNIX_EPOCH};

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MessageBuilder};
use tokio::sync::Notify;

use crate::app::App;
use crate::config::Config;
use crate::domain::Email;
use crate::store::{QueuedMail, StoreError};
use delivery::Delivery;
pub use messages::Mail;

/// Where mail goes, who it is from, and the bell that wakes the sender.
pub struct Mailer {
    delivery: Delivery,
    from: Mailbox,
    /// The issuer's host: the right-hand side of every Message-ID.
    host: String,
    wake: Notify,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("delivery", &self.delivery)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// Why a message could not be composed.
#[derive(Debug, thiserror::Error)]
enum ComposeError {
    /// The template did not render: a bug.
    #[error("mail template failed: {0}")]
    Render(#[from] askama::Error),
    /// The recipient is not an address a mail server takes; nothing can reach it.
    #[error("not a deliverable address: {0}")]
    Address(String),
    #[error("mail could not be built: {0}")]
    Build(String),
}

impl Mailer {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let host = url::Url::parse(&config.issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "localhost".into());
        Ok(Self {
            delivery: Delivery::new(config, &host)?,
            from: config.mail.from.clone(),
            host,
            wake: Notify::new(),
        })
    }

    /// The whole message, as it goes on the wire.
    fn compose(
        &self,
        id: &str,
        to: &Email,
        subject: &str,
        text: String,
        now: i64,
    ) -> Result<Vec<u8>, ComposeError> {
        let to: Mailbox = to
            .as_str()
            .parse()
            .map_err(|e: lettre::address::AddressError| ComposeError::Address(e.to_string()))?;
        let date = UNIX_EPOCH + Duration::from_secs(u64::try_from(now).unwrap_or(0));
        let message: Message = MessageBuilder::new()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .date(date)
            .message_id(Some(format!("<{id}@{}>", self.host)))
            .header(ContentType::TEXT_PLAIN)
            .body(text)
            .map_err(|e| ComposeError::Build(e.to_string()))?;
        Ok(message.formatted())
    }
}

/// Renders `mail` for `to` and queues it; the sender delivers it off the request path.
/// Only the store failing is an error: a message that cannot be composed (an address no
/// mail server takes) is logged and dropped, since nothing could deliver it.
pub async fn send(app: &App, to: &Email, mail: &dyn Mail) -> Result<(), StoreError> {
    let id = app.random.id();
    let now = app.now();
    let composed = mail
        .text()
        .map_err(ComposeError::from)
        .and_then(|text| app.mailer.compose(&id, to, &mail.subject(), text, now));
    let message = match composed {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "mail dropped");
            return Ok(());
        }
    };
    let queued = QueuedMail {
        id,
        recipient: to.clone(),
        message,
        created_at: now,
        attempts: 0,
    };
    app.stores.mail.enqueue_mail(&queued).await?;
    app.mailer.wake.notify_one();
    Ok(())
}
