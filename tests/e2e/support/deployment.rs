//! Where a story runs when it must hold on several instances: one server on the embedded
//! store, or two instances sharing one production store (a change made through one must be
//! seen by the other at once).

use super::{ProductionStore, TestServer, production_store};

/// Two servers on one production store, the second serving under the first one's issuer
/// (as two instances behind a load balancer would).
pub async fn pair(extra: &[(&str, &str)]) -> Option<(TestServer, TestServer, ProductionStore)> {
    let store = production_store().await?;
    let mut settings = store.env();
    settings.extend_from_slice(extra);
    let a = TestServer::spawn_with(&settings).await;
    let issuer = a.issuer.clone();
    settings.push(("LANYARD_ISSUER", &issuer));
    let b = TestServer::spawn_with(&settings).await;
    drop(settings);
    Some((a, b, store))
}

/// Where a story runs: one server on the embedded store, or two instances on one
/// production store.
pub struct Deployment {
    pub first: TestServer,
    second: Option<TestServer>,
    store: Option<ProductionStore>,
}

impl Deployment {
    pub async fn embedded() -> Self {
        Self {
            first: TestServer::spawn().await,
            second: None,
            store: None,
        }
    }

    /// `None` (the story is skipped) without Postgres and Redis, except under `CI=true`.
    pub async fn production() -> Option<Self> {
        let (a, b, store) = pair(&[]).await?;
        Some(Self {
            first: a,
            second: Some(b),
            store: Some(store),
        })
    }

    /// The other instance, where there is one; the one server otherwise.
    pub fn second(&self) -> &TestServer {
        self.second.as_ref().unwrap_or(&self.first)
    }

    pub async fn finish(self) {
        drop((self.first, self.second));
        if let Some(store) = self.store {
            store.finish().await;
        }
    }
}

/// One `#[tokio::test]` per store for each story `async fn story(d: &Deployment)`.
macro_rules! on_both_deployments {
    ($($story:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $story() {
                    let d = $crate::support::Deployment::embedded().await;
                    super::$story(&d).await;
                    d.finish().await;
                }
            )*
        }

        mod production {
            $(
                #[tokio::test]
                async fn $story() {
                    let Some(d) = $crate::support::Deployment::production().await else {
                        return;
                    };
                    super::$story(&d).await;
                    d.finish().await;
                }
            )*
        }
    };
}
pub(crate) use on_both_deployments;
