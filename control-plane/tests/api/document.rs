//! Answers checked against the served OpenAPI document: the schema it gives for a status of
//! an operation, followed through a shared response's `$ref`.

use serde_json::{Value, json};

/// Errors of `body` against the schema the served document gives for `status` of `method
/// template` (following a shared response's `$ref`).
pub fn mismatches(
    doc: &Value,
    method: &str,
    template: &str,
    status: u16,
    body: &Value,
) -> Vec<String> {
    let op = &doc["paths"][template][method];
    assert!(op.is_object(), "{method} {template} is not documented");
    let response = &op["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {template}: {status} is not documented"
    );
    let base = match response["$ref"].as_str() {
        Some(r) => r.trim_start_matches('#').to_owned(),
        None => format!(
            "/paths/{}/{method}/responses/{status}",
            template.replace('~', "~0").replace('/', "~1")
        ),
    };
    let pointer = format!("{base}/content/application~1json/schema");
    let mut root = doc.clone();
    root["$ref"] = json!(format!(
        "#{}",
        pointer.replace('{', "%7B").replace('}', "%7D")
    ));
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("{method} {template} {status}: schema: {e}"));
    validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// Asserts that `body`, answered with `status` to `method template`, matches the document
/// under both URL forms (`template` and `/api/v1` + `template`).
pub fn assert_documented(doc: &Value, method: &str, template: &str, status: u16, body: &Value) {
    for prefix in ["", "/api/v1"] {
        let errors = mismatches(doc, method, &format!("{prefix}{template}"), status, body);
        assert!(
            errors.is_empty(),
            "{method} {template} {status}: {errors:#?}\n{body:#}"
        );
    }
}
