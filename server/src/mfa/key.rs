//! The key that seals TOTP secrets at rest. `LANYARD_ENCRYPTION_KEY` when set (the same on
//! every instance); otherwise, on the embedded store, `encryption.key` in the data
//! directory, made on first start like the signing keys, and kept apart from the databases
//! so that a copy of those alone reveals no secret. The production store has no such file:
//! without the setting, second factors are off there.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::clock::Random;
use crate::config::Config;
use crate::seal::SealKey;

/// Keeps this key apart from any other use of the same material.
const CONTEXT: &[u8] = b"lanyard totp secret v1\0";

const FILE: &str = "encryption.key";

pub fn load(config: &Config, random: &dyn Random) -> anyhow::Result<Option<SealKey>> {
    let material = match (&config.encryption_key, &config.production) {
        (Some(key), _) => key.expose().clone(),
        (None, Some(_)) => return Ok(None),
        (None, None) => embedded_key(&config.data_dir, random)?,
    };
    Ok(SealKey::derive(CONTEXT, material.as_bytes()))
}

/// The data directory's key file, made (private to the server's user) when missing.
fn embedded_key(dir: &Path, random: &dyn Random) -> anyhow::Result<String> {
    let path = dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => return Ok(text.trim().to_string()),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("reading {}", path.display()));
        }
        Err(_) => {}
    }
    let mut bytes = [0u8; 32];
    random.fill(&mut bytes);
    let key = URL_SAFE_NO_PAD.encode(bytes);
    let made = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path);
    match made {
        Ok(mut file) => {
            file.write_all(key.as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(key)
        }
        // Another process opening the same folder made it first.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(std::fs::read_to_string(&path)?.trim().to_string())
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}
