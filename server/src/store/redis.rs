//! The production store's short-lived half: codes, sessions, pending requests,
//! revocations and rate-limit counters in Redis, shared by every instance.
//!
//! Each value is stored with its own expiry in front of it, and reads compare that with
//! the caller's clock, so a record is gone exactly when the embedded store would say so.
//! Redis' native expiry only sweeps: it is set a minute past the record's own, so clock
//! skew between instances and Redis can never drop a record early. A take is `GETDEL`,
//! one command: two instances redeeming one code cannot both win.

use std::sync::Weak;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSub};
use ::redis::{AsyncCommands, RedisResult};
use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::sync::broadcast;

use super::counters::{Counters, Tally};
use super::notices::{Change, Notices};
use super::*;

/// Seconds Redis keeps a record past its own expiry before sweeping it.
const SWEEP_AFTER: i64 = 60;

/// Redis behind [`EphemeralStore`]. Cheap to clone: the connection manager multiplexes
/// one connection and reconnects on its own.
#[derive(Clone)]
pub struct Redis {
    conn: ConnectionManager,
    /// Every key starts with this, so one Redis can serve several deployments.
    prefix: String,
    /// The deployment's channel for change notices, and what arrives on it, for this
    /// process's listeners.
    channel: String,
    notices: Arc<broadcast::Sender<Change>>,
}

fn unavailable(e: impl Into<Cause>) -> StoreError {
    let e = e.into();
    tracing::error!(error = %e, "redis error");
    StoreError::Unavailable(e)
}

impl Redis {
    /// Connects to `url` (`redis://host:port/db`, or `rediss://` for TLS, verified against
    /// `ca`, PEM, if given; else the system's roots). Fails if Redis cannot be reached.
    pub async fn connect(url: &str, prefix: &str, ca: Option<&[u8]>) -> StoreResult<Self> {
        let bad_url = |e: ::redis::RedisError| BadSetting::error("LANYARD_REDIS_URL", e);
        let client = match ca {
            Some(pem) => ::redis::Client::build_with_tls(
                url,
                ::redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.to_vec()),
                },
            ),
            None => ::redis::Client::open(url),
        }
        .map_err(bad_url)?;
        // Requests wait for a reconnection, so it gives up quickly (a request during an
        // outage gets its 503 within about a second, not after the default's six
        // doubling retries), and the next request tries again: service resumes with the
        // first request after Redis is back.
        let config = ConnectionManagerConfig::new()
            .set_max_delay(Duration::from_millis(500))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(unavailable)?;
        let channel = format!("{prefix}changes");
        // Subscribed before this returns, so that a server hears every notice published
        // after it started; the task below keeps listening, and reconnects.
        let first = subscribe(&client, &channel).await.map_err(unavailable)?;
        let notices = Arc::new(broadcast::channel(16).0);
        tokio::spawn(listen(
            client,
            channel.clone(),
            first,
            Arc::downgrade(&notices),
        ));
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
            channel,
            notices,
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The wire form: the expiry (8 bytes, big-endian), then the value.
    fn encode(value: &[u8], expires_at: UnixTime) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + value.len());
        out.extend_from_slice(&expires_at.to_be_bytes());
        out.extend_from_slice(value);
        out
    }

    /// The value, if the record is still live at `now`.
    fn decode(stored: Option<Vec<u8>>, now: UnixTime) -> Option<Vec<u8>> {
        let stored = stored?;
        let (head, value) = stored.split_first_chunk::<8>()?;
        (i64::from_be_bytes(*head) > now).then(|| value.to_vec())
    }
}

async fn subscribe(client: &::redis::Client, channel: &str) -> RedisResult<PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}

/// Forwards notices from the channel to this process's listeners, for as long as the
/// store is alive; a dropped subscription is made again a second later.
async fn listen(
    client: ::redis::Client,
    channel: String,
    first: PubSub,
    notices: Weak<broadcast::Sender<Change>>,
) {
    let mut pubsub = Some(first);
    loop {
        if let Some(p) = pubsub.take() {
            let mut messages = p.into_on_message();
            while let Some(msg) = messages.next().await {
                let Some(notices) = notices.upgrade() else {
                    return;
                };
                let told = msg.get_payload::<String>().ok();
                if let Some(change) = told.as_deref().and_then(Change::parse) {
                    let _ = notices.send(change);
                }
            }
            tracing::warn!("lost the Redis subscription to change notices; resubscribing");
        }
        if notices.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        pubsub = subscribe(&client, &channel)
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "could not resubscribe to change notices"))
            .ok();
    }
}

#[async_trait]
impl Notices for Redis {
    async fn publish(&self, change: Change) -> StoreResult<()> {
        self.conn
            .clone()
            .publish::<_, _, ()>(&self.channel, change.as_str())
            .await
            .map_err(unavailable)
    }

    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.notices.subscribe()
    }
}

/// Unix seconds by this machine's clock, for Redis' sweep only.
fn wall_clock() -> UnixTime {
    crate::clock::Clock::now(&crate::clock::SystemClock)
}

#[async_trait]
impl EphemeralStore for Redis {
    async fn put(&self, key: &str, value: &[u8], expires_at: UnixTime) -> StoreResult<()> {
        // A record whose expiry is already past (by this clock) still gets a short life,
        // so that a caller on another clock decides, not the sweep.
        let sweep_at = (expires_at + SWEEP_AFTER).max(wall_clock() + SWEEP_AFTER);
        ::redis::cmd("SET")
            .arg(self.key(key))
            .arg(Self::encode(value, expires_at))
            .arg("EXAT")
            .arg(sweep_at)
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn get(&self, key: &str, now: UnixTime) -> StoreResult<Option<Vec<u8>>> {
        let stored: Option<Vec<u8>> = self
            .conn
            .clone()
            .get(self.key(key))
            .await
            .map_err(unavailable)?;
        Ok(Self::decode(stored, now))
    }

    async fn take(&self, key: &str, now: UnixTime) -> StoreResult<Option<Vec<u8>>> {
        let stored: Option<Vec<u8>> = self
            .conn
            .clone()
            .get_del(self.key(key))
            .await
            .map_err(unavailable)?;
        Ok(Self::decode(stored, now))
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.conn
            .clone()
            .del::<_, ()>(self.key(key))
            .await
            .map_err(unavailable)
    }

    async fn any_present(&self, keys: &[String], now: UnixTime) -> StoreResult<bool> {
        if keys.is_empty() {
            return Ok(false);
        }
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        let found: Vec<Option<Vec<u8>>> = ::redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(found.into_iter().any(|v| Self::decode(v, now).is_some()))
    }

    async fn purge_expired(&self, _now: UnixTime) -> StoreResult<u64> {
        // Redis sweeps on its own.
        Ok(0)
    }
}

/// One hit, atomically: a window (a hash of `count` and `since`) is opened when there is
/// none or it has lapsed by the caller's clock, then counted. Redis drops it a minute after
/// it lapses.
const HIT: &str = r#"
local since = tonumber(redis.call('HGET', KEYS[1], 'since'))
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
if since == nil or since + window <= now then
  redis.call('HSET', KEYS[1], 'count', 1, 'since', now)
  redis.call('EXPIRE', KEYS[1], window + 60)
  return {1, now}
end
return {redis.call('HINCRBY', KEYS[1], 'count', 1), since}
"#;

#[async_trait]
impl Counters for Redis {
    async fn hit(&self, key: &str, window: i64, now: UnixTime) -> StoreResult<Tally> {
        let (count, since): (u32, i64) = ::redis::cmd("EVAL")
            .arg(HIT)
            .arg(1)
            .arg(self.key(key))
            .arg(now)
            .arg(window)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(Tally { count, since })
    }

    async fn tally(&self, key: &str, window: i64, now: UnixTime) -> StoreResult<Option<Tally>> {
        let (count, since): (Option<u32>, Option<i64>) = ::redis::cmd("HMGET")
            .arg(self.key(key))
            .arg("count")
            .arg("since")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(match (count, since) {
            (Some(count), Some(since)) if since + window > now => Some(Tally { count, since }),
            _ => None,
        })
    }

    async fn clear(&self, key: &str) -> StoreResult<()> {
        EphemeralStore::delete(self, key).await
    }
}

#[async_trait]
impl Health for Redis {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> StoreResult<()> {
        ::redis::cmd("PING")
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_live_until_its_own_expiry() {
        let stored = Redis::encode(b"v", 100);
        assert_eq!(Redis::decode(Some(stored.clone()), 99), Some(b"v".to_vec()));
        assert_eq!(Redis::decode(Some(stored), 100), None);
        assert_eq!(Redis::decode(Some(vec![1, 2]), 0), None, "too short");
        assert_eq!(Redis::decode(None, 0), None);
    }
}
