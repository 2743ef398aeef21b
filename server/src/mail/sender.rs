//! The background sender: claims due messages from the queue (each instance its own, see
//! [`crate::store::MailQueue`]), delivers them, and reports back. A failure is tried again
//! later, waiting twice as long each time up to a quarter of an hour; a message is given
//! up on when its server refuses it for good, or after three days.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::app::App;
use crate::clock::UnixTime;
use crate::store::QueuedMail;

use super::Delivery;

/// How long a claim keeps a message from the other instances: longer than a batch of
/// SMTP conversations can take.
const LEASE_SECS: i64 = 120;
const BATCH: u32 = 5;
/// How often the queue is looked at when nothing wakes the sender: messages queued by
/// other instances, and retries coming due.
const POLL: Duration = Duration::from_secs(2);
const LONGEST_WAIT_SECS: i64 = 15 * 60;
const GIVE_UP_AFTER_SECS: i64 = 3 * 86_400;

/// Starts the sender on this instance.
pub fn spawn(app: &Arc<App>) {
    match &app.mailer.delivery {
        Delivery::Outbox(dir) => tracing::info!(
            outbox = %dir.display(),
            "no LANYARD_SMTP_URL: mail is written to the outbox folder"
        ),
        Delivery::Smtp { server, .. } => tracing::info!(%server, "mail is sent over SMTP"),
    }
    let app = app.clone();
    tokio::spawn(async move {
        loop {
            deliver_due(&app).await;
            tokio::select! {
                _ = app.mailer.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    });
}

/// Delivers what is due, batch after batch, until nothing is.
async fn deliver_due(app: &App) {
    loop {
        let now = app.now();
        let batch = match app
            .stores
            .mail
            .claim_mail(now, now + LEASE_SECS, BATCH)
            .await
        {
            Ok(batch) if batch.is_empty() => return,
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the mail queue");
                return;
            }
        };
        for mail in batch {
            deliver(app, &mail).await;
        }
    }
}

async fn deliver(app: &App, mail: &QueuedMail) {
    let outcome = app.mailer.delivery.deliver(&app.mailer.from, mail).await;
    let now = app.now();
    let reported = match outcome {
        Ok(()) => {
            app.metrics.mail_delivered.fetch_add(1, Ordering::Relaxed);
            tracing::info!(id = %mail.id, attempts = mail.attempts, "mail delivered");
            app.stores.mail.mail_sent(&mail.id).await
        }
        Err(failure) => {
            let retry_at = (!failure.permanent)
                .then(|| retry_at(now, mail.created_at, mail.attempts))
                .flatten();
            let counter = match retry_at {
                Some(_) => &app.metrics.mail_retried,
                None => &app.metrics.mail_given_up,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            match retry_at {
                Some(at) => tracing::warn!(
                    id = %mail.id, attempts = mail.attempts, reason = %failure.reason,
                    retry_in = at - now, "mail not delivered; will try again"
                ),
                None => tracing::error!(
                    id = %mail.id, attempts = mail.attempts, reason = %failure.reason,
                    "mail not delivered; given up"
                ),
            }
            app.stores
                .mail
                .mail_failed(&mail.id, retry_at, &failure.reason, now)
                .await
        }
    };
    // Unreported, the message comes due again when its lease ends: sent twice at worst.
    if let Err(e) = reported {
        tracing::warn!(id = %mail.id, error = %e, "could not record a delivery attempt");
    }
}

/// When to try again after `attempts` failures, or `None` once the message is too old.
fn retry_at(now: UnixTime, created_at: UnixTime, attempts: u32) -> Option<UnixTime> {
    if now - created_at >= GIVE_UP_AFTER_SECS {
        return None;
    }
    let wait = (1i64 << attempts.clamp(1, 20)).min(LONGEST_WAIT_SECS);
    Some(now + wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_a_quarter_hour_then_give_up() {
        assert_eq!(retry_at(100, 100, 1), Some(102));
        assert_eq!(retry_at(100, 100, 2), Some(104));
        assert_eq!(retry_at(100, 100, 5), Some(132));
        assert_eq!(retry_at(100, 100, 30), Some(100 + 900));
        assert_eq!(retry_at(100 + GIVE_UP_AFTER_SECS, 100, 3), None);
    }
}
