//! One field of an AI Function's body at a time: strings, choices, headers and parameters.
//! Each failure is added to the [`FieldErrors`] under the field's name, so that one answer
//! names every field to fix; the bodies themselves are in `body`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{
    FieldErrors, MAX_HEADERS, MAX_PARAMETERS, ParamType, Parameter, check_header,
    valid_parameter_name,
};

/// A string field: `Ok(None)` when absent (or null, where `nullable`).
pub(super) fn text(
    errors: &mut FieldErrors,
    field: &str,
    v: Option<Value>,
    max: usize,
    required: bool,
) -> Option<String> {
    match v {
        None if required => {
            errors.add(field, format!("The {field} field is required."));
            None
        }
        None => None,
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                errors.add(field, format!("The {field} field is required."));
                None
            } else if s.chars().count() > max {
                errors.add(
                    field,
                    format!("The {field} may not be greater than {max} characters."),
                );
                None
            } else {
                Some(s.to_owned())
            }
        }
        Some(Value::Null) => {
            errors.add(field, format!("The {field} field is required."));
            None
        }
        Some(_) => {
            errors.add(field, format!("The {field} must be a string."));
            None
        }
    }
}

pub(super) fn one_of<T: Copy>(
    errors: &mut FieldErrors,
    field: &str,
    v: Option<Value>,
    all: &[T],
    as_str: fn(T) -> &'static str,
    required: bool,
) -> Option<T> {
    let names = || {
        all.iter()
            .map(|t| as_str(*t))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match v {
        None if required => {
            errors.add(field, format!("The {field} field is required."));
            None
        }
        None => None,
        Some(Value::String(s)) => {
            let s = s.trim();
            let found = all
                .iter()
                .copied()
                .find(|t| as_str(*t).eq_ignore_ascii_case(s));
            if found.is_none() {
                errors.add(field, format!("The {field} must be one of: {}.", names()));
            }
            found
        }
        Some(_) => {
            errors.add(field, format!("The {field} must be one of: {}.", names()));
            None
        }
    }
}

/// A `{"name": "value"}` object of headers (`null`: none).
pub(super) fn parse_headers(
    errors: &mut FieldErrors,
    field: &str,
    v: Value,
) -> Option<BTreeMap<String, String>> {
    let map = match v {
        Value::Null => return Some(BTreeMap::new()),
        Value::Object(map) => map,
        _ => {
            errors.add(
                field,
                format!("The {field} must be an object of header names to values."),
            );
            return None;
        }
    };
    if map.len() > MAX_HEADERS {
        errors.add(
            field,
            format!("The {field} may not have more than {MAX_HEADERS} headers."),
        );
        return None;
    }
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (name, value) in map {
        let f = format!("{field}.{name}");
        let Value::String(value) = value else {
            errors.add(&f, format!("The {f} must be a string."));
            ok = false;
            continue;
        };
        if let Err(e) = check_header(&name, &value) {
            errors.add(&f, e);
            ok = false;
            continue;
        }
        if out.keys().any(|k: &String| k.eq_ignore_ascii_case(&name)) {
            errors.add(&f, format!("The {f} header is given twice."));
            ok = false;
            continue;
        }
        out.insert(name, value);
    }
    ok.then_some(out)
}

fn parse_parameter(errors: &mut FieldErrors, at: &str, v: Value) -> Option<Parameter> {
    let Value::Object(mut m) = v else {
        errors.add(at, format!("The {at} must be an object."));
        return None;
    };
    let mut fresh = FieldErrors::default();
    let f = |k: &str| format!("{at}.{k}");
    for key in m.keys() {
        if ![
            "name",
            "display_name",
            "description",
            "type",
            "is_required",
            "collect_from_user",
            "enum",
        ]
        .contains(&key.as_str())
        {
            fresh.add(
                &f(key),
                format!("The {} field is not accepted here.", f(key)),
            );
        }
    }
    let name = text(&mut fresh, &f("name"), m.remove("name"), 64, true);
    if let Some(n) = &name
        && !valid_parameter_name(n)
    {
        fresh.add(
            &f("name"),
            format!(
                "The {} may only contain letters, digits and underscores, and must start with a letter.",
                f("name")
            ),
        );
    }
    let display_name = match m.remove("display_name") {
        None | Some(Value::Null) => name.clone(),
        Some(Value::String(s)) if s.trim().is_empty() => name.clone(),
        v => text(&mut fresh, &f("display_name"), v, 255, true),
    };
    let description = match m.remove("description") {
        None | Some(Value::Null) => Some(String::new()),
        Some(Value::String(s)) if s.trim().is_empty() => Some(String::new()),
        v => text(&mut fresh, &f("description"), v, 1000, true),
    };
    let param_type = match m.remove("type") {
        None | Some(Value::Null) => Some(ParamType::String),
        v => one_of(
            &mut fresh,
            &f("type"),
            v,
            &ParamType::ALL,
            ParamType::as_str,
            true,
        ),
    };
    let mut flag = |key: &str| match m.remove(key) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => {
            fresh.add(&f(key), format!("The {} must be true or false.", f(key)));
            false
        }
    };
    let is_required = flag("is_required");
    let collect_from_user = flag("collect_from_user");
    let enum_values = match m.remove("enum") {
        None | Some(Value::Null) => None,
        Some(Value::Array(values)) => {
            let field = f("enum");
            if values.is_empty() || values.len() > 100 {
                fresh.add(
                    &field,
                    format!("The {field} must list between 1 and 100 values."),
                );
            } else if let Some(t) = param_type
                && let Some(i) = values.iter().position(|v| {
                    !t.accepts(v) || matches!(t, ParamType::Array | ParamType::Object)
                })
            {
                fresh.add(
                    &format!("{field}.{i}"),
                    format!(
                        "The {field}.{i} must be a value of the parameter's type ({}).",
                        t.as_str()
                    ),
                );
            }
            Some(values)
        }
        Some(_) => {
            let field = f("enum");
            fresh.add(&field, format!("The {field} must be an array of values."));
            None
        }
    };
    if !fresh.is_empty() {
        errors.merge(fresh);
        return None;
    }
    Some(Parameter {
        name: name?,
        display_name: display_name?,
        description: description?,
        param_type: param_type?,
        is_required,
        collect_from_user,
        enum_values,
    })
}

/// The `parameters` array.
pub(super) fn parse_parameters(errors: &mut FieldErrors, v: Value) -> Option<Vec<Parameter>> {
    let items = match v {
        Value::Null => return Some(Vec::new()),
        Value::Array(items) => items,
        _ => {
            errors.add("parameters", "The parameters must be an array.");
            return None;
        }
    };
    if items.len() > MAX_PARAMETERS {
        errors.add(
            "parameters",
            format!("The parameters may not have more than {MAX_PARAMETERS} items."),
        );
        return None;
    }
    let mut out: Vec<Parameter> = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.into_iter().enumerate() {
        let at = format!("parameters.{i}");
        match parse_parameter(errors, &at, item) {
            Some(p) if out.iter().any(|o| o.name == p.name) => {
                errors.add(
                    &format!("{at}.name"),
                    format!("The {at}.name is already used by another parameter."),
                );
                ok = false;
            }
            Some(p) => out.push(p),
            None => ok = false,
        }
    }
    ok.then_some(out)
}
