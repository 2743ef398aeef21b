//! The stories of the account page: the apps a user allowed (since when, last used),
//! revoking one app, changing the password and deleting the account.

use super::*;

fn consent_of(consents: &[Consent], client: &str) -> Consent {
    consents
        .iter()
        .find(|c| c.client_id == *client)
        .cloned()
        .unwrap_or_else(|| panic!("no consent for {client}: {consents:?}"))
}

/// Consents list oldest first; a widening keeps when the first was given; last used is
/// the newest code exchange or refresh. Revoking an app withdraws its consents and
/// revokes its families (and only its), and names the grants whose access tokens may
/// still live, again on a retry.
pub async fn app_access(stores: &Stores) {
    user(stores, "aa", "aa@example.com").await;
    let (u, g) = (uid("aa"), &stores.grants);
    g.record_consent(&u, &cid("notes"), &resource(), &scopes("read"), 10)
        .await
        .unwrap();
    g.record_consent(&u, &cid("other"), &resource(), &scopes("read"), 20)
        .await
        .unwrap();
    g.record_consent(&u, &cid("notes"), &resource(), &scopes("write"), 30)
        .await
        .unwrap();
    let listed = g.consents(&u).await.unwrap();
    let clients: Vec<&str> = listed.iter().map(|c| c.client_id.as_str()).collect();
    assert_eq!(clients, ["notes", "other"]);
    let notes = consent_of(&listed, "notes");
    assert_eq!(
        (notes.scopes, notes.granted_at, notes.last_used),
        (scopes("read write"), 10, None)
    );

    // Two families of the app: one refreshed (at 150), one only exchanged (at 120); a
    // third, long expired; and the other app's.
    let at = |id: &str, client: &str, created_at, expires_at| Grant {
        created_at,
        expires_at,
        ..grant(id, client, "aa")
    };
    let [t1, t2, t3] = ["n1", "n2", "n3"].map(SecretHash::of);
    g.create_grant(&at("gn1", "notes", 100, 10_000), Some(&t1))
        .await
        .unwrap();
    g.create_grant(&at("gn2", "notes", 120, 10_000), None)
        .await
        .unwrap();
    g.create_grant(&at("gn-old", "notes", 1, 50), None)
        .await
        .unwrap();
    g.create_grant(&at("go", "other", 100, 10_000), Some(&t3))
        .await
        .unwrap();
    let rotated = g.rotate_refresh(&t1, &t2, b"-", 150, 10).await.unwrap();
    assert!(matches!(rotated, Rotation::Rotated(_)));
    let listed = g.consents(&u).await.unwrap();
    assert_eq!(consent_of(&listed, "notes").last_used, Some(150));
    assert_eq!(consent_of(&listed, "other").last_used, Some(100));

    let mut ids = g.revoke_app(&u, &cid("notes"), 200, 100).await.unwrap();
    ids.sort();
    assert_eq!(ids, ["gn1", "gn2"], "the expired family has no live tokens");
    let listed = g.consents(&u).await.unwrap();
    let clients: Vec<&str> = listed.iter().map(|c| c.client_id.as_str()).collect();
    assert_eq!(clients, ["other"]);
    assert!(g.grant_by_refresh(&t2, 201, false).await.unwrap().is_none());
    assert!(matches!(
        g.rotate_refresh(&t2, &t1, b"-", 201, 10).await.unwrap(),
        Rotation::Invalid
    ));
    assert_eq!(g.grant("gn2").await.unwrap().unwrap().revoked_at, Some(200));
    // The other app keeps its access.
    assert!(g.grant_by_refresh(&t3, 201, false).await.unwrap().is_some());
    // A retry (the first answer was lost) names the same grants and changes nothing.
    let mut again = g.revoke_app(&u, &cid("notes"), 300, 100).await.unwrap();
    again.sort();
    assert_eq!(again, ["gn1", "gn2"]);
    assert_eq!(g.grant("gn1").await.unwrap().unwrap().revoked_at, Some(200));
    // Another user's consent to the same app is not theirs to withdraw.
    user(stores, "ab", "ab@example.com").await;
    g.record_consent(&uid("ab"), &cid("other"), &resource(), &scopes("read"), 5)
        .await
        .unwrap();
    g.revoke_app(&u, &cid("other"), 400, 100).await.unwrap();
    assert_eq!(g.consents(&uid("ab")).await.unwrap().len(), 1);
}

/// A password is replaced; a deleted user goes with everything that was theirs, and the
/// email can sign up again.
pub async fn account_deletion(stores: &Stores) {
    user(stores, "ad", "ad@example.com").await;
    user(stores, "keep", "keep@example.com").await;
    let (u, g) = (uid("ad"), &stores.grants);
    stores.users.set_password(&u, "new hash").await.unwrap();
    let email = Email::parse("ad@example.com").unwrap();
    let found = stores.users.user_by_email(&email).await.unwrap().unwrap();
    assert_eq!(found.password_hash, "new hash");
    assert!(matches!(
        stores.users.set_password(&uid("nobody"), "x").await,
        Err(StoreError::NotFound)
    ));

    g.record_consent(&u, &cid("app"), &resource(), &scopes("read"), 10)
        .await
        .unwrap();
    for (id, sub, token) in [
        ("gd", "ad", Some(SecretHash::of("d1"))),
        ("gd-revoked", "ad", None),
        ("gk", "keep", Some(SecretHash::of("k1"))),
    ] {
        let made = g.create_grant(&grant(id, "app", sub), token.as_ref()).await;
        made.unwrap();
    }
    assert!(g.revoke_grant("gd-revoked", 20).await.unwrap());
    let ids = stores.users.delete_user(&u, 100).await.unwrap();
    assert_eq!(
        ids,
        ["gd"],
        "the family revoked before `since` has no live tokens"
    );
    assert!(stores.users.user_by_sub(&u).await.unwrap().is_none());
    assert!(stores.users.user_by_email(&email).await.unwrap().is_none());
    assert!(g.consents(&u).await.unwrap().is_empty());
    assert!(g.grant("gd").await.unwrap().is_none());
    assert!(g.grant("gd-revoked").await.unwrap().is_none());
    let gone = g.grant_by_refresh(&SecretHash::of("d1"), 101, true).await;
    assert!(gone.unwrap().is_none());
    // Nobody else's.
    assert!(g.grant("gk").await.unwrap().is_some());
    assert!(matches!(
        stores.users.delete_user(&u, 100).await,
        Err(StoreError::NotFound)
    ));
    // The email is free: a new account (a new sub) takes it.
    user(stores, "ad2", "ad@example.com").await;
}
