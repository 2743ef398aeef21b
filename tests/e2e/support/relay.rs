//! Stand-ins between a server and its backing services: a relay a test can cut, and a TLS
//! front with a certificate from a CA made on the spot.

use std::sync::Arc;

use super::server::free_port;

/// A TCP relay to a backing service that a test can cut and restore, to see what the
/// server does while the service is unreachable.
pub struct Gate {
    pub port: u16,
    target: String,
    cut: tokio::sync::watch::Sender<bool>,
}

impl Gate {
    pub async fn to(target: &str) -> Self {
        let (cut, _) = tokio::sync::watch::channel(false);
        let gate = Gate {
            port: free_port(),
            target: target.to_string(),
            cut,
        };
        gate.restore().await;
        gate
    }

    /// Drops every relayed connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Listens again (on the same port).
    pub async fn restore(&self) {
        self.cut.send_replace(false);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("gate port");
        let (target, mut cut) = (self.target.clone(), self.cut.subscribe());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = cut.wait_for(|c| *c) => return,
                };
                let Ok((mut inbound, _)) = accepted else {
                    continue;
                };
                let (target, mut cut) = (target.clone(), cut.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.wait_for(|c| *c) => {}
                    }
                });
            }
        });
    }
}

/// A TLS front for a backing service, with a certificate for `localhost` from a CA made
/// on the spot (written to `ca_file`): Postgres' own TLS upgrade (`SSLRequest`, then the
/// handshake) or plain TLS (Redis), relayed in the clear to the real service.
pub struct TlsFront {
    pub port: u16,
    pub ca_file: tempfile::NamedTempFile,
}

impl TlsFront {
    pub async fn postgres(target: &str) -> Self {
        Self::start(target, true).await
    }

    pub async fn redis(target: &str) -> Self {
        Self::start(target, false).await
    }

    /// TLS from the first byte, as `smtps://` speaks it.
    pub async fn smtps(target: &str) -> Self {
        Self::start(target, false).await
    }

    async fn start(target: &str, postgres: bool) -> Self {
        use std::io::Write;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        let mut ca_file = tempfile::NamedTempFile::new().unwrap();
        ca_file.write_all(ca.pem().as_bytes()).unwrap();
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = target.to_string();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let (acceptor, target) = (acceptor.clone(), target.clone());
                tokio::spawn(async move {
                    if postgres {
                        // SSLRequest: length 8, code 80877103; anything else is refused.
                        let mut request = [0u8; 8];
                        inbound.read_exact(&mut request).await.ok()?;
                        if request != [0, 0, 0, 8, 4, 210, 22, 47] {
                            return None;
                        }
                        inbound.write_all(b"S").await.ok()?;
                    }
                    let mut tls = acceptor.accept(inbound).await.ok()?;
                    let mut outbound = tokio::net::TcpStream::connect(&target).await.ok()?;
                    tokio::io::copy_bidirectional(&mut tls, &mut outbound)
                        .await
                        .ok()
                });
            }
        });
        TlsFront { port, ca_file }
    }
}
