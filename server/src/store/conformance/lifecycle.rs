//! Stories of accounts people keep: their state (verified, disabled, password, session
//! epoch), revoking all they granted, mailed links, and the mail queue.

use super::*;

fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

async fn read(stores: &Stores, sub: &str) -> User {
    stores.users.user_by_sub(&uid(sub)).await.unwrap().unwrap()
}

/// A user's state changes as asked, and an unknown user is `NotFound`.
pub async fn account_state(stores: &Stores) {
    user(stores, "u1", "ada@example.com").await;
    let before = read(stores, "u1").await;
    assert!(!before.email_verified && !before.is_disabled());
    assert_eq!(before.session_epoch, 0);

    let users = &stores.users;
    users.set_disabled(&uid("u1"), Some(500)).await.unwrap();
    let disabled = read(stores, "u1").await;
    assert_eq!(disabled.disabled_at, Some(500));
    assert_eq!(disabled.session_epoch, 1, "disabling ends every session");
    assert!(!disabled.email_verified);

    users.reset_password(&uid("u1"), "new-hash").await.unwrap();
    let after = read(stores, "u1").await;
    assert!(after.email_verified, "the reset link proved the address");
    assert_eq!(after.password_hash, "new-hash");
    assert_eq!(after.session_epoch, 2);
    assert_eq!(after.email, before.email);

    user(stores, "u2", "bob@example.com").await;
    users.set_email_verified(&uid("u2")).await.unwrap();
    assert!(read(stores, "u2").await.email_verified);

    users.set_disabled(&uid("u1"), None).await.unwrap();
    users.end_sessions(&uid("u1")).await.unwrap();
    let enabled = read(stores, "u1").await;
    assert!(!enabled.is_disabled());
    assert_eq!(
        enabled.session_epoch, 3,
        "enabling starts no epoch; ending one does"
    );

    // A new address, proven by its link: verified with it; a taken one is refused.
    users
        .change_email(&uid("u2"), &email("bob@new.example"))
        .await
        .unwrap();
    let moved = read(stores, "u2").await;
    assert_eq!(moved.email, email("bob@new.example"));
    assert!(moved.email_verified);
    let old = stores
        .users
        .user_by_email(&email("bob@example.com"))
        .await
        .unwrap();
    assert!(old.is_none(), "the previous address is free");
    assert!(matches!(
        users
            .change_email(&uid("u2"), &email("ada@example.com"))
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(read(stores, "u2").await.email, email("bob@new.example"));

    let nobody = uid("nobody");
    assert!(matches!(
        users.change_email(&nobody, &email("x@example.com")).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        users.set_email_verified(&nobody).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        users.set_disabled(&nobody, None).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        users.reset_password(&nobody, "h").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        users.end_sessions(&nobody).await,
        Err(StoreError::NotFound)
    ));
}

/// Revoking a user's grants revokes each live family of theirs once, and no one else's.
pub async fn revoke_user_grants(stores: &Stores) {
    user(stores, "u1", "ada@example.com").await;
    user(stores, "u2", "bob@example.com").await;
    let g = &stores.grants;
    for (id, sub) in [("g1", "u1"), ("g2", "u1"), ("g3", "u1"), ("g4", "u2")] {
        let token = SecretHash::of(&format!("rt-{id}"));
        g.create_grant(&grant(id, "c", sub), Some(&token))
            .await
            .unwrap();
    }
    g.revoke_grant("g3", 150).await.unwrap();
    let mut revoked = g.revoke_user_grants(&uid("u1"), 200).await.unwrap();
    revoked.sort();
    assert_eq!(revoked, ["g1", "g2"]);
    for id in ["g1", "g2"] {
        let token = SecretHash::of(&format!("rt-{id}"));
        assert!(
            g.grant_by_refresh(&token, 300, false)
                .await
                .unwrap()
                .is_none()
        );
    }
    let other = SecretHash::of("rt-g4");
    assert!(
        g.grant_by_refresh(&other, 300, false)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        g.revoke_user_grants(&uid("u1"), 300)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A mailed link is read as often as needed until it is taken, once, or expires.
pub async fn mailed_links(stores: &Stores) {
    let e = &stores.ephemeral;
    let token = SecretHash::of("link");
    let link = MailedLink {
        sub: uid("u1"),
        email: email("ada@example.com"),
        browser: Some("b".into()),
        request: None,
        previous: None,
        expires_at: 1_000,
    };
    e.put_link(LinkPurpose::Reset, &token, &link).await.unwrap();
    assert!(
        e.link(LinkPurpose::Verify, &token, 10)
            .await
            .unwrap()
            .is_none(),
        "a reset link is no verification link"
    );
    let read = e
        .link(LinkPurpose::Reset, &token, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((read.sub, read.browser), (uid("u1"), Some("b".into())));
    assert!(
        e.link(LinkPurpose::Reset, &token, 10)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        e.take_link(LinkPurpose::Reset, &token, 10)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        e.take_link(LinkPurpose::Reset, &token, 10)
            .await
            .unwrap()
            .is_none(),
        "a link works once"
    );
    e.put_link(LinkPurpose::Verify, &token, &link)
        .await
        .unwrap();
    assert!(
        e.take_link(LinkPurpose::Verify, &token, 1_000)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
}

fn queued(id: &str, at: UnixTime) -> QueuedMail {
    QueuedMail {
        id: id.into(),
        recipient: email("ada@example.com"),
        message: format!("Subject: {id}\r\n\r\nhello\r\n").into_bytes(),
        created_at: at,
        attempts: 0,
    }
}

/// The mail queue: a claim takes what is due, counts an attempt and leases it; a failure
/// puts it back for later or gives up on it; a delivery removes it.
pub async fn mail_queue(stores: &Stores) {
    let q = &stores.mail;
    q.enqueue_mail(&queued("m1", 100)).await.unwrap();
    q.enqueue_mail(&queued("m2", 110)).await.unwrap();
    assert!(
        q.claim_mail(99, 200, 10).await.unwrap().is_empty(),
        "not due"
    );

    let first = q.claim_mail(120, 200, 1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].id.as_str(), first[0].attempts), ("m1", 1));
    assert_eq!(first[0].message, queued("m1", 100).message);
    assert_eq!(first[0].recipient, email("ada@example.com"));
    let second = q.claim_mail(120, 200, 10).await.unwrap();
    assert_eq!(second.len(), 1, "m1 is leased");
    assert_eq!(second[0].id, "m2");

    // m1's claimant died: it is due again once the lease is over.
    assert!(q.claim_mail(199, 300, 10).await.unwrap().is_empty());
    let mut again = q.claim_mail(200, 300, 10).await.unwrap();
    again.sort_by(|a, b| a.id.cmp(&b.id));
    let claimed: Vec<(&str, u32)> = again.iter().map(|m| (m.id.as_str(), m.attempts)).collect();
    assert_eq!(claimed, [("m1", 2), ("m2", 2)]);

    q.mail_failed("m1", Some(250), "connection refused", 200)
        .await
        .unwrap();
    q.mail_sent("m2").await.unwrap();
    let retried = q.claim_mail(250, 400, 10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!((retried[0].id.as_str(), retried[0].attempts), ("m1", 3));
    q.mail_failed("m1", None, "550 no such mailbox", 250)
        .await
        .unwrap();
    assert!(
        q.claim_mail(10_000, 20_000, 10).await.unwrap().is_empty(),
        "given up on, and m2 was delivered"
    );
    assert_eq!(q.purge_failed_mail(250).await.unwrap(), 0, "failed at 250");
    assert_eq!(q.purge_failed_mail(251).await.unwrap(), 1);
}

/// Two claims at once never take the same message.
pub async fn concurrent_mail_claims(stores: &Stores) {
    for n in 0..20 {
        stores
            .mail
            .enqueue_mail(&queued(&format!("m{n:02}"), 100))
            .await
            .unwrap();
    }
    let mut claims = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let q = stores.mail.clone();
        claims.spawn(async move { q.claim_mail(100, 200, 20).await.unwrap() });
    }
    let mut ids: Vec<String> = Vec::new();
    while let Some(batch) = claims.join_next().await {
        ids.extend(batch.unwrap().into_iter().map(|m| m.id));
    }
    ids.sort();
    let expected: Vec<String> = (0..20).map(|n| format!("m{n:02}")).collect();
    assert_eq!(ids, expected, "each message claimed exactly once");
}
