//! TLS to the production store's services. Certificates are always verified, against the
//! system's roots or, when `LANYARD_STORE_CA` names a PEM file, against exactly the
//! certificates in it (a managed database's own CA, say).

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::{BadSetting, StoreError, StoreResult};

/// The roots to trust: those in `ca` (PEM), or the system's.
pub fn roots(ca: Option<&[u8]>) -> StoreResult<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| BadSetting::error(CA, e))?;
                roots.add(cert).map_err(|e| BadSetting::error(CA, e))?;
            }
            if roots.is_empty() {
                return Err(BadSetting::error(CA, "no certificate in it"));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(StoreError::Unavailable(
                    "no system CA certificates to verify the store's TLS with; set LANYARD_STORE_CA"
                        .into(),
                ));
            }
        }
    }
    Ok(roots)
}

const CA: &str = "LANYARD_STORE_CA";

/// A client configuration that verifies the server against `roots`.
pub fn client_config(roots: rustls::RootCertStore) -> StoreResult<rustls::ClientConfig> {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Unavailable(e.into()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
