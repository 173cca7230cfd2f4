//! Two replicas over one PostgreSQL and one Redis are one service.

use crate::gatehouse::{Client, Replica, Session, unique_name};
use crate::services::{Postgres, Redis};

#[tokio::test]
async fn a_session_moves_freely_between_two_replicas() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    let (a, b) = (Replica::over(&pg, &redis, &[]).await, Replica::over(&pg, &redis, &[]).await);
    let client = Client::new();
    let name = unique_name("replicas");
    assert_eq!(client.register(&b, &name).await.status, 201);

    // Log in through A; B honours its access token and rotates its refresh token.
    let login = Session::from(&client.login(&a, &name).await);
    assert_eq!(client.me(&b, &login.access).await.status, 200);
    let refreshed = client.refresh(&b, &login.refresh).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let rotated = Session::from(&refreshed);
    assert_eq!(client.me(&a, &rotated.access).await.status, 200);

    // Log out through A: B refuses the token A revoked, and the one B rotated away.
    assert_eq!(client.logout(&a, &rotated.refresh).await.status, 200);
    let refused = client.refresh(&b, &rotated.refresh).await;
    assert_eq!((refused.status, refused.code()), (401, "INVALID_REFRESH_TOKEN"), "{}", refused.body);
    assert_eq!(client.refresh(&b, &login.refresh).await.status, 401);
    assert_eq!(client.refresh(&a, &login.refresh).await.status, 401);

    // One session per user across replicas: a login through B ends the one made through A.
    let first = Session::from(&client.login(&a, &name).await);
    let second = Session::from(&client.login(&b, &name).await);
    assert_eq!(client.refresh(&a, &first.refresh).await.status, 401);
    assert_eq!(client.refresh(&a, &second.refresh).await.status, 200);
}

#[tokio::test]
async fn throttling_counts_attempts_made_through_either_replica() {
    let (pg, redis) = (Postgres::start(), Redis::start());
    let limit = [("THROTTLE_PER_ACCOUNT", "4")];
    let (a, b) = (Replica::over(&pg, &redis, &limit).await, Replica::over(&pg, &redis, &limit).await);
    let client = Client::new();
    let name = unique_name("throttled");
    assert_eq!(client.register(&a, &name).await.status, 201);

    // Four wrong guesses, alternating replicas, use up the account's allowance on both.
    for (i, at) in [&a, &b, &a, &b].into_iter().enumerate() {
        let guess = client.login_with(at, &name, "a wrong guess").await;
        assert_eq!((guess.status, guess.code()), (401, "INVALID_CREDENTIALS"), "guess {i}: {}", guess.body);
    }
    for at in [&a, &b] {
        let refused = client.login_with(at, &name, "another guess").await;
        assert_eq!((refused.status, refused.code()), (429, "RATE_LIMITED"), "{}", refused.body);
        assert!(refused.retry_after.is_some());
    }
}
