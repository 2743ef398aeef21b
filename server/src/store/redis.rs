//! The production store's short-lived half: codes, sessions, pending requests and
//! revocations in Redis, shared by every instance.
//!
//! Each value is stored with its own expiry in front of it, and reads compare that with
//! the caller's clock, so a record is gone exactly when the embedded store would say so.
//! Redis' native expiry only sweeps: it is set a minute past the record's own, so clock
//! skew between instances and Redis can never drop a record early. A take is `GETDEL`,
//! one command: two instances redeeming one code cannot both win.

use ::redis::AsyncCommands;
use ::redis::aio::ConnectionManager;
use async_trait::async_trait;

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
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    tracing::error!(error = %e, "redis error");
    StoreError::Unavailable(e.to_string())
}

impl Redis {
    /// Connects to `url` (`redis://host:port/db`). Fails if Redis cannot be reached.
    pub async fn connect(url: &str, prefix: &str) -> StoreResult<Self> {
        let client = ::redis::Client::open(url)
            .map_err(|e| StoreError::Unavailable(format!("LANYARD_REDIS_URL: {e}")))?;
        let conn = ConnectionManager::new(client).await.map_err(unavailable)?;
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
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

/// Unix seconds by this machine's clock, for Redis' sweep only.
fn wall_clock() -> UnixTime {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
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

#[async_trait]
impl Health for Redis {
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
