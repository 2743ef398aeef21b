//! Second factors: a secret waits for its first code, then each code's time step and each
//! recovery code works once; a grant keeps how its user signed in.

use super::*;

pub async fn second_factors(stores: &Stores) {
    user(stores, "f1", "f1@example.com").await;
    let (f, u) = (&stores.factors, uid("f1"));
    assert!(f.totp(&u).await.unwrap().is_none());
    assert!(!f.spend_totp_step(&u, 10).await.unwrap(), "no factor yet");

    // A waiting secret is replaced by the next one, and spends no code.
    f.begin_totp(&u, b"first", 100).await.unwrap();
    f.begin_totp(&u, b"second", 101).await.unwrap();
    let waiting = f.totp(&u).await.unwrap().unwrap();
    assert_eq!(waiting.sealed_secret, b"second");
    assert_eq!(waiting.confirmed_at, None);
    assert!(!f.spend_totp_step(&u, 10).await.unwrap(), "not confirmed");

    let codes = [SecretHash::of("r1"), SecretHash::of("r2")];
    assert!(f.confirm_totp(&u, 50, &codes, 102).await.unwrap());
    assert!(
        !f.confirm_totp(&u, 51, &codes, 103).await.unwrap(),
        "confirmed once"
    );
    let confirmed = f.totp(&u).await.unwrap().unwrap();
    assert_eq!(
        (confirmed.confirmed_at, confirmed.last_step),
        (Some(102), Some(50))
    );
    assert!(matches!(
        f.begin_totp(&u, b"third", 104).await,
        Err(StoreError::Conflict)
    ));

    // The confirming code's step is spent; a later one works once; an earlier one never.
    assert!(!f.spend_totp_step(&u, 50).await.unwrap());
    assert!(f.spend_totp_step(&u, 51).await.unwrap());
    assert!(!f.spend_totp_step(&u, 51).await.unwrap());
    assert!(!f.spend_totp_step(&u, 49).await.unwrap());

    assert_eq!(f.recovery_codes_left(&u).await.unwrap(), 2);
    assert!(f.spend_recovery_code(&u, &codes[0]).await.unwrap());
    assert!(!f.spend_recovery_code(&u, &codes[0]).await.unwrap());
    assert!(!f.spend_recovery_code(&uid("f2"), &codes[1]).await.unwrap());
    assert_eq!(f.recovery_codes_left(&u).await.unwrap(), 1);

    assert!(f.remove_totp(&u).await.unwrap());
    assert!(!f.remove_totp(&u).await.unwrap());
    assert!(f.totp(&u).await.unwrap().is_none());
    assert_eq!(f.recovery_codes_left(&u).await.unwrap(), 0);

    // A grant keeps its sign-in methods, through rotation too.
    let g = Grant {
        amr: SignInMethods::password_and_code(),
        ..grant("gf", "c", "f1")
    };
    let (t1, t2) = (SecretHash::of("tf1"), SecretHash::of("tf2"));
    stores.grants.create_grant(&g, Some(&t1)).await.unwrap();
    let read = stores.grants.grant("gf").await.unwrap().unwrap();
    assert_eq!(read.amr, SignInMethods::password_and_code());
    let rotated = stores.grants.rotate_refresh(&t1, &t2, b"-", 200, 10).await;
    match rotated.unwrap() {
        Rotation::Rotated(g) => assert_eq!(g.amr, SignInMethods::password_and_code()),
        other => panic!("{other:?}"),
    }
}
