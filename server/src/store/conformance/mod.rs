//! The storage conformance suite (style.md §7): the same stories, told to every backend.
//! Times are passed in, so expiry and grace windows are exact, not slept through.

use serde_json::json;

use super::*;
use crate::secret::SecretHash;
mod accounts;
mod admin;
mod factors;
mod lifecycle;
mod passkeys;

pub use accounts::{account_deletion, app_access};
pub use admin::{audit_log, client_updates, metadata_compare_and_set, user_decisions, users_pages};
pub use factors::second_factors;
pub use lifecycle::*;
pub use passkeys::passkeys;

pub(super) fn uid(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}

pub(super) fn cid(s: &str) -> ClientId {
    ClientId::parse(s).unwrap()
}

pub(super) fn resource() -> ResourceUri {
    ResourceUri::parse("https://r.example/mcp").unwrap()
}

pub(super) fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse(s).unwrap()
}

pub(super) fn grant(id: &str, client: &str, sub: &str) -> Grant {
    Grant {
        id: id.into(),
        client_id: cid(client),
        sub: uid(sub),
        resource: resource(),
        scopes: scopes("read"),
        auth_time: 100,
        amr: SignInMethods::password(),
        created_at: 100,
        expires_at: 10_000,
        revoked_at: None,
    }
}

pub(super) async fn user(stores: &Stores, sub: &str, email: &str) {
    let u = User {
        sub: uid(sub),
        email: Email::parse(email).unwrap(),
        password_hash: "x".into(),
        metadata: "{}".into(),
        email_verified: false,
        disabled_at: None,
        session_epoch: 0,
        created_at: 1,
    };
    stores.users.create_user(&u).await.unwrap();
}

/// Users: emails are unique; metadata round-trips.
pub async fn users(stores: &Stores) {
    user(stores, "u1", "ada@example.com").await;
    let dup = User {
        sub: uid("u2"),
        ..stores.users.user_by_sub(&uid("u1")).await.unwrap().unwrap()
    };
    assert!(matches!(
        stores.users.create_user(&dup).await,
        Err(StoreError::Conflict)
    ));
    stores
        .users
        .set_metadata(&uid("u1"), &json!({"tier": "pro"}), None)
        .await
        .unwrap();
    let u = stores
        .users
        .user_by_email(&Email::parse("ada@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    let metadata: serde_json::Value = serde_json::from_str(&u.metadata).expect("JSON");
    assert_eq!(metadata, json!({"tier": "pro"}));
    assert!(matches!(
        stores
            .users
            .set_metadata(&uid("nobody"), &json!({}), None)
            .await,
        Err(StoreError::NotFound)
    ));
}

/// Refresh rotation: current rotates; a race within the grace window gets the first
/// successor's seal back and changes nothing (the family never forks); a replay after it
/// revokes the family, and a revoked family refuses every member.
pub async fn refresh_rotation(stores: &Stores) {
    user(stores, "r1", "r1@example.com").await;
    let g = grant("g1", "c1", "r1");
    let [t1, t2, t3, t4] = ["t1", "t2", "t3", "t4"].map(SecretHash::of);
    let grants = &stores.grants;
    grants.create_grant(&g, Some(&t1)).await.unwrap();
    let live = |t: SecretHash, at| async move {
        grants
            .grant_by_refresh(&t, at, false)
            .await
            .unwrap()
            .is_some()
    };
    let rotated = grants.rotate_refresh(&t1, &t2, b"sealed t2", 200, 10).await;
    assert!(matches!(rotated.unwrap(), Rotation::Rotated(_)));
    let raced = grants.rotate_refresh(&t1, &t3, b"sealed t3", 205, 10).await;
    match raced.unwrap() {
        Rotation::Raced(_, kept) => assert_eq!(kept.as_deref(), Some(&b"sealed t2"[..])),
        other => panic!("{other:?}"),
    }
    // One current token: the race made no sibling.
    assert!(live(t2.clone(), 206).await);
    assert!(!live(t3.clone(), 206).await);

    // The successor's own seal serves a race on it within its window.
    let rotated = grants.rotate_refresh(&t2, &t4, b"sealed t4", 211, 10).await;
    assert!(matches!(rotated.unwrap(), Rotation::Rotated(_)));
    let raced = grants.rotate_refresh(&t2, &t3, b"-", 212, 10).await;
    assert!(matches!(raced.unwrap(), Rotation::Raced(_, Some(k)) if k == b"sealed t4"));
    // Once dropped (t1's and t2's: both spent by 211), a seal is gone: a late race gets
    // nothing, and still makes no sibling.
    assert_eq!(grants.drop_seals(211).await.unwrap(), 2);
    let raced = grants.rotate_refresh(&t2, &t3, b"-", 212, 10).await;
    assert!(matches!(raced.unwrap(), Rotation::Raced(_, None)));
    assert!(!live(t3.clone(), 212).await);

    let replayed = grants.rotate_refresh(&t1, &t3, b"-", 212, 10).await;
    assert!(matches!(replayed.unwrap(), Rotation::Reused(_)));
    let after = grants.rotate_refresh(&t4, &t3, b"-", 213, 10).await;
    assert!(matches!(after.unwrap(), Rotation::Invalid));
    assert!(!live(t4.clone(), 213).await);
    let unknown = grants
        .rotate_refresh(&SecretHash::of("never"), &t3, b"-", 213, 10)
        .await;
    assert!(matches!(unknown.unwrap(), Rotation::Invalid));
}

/// One token presented twice at once (two instances, say): one presentation rotates, the
/// other counts as a race within the grace window and gets the first's seal; one successor
/// is current.
pub async fn concurrent_rotation(stores: &Stores) {
    user(stores, "cr", "cr@example.com").await;
    let g = &stores.grants;
    g.create_grant(&grant("gc", "app", "cr"), Some(&SecretHash::of("c0")))
        .await
        .unwrap();
    let [c0, c1, c2] = ["c0", "c1", "c2"].map(SecretHash::of);
    let (first, second) = tokio::join!(
        g.rotate_refresh(&c0, &c1, b"c1", 200, 10),
        g.rotate_refresh(&c0, &c2, b"c2", 200, 10)
    );
    let (mut rotated, mut kept) = (0, None);
    for outcome in [first, second] {
        match outcome.unwrap() {
            Rotation::Rotated(_) => rotated += 1,
            Rotation::Raced(_, k) => kept = k,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(rotated, 1);
    let winner = if kept.as_deref() == Some(&b"c1"[..]) {
        &c1
    } else {
        &c2
    };
    assert!(matches!(kept.as_deref(), Some(b"c1" | b"c2")), "{kept:?}");
    for successor in [&c1, &c2] {
        let found = g.grant_by_refresh(successor, 200, false).await.unwrap();
        assert_eq!(found.is_some(), successor == winner, "{successor:?}");
    }
}

/// Codes are taken once; expired ones are gone; revocations are seen until they lapse.
pub async fn ephemeral(stores: &Stores) {
    let e = &stores.ephemeral;
    let code = SecretHash::of("code");
    let pending = PendingGrant {
        client_id: cid("c"),
        redirect_uri: "https://app.example/cb".into(),
        code_challenge: "x".into(),
        resource: resource(),
        scopes: ScopeSet::default(),
        sub: uid("s"),
        auth_time: 1,
        amr: SignInMethods::password(),
        nonce: None,
        expires_at: 160,
    };
    e.put_code(&code, &pending).await.unwrap();
    assert!(e.take_code(&code, 170).await.unwrap().is_none(), "expired");
    e.put_code(&code, &pending).await.unwrap();
    assert!(e.take_code(&code, 150).await.unwrap().is_some());
    assert!(
        e.take_code(&code, 150).await.unwrap().is_none(),
        "a code works once"
    );
    e.mark_code_used(&code, "g9", 500).await.unwrap();
    assert_eq!(
        e.code_used_by(&code, 400).await.unwrap().as_deref(),
        Some("g9")
    );

    e.revoke_access(&RevocationKey::Grant("g9".into()), 300)
        .await
        .unwrap();
    assert!(e.is_access_revoked("g9.abc", "g9", 299).await.unwrap());
    assert!(!e.is_access_revoked("g9.abc", "g9", 300).await.unwrap());
    assert!(!e.is_access_revoked("g8.abc", "g8", 10).await.unwrap());
    // Sweeping (which a backend with native expiry leaves to itself) changes no answer.
    e.0.purge_expired(1_000).await.unwrap();
    assert!(e.code_used_by(&code, 1_000).await.unwrap().is_none());
    assert!(!e.is_access_revoked("g9.abc", "g9", 1_000).await.unwrap());
}

/// Consent widens to the union; removing a client takes its consents and grants along.
pub async fn consents_and_clients(stores: &Stores) {
    user(stores, "c1u", "c1u@example.com").await;
    let g = &stores.grants;
    g.record_consent(&uid("c1u"), &cid("app"), &resource(), &scopes("read"), 1)
        .await
        .unwrap();
    g.record_consent(&uid("c1u"), &cid("app"), &resource(), &scopes("write"), 2)
        .await
        .unwrap();
    assert_eq!(
        g.consent(&uid("c1u"), &cid("app"), &resource())
            .await
            .unwrap(),
        Some(scopes("read write"))
    );
    let client = Client {
        id: cid("app"),
        secret_hash: None,
        name: Some("App".into()),
        redirect_uris: vec!["https://app.example/cb".into()],
        grant_types: vec![GrantType::AuthorizationCode],
        auth_method: AuthMethod::None,
        scope: Some(scopes("read write")),
        metadata: json!({}),
        source: ClientSource::Dynamic,
        created_at: 1,
    };
    stores.clients.create_client(&client).await.unwrap();
    let stored = stores.clients.client(&cid("app")).await.unwrap().unwrap();
    assert_eq!(stored.scope, Some(scopes("read write")));
    assert_eq!(stored.grant_types, [GrantType::AuthorizationCode]);
    assert_eq!(stored.auth_method, AuthMethod::None);
    g.create_grant(&grant("ga", "app", "c1u"), Some(&SecretHash::of("ta")))
        .await
        .unwrap();
    assert!(stores.clients.remove_client(&cid("app")).await.unwrap());
    assert!(
        g.consent(&uid("c1u"), &cid("app"), &resource())
            .await
            .unwrap()
            .is_none()
    );
    assert!(g.grant("ga").await.unwrap().is_none());
    assert!(!stores.clients.remove_client(&cid("app")).await.unwrap());
}

/// Idle dynamic clients are swept: old ones without a live grant go, with their consents
/// and dead grants; new ones, ones with a live grant and operator clients stay.
pub async fn idle_clients(stores: &Stores) {
    user(stores, "ic", "ic@example.com").await;
    let client = |id: &str, created_at: i64, source: ClientSource| Client {
        id: cid(id),
        secret_hash: None,
        name: None,
        redirect_uris: vec!["https://app.example/cb".into()],
        grant_types: vec![GrantType::AuthorizationCode],
        auth_method: AuthMethod::None,
        scope: None,
        metadata: json!({}),
        source,
        created_at,
    };
    for (id, at, source) in [
        ("unused", 10, ClientSource::Dynamic),
        ("lapsed", 10, ClientSource::Dynamic),
        ("in-use", 10, ClientSource::Dynamic),
        ("recent", 900, ClientSource::Dynamic),
        ("operator", 10, ClientSource::Operator),
    ] {
        stores
            .clients
            .create_client(&client(id, at, source))
            .await
            .unwrap();
    }
    let g = &stores.grants;
    let expired = Grant {
        expires_at: 500,
        ..grant("g-lapsed", "lapsed", "ic")
    };
    g.create_grant(&expired, Some(&SecretHash::of("t-lapsed")))
        .await
        .unwrap();
    g.record_consent(&uid("ic"), &cid("lapsed"), &resource(), &scopes("read"), 1)
        .await
        .unwrap();
    g.create_grant(&grant("g-live", "in-use", "ic"), None)
        .await
        .unwrap();
    // At 1,000, "before 100": two qualify; a limit of one takes them in two steps.
    for (limit, swept) in [(1, 1), (10, 1), (10, 0)] {
        let n = stores.clients.purge_idle_clients(100, 1_000, limit).await;
        assert_eq!(n.unwrap(), swept, "limit {limit}");
    }
    let left: Vec<String> = stores
        .clients
        .clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(left, ["in-use", "operator", "recent"]);
    assert!(g.grant("g-lapsed").await.unwrap().is_none());
    assert!(
        g.consent(&uid("ic"), &cid("lapsed"), &resource())
            .await
            .unwrap()
            .is_none()
    );
    assert!(g.grant("g-live").await.unwrap().is_some());
}

/// A decision-log entry for a token `jti` minted at `at`.
pub(super) fn decision_entry(jti: &str, at: i64) -> DecisionEntry {
    DecisionEntry {
        jti: jti.into(),
        at,
        client_id: cid("c"),
        sub: Some(uid("u")),
        resource: resource(),
        grant_type: GrantType::RefreshToken,
        outcome: PolicyOutcome::Allow,
        runs: r#"[{"policy":"tier","outcome":"allow"}]"#.into(),
    }
}

/// Decision log: entries come back newest first, are found by jti (with and without the
/// token's iat), and are purged by age.
pub async fn decision_log(stores: &Stores) {
    let entry = decision_entry;
    let log = &stores.decisions;
    log.record_decisions(&[entry("g1.a", 100), entry("g1.b", 200)])
        .await
        .unwrap();
    log.record_decisions(&[entry("g2.a", 300)]).await.unwrap();
    let recent = log.recent_decisions(2).await.unwrap();
    let jtis: Vec<&str> = recent.iter().map(|e| e.jti.as_str()).collect();
    assert_eq!(jtis, ["g2.a", "g1.b"]);
    assert_eq!(recent[0].runs, r#"[{"policy":"tier","outcome":"allow"}]"#);

    let by_time = log.decision("g1.b", Some(200)).await.unwrap().unwrap();
    assert_eq!((by_time.jti.as_str(), by_time.at), ("g1.b", 200));
    assert!(log.decision("g1.b", Some(900)).await.unwrap().is_none());
    assert_eq!(log.decision("g1.a", None).await.unwrap().unwrap().at, 100);
    assert!(log.decision("nope", None).await.unwrap().is_none());

    // Purging keeps everything newer than the cut-off. (A backend that stores batches
    // keeps an older entry until its whole batch is past the cut-off.)
    log.purge_decisions(150, 100).await.unwrap();
    let kept = log.recent_decisions(10).await.unwrap();
    assert!(kept.iter().any(|e| e.jti == "g1.b") && kept.iter().any(|e| e.jti == "g2.a"));
    log.record_decisions(&[entry("g3.a", 400)]).await.unwrap();
    // A small limit drains the backlog in steps, each of which drops something.
    let mut steps = 0;
    while log.purge_decisions(350, 1).await.unwrap() > 0 {
        steps += 1;
        assert!(steps <= 3, "a purge step dropped nothing it counted");
    }
    let left = log.recent_decisions(10).await.unwrap();
    let jtis: Vec<&str> = left.iter().map(|e| e.jti.as_str()).collect();
    assert_eq!(jtis, ["g3.a"]);
    // Runs are kept as the exact text given, quotes and all.
    let odd = DecisionEntry {
        runs: r#"[{"detail":"said \"no\"\nthen left"}]"#.into(),
        ..entry("g4.a", 500)
    };
    log.record_decisions(std::slice::from_ref(&odd))
        .await
        .unwrap();
    assert_eq!(
        log.decision("g4.a", Some(500)).await.unwrap().unwrap().runs,
        odd.runs
    );
    // A client-credentials mint names no user.
    let own = DecisionEntry {
        sub: None,
        grant_type: GrantType::ClientCredentials,
        ..entry("c1.a", 600)
    };
    log.record_decisions(std::slice::from_ref(&own))
        .await
        .unwrap();
    let read = log.decision("c1.a", Some(600)).await.unwrap().unwrap();
    assert_eq!(
        (read.sub, read.grant_type),
        (None, GrantType::ClientCredentials)
    );
    assert!(log.record_decisions(&[]).await.is_ok());
}

/// Rate-limit counters: a window opens with its first hit, counts until it lapses, and
/// starts over after; clearing forgets it; keys are independent.
pub async fn counters(stores: &Stores) {
    let c = &stores.counters;
    assert_eq!(c.tally("k", 60, 100).await.unwrap(), None);
    for n in 1..=3 {
        let t = c.hit("k", 60, 100 + n).await.unwrap();
        assert_eq!((t.count, t.since), (n as u32, 101));
    }
    c.hit("other", 60, 100).await.unwrap();
    let t = c.tally("k", 60, 150).await.unwrap().unwrap();
    assert_eq!((t.count, t.since), (3, 101));
    assert_eq!(c.tally("k", 60, 161).await.unwrap(), None, "lapsed");
    let t = c.hit("k", 60, 161).await.unwrap();
    assert_eq!((t.count, t.since), (1, 161), "a new window");
    c.clear("k").await.unwrap();
    assert_eq!(c.tally("k", 60, 162).await.unwrap(), None);
    assert_eq!(c.tally("other", 60, 110).await.unwrap().unwrap().count, 1);
}

/// Change notices reach a listener in this process (and, through Redis, every other).
pub async fn notices(stores: &Stores) {
    let mut told = stores.notices.subscribe();
    stores
        .notices
        .publish(super::notices::Change::Keys)
        .await
        .unwrap();
    let got = tokio::time::timeout(std::time::Duration::from_secs(5), told.recv()).await;
    assert_eq!(
        got.expect("told in time").unwrap(),
        super::notices::Change::Keys
    );
}

/// Every story above as one test per name, in a module whose `scratch(name)` gives a
/// fresh store for the story (or `None` to skip it) and cleans up after it.
macro_rules! stories {
    ($($story:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $story() {
            if let Some(s) = scratch(stringify!($story)).await {
                super::$story(&s.stores).await;
                s.finish().await;
            }
        }
    )*};
}

macro_rules! all_stories {
    () => {
        stories!(
            users,
            refresh_rotation,
            concurrent_rotation,
            ephemeral,
            consents_and_clients,
            decision_log,
            counters,
            idle_clients,
            notices,
            app_access,
            account_deletion,
            second_factors,
            account_state,
            revoke_user_grants,
            mailed_links,
            mail_queue,
            concurrent_mail_claims,
            passkeys,
            users_pages,
            metadata_compare_and_set,
            client_updates,
            user_decisions,
            audit_log,
        );
    };
}

mod embedded;
mod production;
