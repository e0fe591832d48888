//! Contacts: the list with search and the instance filter, creating and editing (the API's
//! validation per field), deleting, importing CSV and JSON files with the API's summary,
//! exporting, live news, and another tenant's 404s.

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use super::{Events, assert_csrf_refused, other_tenant};
use crate::dashboard::Dash;
use crate::helpers::{TestApp, spawn_app};

async fn api(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let resp = app.get(path, token).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn api_contact(
    app: &TestApp,
    token: &str,
    instance: &str,
    phone: &str,
    name: &str,
) -> String {
    let resp = app
        .post(
            "/api/v1/contacts",
            token,
            json!({"instance_id": instance, "phone_number": phone, "name": name}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    body["data"]["uuid"].as_str().unwrap().to_owned()
}

/// Posts a file to the import form.
async fn import(dash: &Dash<'_>, instance: &str, filename: &str, content: &str) -> (u16, String) {
    let form = Form::new().text("instance_id", instance.to_owned()).part(
        "file",
        Part::bytes(content.as_bytes().to_vec()).file_name(filename.to_owned()),
    );
    let resp = dash
        .req(Method::POST, "/dashboard/contacts/import")
        .header("hx-request", "true")
        .header("x-csrf-token", &dash.csrf)
        .multipart(form)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn contacts_list_edit_import_export_and_isolation() {
    let app = spawn_app().await;
    let token = app.login().await;
    let instance = app.create_instance(&token, "Shop").await;
    let other_instance = app.create_instance(&token, "Backoffice").await;
    let inst = instance["uuid"].as_str().unwrap().to_owned();
    let back = other_instance["uuid"].as_str().unwrap().to_owned();
    let ana = api_contact(&app, &token, &inst, "+55 11 99999-0001", "Ana Souza").await;
    api_contact(&app, &token, &back, "5511999990002", "Bruno Lima").await;
    let dash = Dash::admin(&app).await;

    // The list shows what the API has; search and the instance filter narrow it.
    let (status, page) = dash.get("/dashboard/contacts").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Ana Souza") && page.contains("Bruno Lima"),
        "{page}"
    );
    assert!(
        page.contains("data-live=\"contact\""),
        "reloads on contact news"
    );
    let (_, found) = dash.get("/dashboard/contacts/list?search=ana").await;
    assert!(
        found.contains("Ana Souza") && !found.contains("Bruno Lima"),
        "{found}"
    );
    let (_, found) = dash.get("/dashboard/contacts/list?search=990002").await;
    assert!(
        found.contains("Bruno Lima") && !found.contains("Ana Souza"),
        "{found}"
    );
    let (_, found) = dash
        .get(&format!("/dashboard/contacts/list?instance_id={back}"))
        .await;
    assert!(
        found.contains("Bruno Lima") && !found.contains("Ana Souza"),
        "{found}"
    );
    let (status, _) = dash.get("/dashboard/contacts/list?page=0").await;
    assert_eq!(status, 422);

    // Create: the API has it.
    let (status, redirect, body) = dash
        .post(
            "/dashboard/contacts",
            &[
                ("instance_id", &inst),
                ("phone_number", "+55 (11) 98888-7777"),
                ("name", "Carla Dias"),
                ("email", ""),
            ],
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let carla = redirect.unwrap().rsplit('/').next().unwrap().to_owned();
    let (status, c) = api(&app, &token, &format!("/api/v1/contacts/{carla}")).await;
    assert_eq!(status, 200);
    assert_eq!(c["data"]["phone_number"], "5511988887777");
    assert_eq!(c["data"]["name"], "Carla Dias");
    // The same number again, and a bad one: the API's answers, on their fields.
    let (status, _, body) = dash
        .post(
            "/dashboard/contacts",
            &[("instance_id", &inst), ("phone_number", "5511988887777")],
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("err-new-phone_number"), "{body}");
    let (status, _, body) = dash
        .post(
            "/dashboard/contacts",
            &[("instance_id", &inst), ("phone_number", "12")],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("err-new-phone_number"), "{body}");

    // Edit: every field; an empty one clears. Live news goes out.
    let mut events = Events::open(&dash).await;
    let path = format!("/dashboard/contacts/{ana}");
    let (status, page) = dash.get(&path).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Ana Souza") && page.contains("5511999990001"),
        "{page}"
    );
    let (status, _, body) = dash
        .post(
            &path,
            &[
                ("name", "Ana Maria Souza"),
                ("email", "ana@example.com"),
                ("company", "Acme"),
                ("notes", "VIP\nprefers mornings"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Contact saved"), "{body}");
    events.wait_for("event: contact").await;
    let (_, c) = api(&app, &token, &format!("/api/v1/contacts/{ana}")).await;
    assert_eq!(c["data"]["name"], "Ana Maria Souza");
    assert_eq!(c["data"]["email"], "ana@example.com");
    assert_eq!(c["data"]["notes"], "VIP\nprefers mornings");
    let (status, _, _) = dash
        .post(
            &path,
            &[
                ("name", "Ana Maria Souza"),
                ("email", "ana@example.com"),
                ("company", ""),
                ("notes", ""),
            ],
        )
        .await;
    assert_eq!(status, 200);
    let (_, c) = api(&app, &token, &format!("/api/v1/contacts/{ana}")).await;
    assert_eq!(c["data"]["company"], Value::Null);
    // A bad email: 422 on the field, nothing changes.
    let (status, _, body) = dash
        .post(&path, &[("name", "Changed"), ("email", "not-an-email")])
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("err-email") && body.contains("valid email"),
        "{body}"
    );
    assert!(
        body.contains("value=\"not-an-email\""),
        "the form keeps what was typed"
    );
    let (_, c) = api(&app, &token, &format!("/api/v1/contacts/{ana}")).await;
    assert_eq!(c["data"]["name"], "Ana Maria Souza");
    assert_csrf_refused(&dash, &path, &[("name", "No CSRF")]).await;
    let (_, c) = api(&app, &token, &format!("/api/v1/contacts/{ana}")).await;
    assert_eq!(c["data"]["name"], "Ana Maria Souza");

    // Import a CSV: one new, one already there, one bad number, one bad email.
    let csv = "name,phone_number,email\nDiego,+55 11 97777-0001,diego@example.com\nAna again,5511999990001,\nNobody,12,\nEva,5511977770002,eva@\n";
    let (status, body) = import(&dash, &inst, "people.csv", csv).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<strong>1</strong> imported"), "{body}");
    assert!(body.contains("<strong>1</strong> skipped"), "{body}");
    assert!(body.contains("<strong>2</strong> refused"), "{body}");
    // Rows as a spreadsheet numbers them (the header is row 1).
    assert!(body.contains("<td>4</td><td dir=\"ltr\">12</td>"), "{body}");
    assert!(body.contains("valid email"), "{body}");
    let (_, listed) = api(
        &app,
        &token,
        &format!("/api/v1/contacts?instance_id={inst}&search=diego"),
    )
    .await;
    assert_eq!(listed["data"][0]["email"], "diego@example.com");
    // A JSON file (the API's body shape).
    let (status, body) = import(
        &dash,
        &inst,
        "people.json",
        r#"{"contacts": [{"phone": "5511966660001", "name": "Fabio"}]}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<strong>1</strong> imported"), "{body}");
    // Files the import cannot read: 422 on `file`.
    for (name, content) in [
        ("empty.csv", ""),
        ("nophone.csv", "name,email\nX,x@example.com\n"),
        ("broken.json", "[{"),
    ] {
        let (status, body) = import(&dash, &inst, name, content).await;
        assert_eq!(status, 422, "{name}: {body}");
        assert!(body.contains("file"), "{name}: {body}");
    }
    let (_, all) = api(
        &app,
        &token,
        &format!("/api/v1/contacts?instance_id={inst}"),
    )
    .await;
    assert_eq!(all["meta"]["pagination"]["total"], 4, "{all}");

    // Export: the API's, as a download.
    let resp = dash
        .req(
            Method::GET,
            &format!("/dashboard/contacts/export?format=csv&instance_id={inst}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("contacts.csv")
    );
    let csv = resp.text().await.unwrap();
    assert!(csv.starts_with("id,uuid,instance_id,phone_number"), "{csv}");
    assert!(
        csv.contains("Ana Maria Souza") && csv.contains("Fabio") && !csv.contains("Bruno"),
        "{csv}"
    );
    let resp = dash
        .req(Method::GET, "/dashboard/contacts/export?format=json")
        .send()
        .await
        .unwrap();
    let exported: Value = resp.json().await.unwrap();
    let (_, api_export) = api(&app, &token, "/api/v1/contacts/export?format=json").await;
    assert_eq!(exported["data"], api_export["data"]);
    let (status, _) = dash.get("/dashboard/contacts/export?format=xml").await;
    assert_eq!(status, 422);

    // Another tenant: none of it is visible or reachable.
    let (other, _) = other_tenant(&app).await;
    let (status, page) = other.get("/dashboard/contacts").await;
    assert_eq!(status, 200);
    assert!(!page.contains("Ana Maria Souza"), "{page}");
    for path in [
        path.clone(),
        format!("/dashboard/contacts/list?instance_id={inst}"),
        format!("/dashboard/contacts/export?instance_id={inst}"),
    ] {
        let (status, body) = other.get(&path).await;
        assert_eq!(status, 404, "GET {path}: {body}");
        assert!(!body.contains("Ana Maria Souza"));
    }
    for (p, form) in [
        (path.clone(), vec![("name", "Hijacked")]),
        (format!("{path}/delete"), vec![]),
        (
            "/dashboard/contacts".to_owned(),
            vec![
                ("instance_id", inst.as_str()),
                ("phone_number", "5511955550000"),
            ],
        ),
    ] {
        let (status, _, body) = other.post(&p, &form).await;
        assert_eq!(status, 404, "POST {p}: {body}");
    }
    let (status, body) = import(&other, &inst, "x.csv", "phone_number\n5511955550001\n").await;
    assert_eq!(status, 404, "{body}");
    let (_, c) = api(&app, &token, &format!("/api/v1/contacts/{ana}")).await;
    assert_eq!(c["data"]["name"], "Ana Maria Souza");

    // Delete: back to the list; the API no longer has it.
    let (status, redirect, _) = dash.post(&format!("{path}/delete"), &[]).await;
    assert_eq!(status, 204);
    assert_eq!(redirect.as_deref(), Some("/dashboard/contacts"));
    let (status, _) = api(&app, &token, &format!("/api/v1/contacts/{ana}")).await;
    assert_eq!(status, 404);
    let (status, _) = dash.get(&path).await;
    assert_eq!(status, 404);
}
