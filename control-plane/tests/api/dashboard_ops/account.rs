//! The account page: the signed-in user, the tenant's features and limits as the API and
//! the operator's CLI have them, and the user's own API tokens: created (shown once) as
//! `POST /auth/login` creates them, listed, revoked; another tenant's 404.

use control_plane::service::tenant_settings::FeatureChange;
use serde_json::Value;

use super::{assert_csrf_refused, other_tenant};
use crate::dashboard::Dash;
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, spawn_app};

#[tokio::test]
async fn account_features_limits_and_api_tokens() {
    let app = spawn_app().await;
    let token = app.login().await;
    let me: Value = app
        .get("/api/v1/auth/me", &token)
        .await
        .json()
        .await
        .unwrap();
    let tenant = me["data"]["tenant"].clone();
    // The operator turns Kanban on (the CLI's service).
    let tenant_id = control_plane::domain::TenantId(tenant["id"].as_i64().unwrap());
    app.services
        .set_tenant_features(
            tenant_id,
            FeatureChange {
                kanban_enabled: Some(true),
                currency: Some(Some("USD".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    app.create_instance(&token, "Counted").await;
    // A colleague in the same account is listed with the signed-in user.
    app.services
        .create_user(
            Some(tenant_id),
            "",
            "Bia Colleague",
            "bia@test.local",
            "colleague-password-1",
            "member",
        )
        .await
        .unwrap();
    let dash = Dash::admin(&app).await;

    let (status, page) = dash.get("/dashboard/account").await;
    assert_eq!(status, 200, "{page}");
    for expected in [
        ADMIN_EMAIL,
        "bia@test.local",
        "Bia Colleague",
        me["data"]["user"]["uuid"].as_str().unwrap(),
        tenant["uuid"].as_str().unwrap(),
        "id=\"feature-kanban\">on",
        "id=\"feature-voice\">off",
        "USD",
        "users-note",
        "control-plane tenant set-quota",
        "/dashboard/external-functions",
    ] {
        assert!(page.contains(expected), "{expected} in {page}");
    }
    // Limits: the tenant's use against its quotas (defaults: 100 instances).
    assert!(
        page.contains("<td>Instances</td><td>1</td><td>100</td>"),
        "{page}"
    );

    // Tokens: this session's and the API login's are listed, without their secrets.
    assert!(
        page.contains("this session") && page.contains(">tests<"),
        "{page}"
    );
    assert!(!page.contains(&token), "no secret shown");

    // Create one: shown once, and it works on the API.
    let (status, _, body) = dash
        .post(
            "/dashboard/account/tokens",
            &[("name", "crm-sync"), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let start = body.find("id=\"new-user-token\">").unwrap() + "id=\"new-user-token\">".len();
    let created: String = body[start..].chars().take_while(|c| *c != '<').collect();
    assert!(created.contains('|') && created.len() > 40, "{created}");
    let resp = app.get("/api/v1/auth/me", &created).await;
    assert_eq!(resp.status(), 200);
    let id = created.split('|').next().unwrap().to_owned();
    let (_, listed) = dash.get("/dashboard/account/tokens").await;
    assert!(
        listed.contains("crm-sync") && !listed.contains(&created),
        "{listed}"
    );

    // Bad input: the field named; a wrong password is the password field's.
    let (status, _, body) = dash
        .post(
            "/dashboard/account/tokens",
            &[("name", ""), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("err-token-name"), "{body}");
    let (status, _, body) = dash
        .post(
            "/dashboard/account/tokens",
            &[("name", "x"), ("password", "")],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("err-token-password"), "{body}");
    let (status, _, body) = dash
        .post(
            "/dashboard/account/tokens",
            &[("name", "x"), ("password", "wrong-password")],
        )
        .await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body.contains("err-token-password") && body.contains("not right"),
        "{body}"
    );
    assert_csrf_refused(
        &dash,
        "/dashboard/account/tokens",
        &[("name", "csrf"), ("password", ADMIN_PASSWORD)],
    )
    .await;
    let (_, listed) = dash.get("/dashboard/account/tokens").await;
    assert!(
        !listed.contains(">csrf<") && !listed.contains(">x<"),
        "{listed}"
    );

    // Another tenant cannot revoke it (404), and sees its own account only.
    let (other, _) = other_tenant(&app).await;
    let (status, _, body) = other
        .post(&format!("/dashboard/account/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(app.get("/api/v1/auth/me", &created).await.status(), 200);
    let (_, page) = other.get("/dashboard/account").await;
    assert!(!page.contains(ADMIN_EMAIL), "{page}");
    assert!(!page.contains("bia@test.local"), "{page}");
    assert!(!page.contains("crm-sync"), "{page}");

    // Revoke: the API refuses it from now on.
    let (status, _, body) = dash
        .post(&format!("/dashboard/account/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("crm-sync"), "{body}");
    assert_eq!(app.get("/api/v1/auth/me", &created).await.status(), 401);
    let (status, _, _) = dash
        .post(&format!("/dashboard/account/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(status, 404, "already revoked");

    // Revoking this session's own token signs out.
    let own = dash.cookie.split('|').next().unwrap().to_owned();
    let (status, redirect, _) = dash
        .post(&format!("/dashboard/account/tokens/{own}/revoke"), &[])
        .await;
    assert_eq!(status, 204);
    assert_eq!(redirect.as_deref(), Some("/dashboard/login"));
    let (status, _) = dash.get("/dashboard/account").await;
    assert_eq!(status, 303);
}
