//! Passkeys: each id is registered once, across accounts; a sign-in moves its record on;
//! removal takes only the owner's; deleting the account takes them all.

use super::*;
use crate::domain::PasskeyId;

fn passkey(id: &str, sub: &str, at: UnixTime) -> StoredPasskey {
    StoredPasskey {
        id: PasskeyId::parse(id).unwrap(),
        sub: uid(sub),
        name: format!("key {id}"),
        credential: format!(r#"{{"counter":0,"id":"{id}"}}"#),
        created_at: at,
        last_used_at: None,
    }
}

pub async fn passkeys(stores: &Stores) {
    user(stores, "p1", "p1@example.com").await;
    user(stores, "p2", "p2@example.com").await;
    let p = &stores.passkeys;
    assert!(p.passkeys(&uid("p1")).await.unwrap().is_empty());

    let (a, b) = (passkey("a-1_", "p1", 100), passkey("b2", "p1", 90));
    p.add_passkey(&a).await.unwrap();
    p.add_passkey(&b).await.unwrap();
    assert!(
        matches!(
            p.add_passkey(&passkey("a-1_", "p2", 101)).await,
            Err(StoreError::Conflict)
        ),
        "a credential id belongs to one account"
    );
    assert_eq!(
        p.passkeys(&uid("p1")).await.unwrap(),
        [b.clone(), a.clone()]
    );
    assert!(p.passkeys(&uid("p2")).await.unwrap().is_empty());
    assert_eq!(p.passkey(&a.id).await.unwrap(), Some(a.clone()));
    let unknown = PasskeyId::parse("zz").unwrap();
    assert_eq!(p.passkey(&unknown).await.unwrap(), None);

    assert!(
        p.passkey_used(&a.id, r#"{"counter":5}"#, 120)
            .await
            .unwrap()
    );
    assert!(!p.passkey_used(&unknown, "{}", 120).await.unwrap());
    let used = p.passkey(&a.id).await.unwrap().unwrap();
    assert_eq!(
        (used.credential.as_str(), used.last_used_at),
        (r#"{"counter":5}"#, Some(120))
    );

    assert!(
        !p.remove_passkey(&uid("p2"), &a.id).await.unwrap(),
        "only the owner removes it"
    );
    assert!(p.remove_passkey(&uid("p1"), &a.id).await.unwrap());
    assert!(!p.remove_passkey(&uid("p1"), &a.id).await.unwrap());
    assert_eq!(
        p.passkeys(&uid("p1")).await.unwrap(),
        std::slice::from_ref(&b)
    );

    stores.users.delete_user(&uid("p1"), 0).await.unwrap();
    assert_eq!(
        p.passkey(&b.id).await.unwrap(),
        None,
        "gone with the account"
    );
}
