//! The Grafana dashboard and the Prometheus rules query only metrics that gatehouse exports.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::spawn_app_with;

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The metric names in a PromQL expression: identifiers of gatehouse's or the process's
/// metrics (recording rule names such as `job:gatehouse_…` contain a colon and are skipped).
fn metric_names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| t.starts_with("gatehouse_") || t.starts_with("process_"))
        .map(str::to_string)
        .collect()
}

fn exprs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(e)) = map.get("expr") {
                out.push(e.clone());
            }
            map.values().for_each(|v| exprs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

/// The names declared in the exposition (`# TYPE name kind`), with a histogram's series names.
fn exported(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (name, kind) = (parts.next().unwrap(), parts.next().unwrap_or(""));
            names.insert(name.to_string());
            if kind == "histogram" || kind == "summary" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        }
    }
    names
}

#[actix_web::test]
async fn every_metric_the_dashboard_and_the_rules_query_is_exported() {
    let app = spawn_app_with(&[("METRICS_ADDR", "127.0.0.1:0")]).await;
    let session = app.register_user().await;
    app.login(&json!({"username": session.username, "password": crate::helpers::PASSWORD})).await;
    app.me(&session.access_token).await;
    let text = app.scrape_after_first_tick().await;
    let exported = exported(&text);

    let dashboard: Value = serde_json::from_str(&repo_file("extras/grafana/dashboards/gatehouse.json")).expect("the dashboard is JSON");
    let mut queries = Vec::new();
    exprs(&dashboard, &mut queries);
    assert!(queries.len() >= 10, "the dashboard has its queries: {queries:?}");
    let rules = repo_file("extras/prometheus/rules.yml");
    let rule_exprs: Vec<String> = rules.lines().map(str::to_string).collect();

    let mut wanted = BTreeSet::new();
    for expr in queries.iter().chain(&rule_exprs) {
        wanted.extend(metric_names(expr));
    }
    for name in [
        "gatehouse_refreshes_total",
        "gatehouse_hasher_busy_threads",
        "gatehouse_refresh_tokens_live",
        "gatehouse_http_request_duration_seconds_bucket",
    ] {
        assert!(wanted.contains(name), "{name} is queried");
    }
    let missing: Vec<_> = wanted.difference(&exported).collect();
    assert!(missing.is_empty(), "queried but not exported: {missing:?}\n{text}");
}
