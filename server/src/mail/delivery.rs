//! The last hop of a message: an SMTP server (lettre over tokio, rustls with the aws-lc
//! provider and the system's roots), or, with no SMTP server configured, the outbox folder
//! in the data directory, where a newcomer on one machine opens the `.eml` and follows the
//! link.

use std::path::PathBuf;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{Config, SmtpSecurity, SmtpServer};
use crate::store::QueuedMail;

/// How long one SMTP conversation may take, so that a server that hangs cannot hold a
/// claimed message past its lease.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

pub enum Delivery {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// `host:port`, for logs (never the credentials).
        server: String,
    },
    Outbox(PathBuf),
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Delivery::Smtp { server, .. } => write!(f, "Smtp({server})"),
            Delivery::Outbox(dir) => write!(f, "Outbox({})", dir.display()),
        }
    }
}

/// Why a delivery failed, and whether trying again can help.
#[derive(Debug)]
pub struct Failure {
    /// The server refused the message for good (a 5xx reply, an address it will never
    /// take): the message is given up on at once.
    pub permanent: bool,
    pub reason: String,
}

impl Failure {
    fn transient(reason: impl std::fmt::Display) -> Self {
        Self {
            permanent: false,
            reason: reason.to_string(),
        }
    }
}

impl Delivery {
    pub fn new(config: &Config, hello: &str) -> anyhow::Result<Self> {
        match &config.mail.smtp {
            Some(smtp) => Ok(Delivery::Smtp {
                transport: smtp_transport(smtp, hello)?,
                server: format!("{}:{}", smtp.host, smtp.port),
            }),
            None => Ok(Delivery::Outbox(config.data_dir.join("outbox"))),
        }
    }

    /// Hands `mail` on: to the SMTP server, or into the outbox folder.
    pub async fn deliver(&self, from: &Mailbox, mail: &QueuedMail) -> Result<(), Failure> {
        match self {
            Delivery::Smtp { transport, .. } => {
                let to: Address = mail.recipient.as_str().parse().map_err(|e| Failure {
                    permanent: true,
                    reason: format!("recipient: {e}"),
                })?;
                let envelope =
                    Envelope::new(Some(from.email.clone()), vec![to]).map_err(|e| Failure {
                        permanent: true,
                        reason: format!("envelope: {e}"),
                    })?;
                transport
                    .send_raw(&envelope, &mail.message)
                    .await
                    .map(|_| ())
                    .map_err(|e| Failure {
                        permanent: e.is_permanent(),
                        reason: e.to_string(),
                    })
            }
            Delivery::Outbox(dir) => {
                let path = write_outbox(dir, mail).await.map_err(Failure::transient)?;
                tracing::info!(to = %mail.recipient, path = %path.display(), "mail written to the outbox");
                Ok(())
            }
        }
    }
}

fn smtp_transport(
    smtp: &SmtpServer,
    hello: &str,
) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let mut tls = TlsParameters::builder(smtp.host.clone());
    if let Some(path) = &smtp.ca {
        let pem = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("LANYARD_SMTP_CA: {}: {e}", path.display()))?;
        let roots = Certificate::from_pem(&pem)
            .map_err(|e| anyhow::anyhow!("LANYARD_SMTP_CA: {}: {e}", path.display()))?;
        tls = tls
            .certificate_store(CertificateStore::None)
            .add_root_certificate(roots);
    }
    let tls = tls.build_rustls()?;
    let tls = match smtp.security {
        // A server that does not offer STARTTLS (or an attacker who strips the offer) must
        // not be sent the password in the clear.
        SmtpSecurity::StartTlsWhenOffered if smtp.credentials.is_some() => Tls::Required(tls),
        SmtpSecurity::StartTlsWhenOffered => Tls::Opportunistic(tls),
        SmtpSecurity::Implicit => Tls::Wrapper(tls),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(SMTP_TIMEOUT))
        .hello_name(ClientId::Domain(hello.to_string()));
    if let Some((user, password)) = &smtp.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.expose().clone()));
    }
    Ok(builder.build())
}

/// Writes the message as `<id>.eml`, whole or not at all (written aside, then renamed).
async fn write_outbox(dir: &std::path::Path, mail: &QueuedMail) -> std::io::Result<PathBuf> {
    tokio::fs::create_dir_all(dir).await?;
    let path = dir.join(format!("{}-{}.eml", mail.created_at, mail.id));
    let partial = dir.join(format!(".{}.partial", mail.id));
    tokio::fs::write(&partial, &mail.message).await?;
    tokio::fs::rename(&partial, &path).await?;
    Ok(path)
}
