//! The stories of the admin API: users a page at a time, metadata written only over what
//! an operator read, clients edited in place, a user's decisions by time, and the audit
//! log.

use super::*;

/// Users come a page at a time, in the bytes' order of their ids (upper case before `_`
/// before lower case, whatever the database's collation), each page after the last one's
/// final id.
pub async fn users_pages(stores: &Stores) {
    assert!(stores.users.users(None, 10).await.unwrap().is_empty());
    for (n, sub) in ["b", "B", "a", "_x", "A"].into_iter().enumerate() {
        user(stores, sub, &format!("page{n}@example.com")).await;
    }
    let page = |after: Option<&'static str>, limit| async move {
        let after = after.map(uid);
        let users = stores.users.users(after.as_ref(), limit).await.unwrap();
        users
            .into_iter()
            .map(|u| u.sub.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(page(None, 10).await, ["A", "B", "_x", "a", "b"]);
    assert_eq!(page(None, 2).await, ["A", "B"]);
    assert_eq!(page(Some("B"), 2).await, ["_x", "a"]);
    assert_eq!(page(Some("a"), 2).await, ["b"]);
    assert!(page(Some("b"), 2).await.is_empty());
    assert!(page(None, 0).await.is_empty());
    // A cursor need not be a user that still exists.
    assert_eq!(page(Some("Az"), 1).await, ["B"]);
    let full = stores.users.users(None, 1).await.unwrap();
    assert_eq!(full[0].email.as_str(), "page4@example.com");
}

/// Metadata is written over what was read, or not at all: a stale `expected` changes
/// nothing; without one the write always happens.
pub async fn metadata_compare_and_set(stores: &Stores) {
    user(stores, "m1", "m1@example.com").await;
    let (users, u) = (&stores.users, uid("m1"));
    let read = || async { users.user_by_sub(&u).await.unwrap().unwrap().metadata };
    let value = |text: String| serde_json::from_str::<serde_json::Value>(&text).unwrap();

    let first = read().await;
    // Keys out of order, nested: the text comes back however the store spells it, and
    // that text is what matches.
    let pro = json!({"tier": "pro", "apps": [1, 2], "a": {"z": 1, "b": null}});
    assert!(users.set_metadata(&u, &pro, Some(&first)).await.unwrap());
    let second = read().await;
    assert_eq!(value(second.clone()), pro);

    let free = json!({"tier": "free"});
    assert!(!users.set_metadata(&u, &free, Some(&first)).await.unwrap());
    assert_eq!(value(read().await), pro);
    let garbage = users.set_metadata(&u, &free, Some("not json")).await;
    assert!(!garbage.unwrap());
    assert_eq!(value(read().await), pro);

    let team = json!({"tier": "team"});
    assert!(users.set_metadata(&u, &team, Some(&second)).await.unwrap());
    assert_eq!(value(read().await), team);
    let solo = json!({"tier": "solo"});
    assert!(users.set_metadata(&u, &solo, None).await.unwrap());
    assert_eq!(value(read().await), solo);

    for expected in [None, Some("{}")] {
        let nobody = users
            .set_metadata(&uid("nobody"), &json!({}), expected)
            .await;
        assert!(matches!(nobody, Err(StoreError::NotFound)), "{nobody:?}");
    }
}

/// Editing a client replaces what it says of itself, never how and when it came.
pub async fn client_updates(stores: &Stores) {
    let before = Client {
        id: cid("edit"),
        secret_hash: None,
        name: Some("Before".into()),
        redirect_uris: vec!["https://before.example/cb".into()],
        grant_types: vec![GrantType::AuthorizationCode],
        auth_method: AuthMethod::None,
        scope: None,
        metadata: json!({"client_name": "Before"}),
        source: ClientSource::Dynamic,
        created_at: 5,
    };
    stores.clients.create_client(&before).await.unwrap();
    let after = Client {
        secret_hash: Some("hash".into()),
        name: None,
        redirect_uris: vec!["https://a.example/cb".into(), "https://b.example/cb".into()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        auth_method: AuthMethod::ClientSecretPost,
        scope: Some(scopes("read write")),
        metadata: json!({"client_name": "After", "logo_uri": "https://a.example/logo"}),
        source: ClientSource::Operator,
        created_at: 99,
        ..before.clone()
    };
    assert!(stores.clients.update_client(&after).await.unwrap());
    let stored = stores.clients.client(&cid("edit")).await.unwrap().unwrap();
    assert_eq!(stored.secret_hash.as_deref(), Some("hash"));
    assert_eq!(stored.name, None);
    assert_eq!(stored.redirect_uris, after.redirect_uris);
    assert_eq!(stored.grant_types, after.grant_types);
    assert_eq!(stored.auth_method, AuthMethod::ClientSecretPost);
    assert_eq!(stored.scope, Some(scopes("read write")));
    assert_eq!(stored.metadata, after.metadata);
    assert_eq!(
        (stored.source, stored.created_at),
        (ClientSource::Dynamic, 5)
    );

    let unknown = Client {
        id: cid("nobody"),
        ..after
    };
    assert!(!stores.clients.update_client(&unknown).await.unwrap());
    assert!(
        stores
            .clients
            .client(&cid("nobody"))
            .await
            .unwrap()
            .is_none()
    );
}

/// A user's decisions in a time range (both ends included), newest first, up to a limit;
/// nobody else's, and never a client's own (client-credentials) mint, which names no user.
pub async fn user_decisions(stores: &Stores) {
    let by = |sub: &str, jti: &str, at| DecisionEntry {
        sub: Some(uid(sub)),
        ..decision_entry(jti, at)
    };
    let own = |jti: &str, at| DecisionEntry {
        sub: None,
        client_id: cid("u"),
        grant_type: GrantType::ClientCredentials,
        ..decision_entry(jti, at)
    };
    let log = &stores.decisions;
    log.record_decisions(&[by("u", "a", 100), by("v", "x", 150), by("u", "b", 200)])
        .await
        .unwrap();
    log.record_decisions(&[own("cc", 250), by("u", "c", 300)])
        .await
        .unwrap();
    log.record_decisions(&[by("u", "d", 400)]).await.unwrap();

    let found = |sub: &'static str, from, to, limit| async move {
        let entries = log.user_decisions(&uid(sub), from, to, limit).await;
        entries
            .unwrap()
            .into_iter()
            .map(|e| e.jti)
            .collect::<Vec<_>>()
    };
    assert_eq!(found("u", 100, 300, 10).await, ["c", "b", "a"]);
    assert_eq!(found("u", 101, 299, 10).await, ["b"]);
    assert_eq!(found("u", 0, 1_000, 2).await, ["d", "c"]);
    assert_eq!(found("u", 0, 1_000, 10).await, ["d", "c", "b", "a"]);
    assert_eq!(found("v", 0, 1_000, 10).await, ["x"]);
    assert!(found("u", 500, 600, 10).await.is_empty());
    assert!(found("u", 300, 100, 10).await.is_empty());
    assert!(found("u", 0, 1_000, 0).await.is_empty());
    // The client-credentials token's subject is its client, "u" here; still no user's.
    assert!(found("u", 250, 250, 10).await.is_empty());
    assert!(found("nobody", 0, 1_000, 10).await.is_empty());
    let full = log.user_decisions(&uid("u"), 400, 400, 1).await.unwrap();
    assert_eq!(full[0].runs, r#"[{"policy":"tier","outcome":"allow"}]"#);
}

/// The audit log hands out increasing ids and reads back newest first, a page before a
/// cursor at a time, each entry as it was written.
pub async fn audit_log(stores: &Stores) {
    let audit = &stores.audit;
    assert!(audit.audit_entries(None, 10).await.unwrap().is_empty());
    let entries = [
        AuditEntry {
            id: 0,
            at: 10,
            actor: Actor::Cli,
            action: "user.create".into(),
            object: "u1".into(),
            request_id: None,
            detail: None,
        },
        AuditEntry {
            id: 0,
            at: 20,
            actor: Actor::Client(cid("admin-app")),
            action: "user.metadata.patch".into(),
            object: "u1".into(),
            request_id: Some("req-1".into()),
            detail: Some(r#"{"keys":["tier"]}"#.into()),
        },
        AuditEntry {
            id: 0,
            at: 20,
            actor: Actor::Client(cid("admin-app")),
            action: "client.secret.rotate".into(),
            object: "app".into(),
            request_id: Some("req-2".into()),
            detail: None,
        },
    ];
    let mut written = Vec::new();
    for entry in &entries {
        let id = audit.record_audit(entry).await.unwrap();
        written.push(AuditEntry {
            id,
            ..entry.clone()
        });
    }
    assert!(written.windows(2).all(|w| w[0].id < w[1].id), "{written:?}");
    let newest_first: Vec<AuditEntry> = written.iter().rev().cloned().collect();
    assert_eq!(audit.audit_entries(None, 10).await.unwrap(), newest_first);

    let ids = |page: Vec<AuditEntry>| page.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let [first, second, third] = [written[0].id, written[1].id, written[2].id];
    assert_eq!(ids(audit.audit_entries(None, 1).await.unwrap()), [third]);
    assert_eq!(
        ids(audit.audit_entries(Some(third), 1).await.unwrap()),
        [second]
    );
    assert_eq!(
        ids(audit.audit_entries(Some(second), 10).await.unwrap()),
        [first]
    );
    assert!(
        audit
            .audit_entries(Some(first), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(audit.audit_entries(None, 0).await.unwrap().is_empty());
}
