//! The Thunder Client collection in `extras/thunder-client`: it covers every operation of both
//! documents (the public port's and the admin API's), and its importable export matches the
//! workspace copy the CLI runs.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{body, path_matches, spawn_app};

fn load(path: &str) -> Value {
    let full = format!("{}/extras/thunder-client/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))).unwrap()
}

#[actix_web::test]
async fn the_collection_covers_every_documented_operation_with_assertions() {
    let app = spawn_app().await;
    let doc = body(app.get("/openapi.json").await).await;
    let collection = load("thunder-tests/collections/tc_col_gatehouse.json");
    let requests = collection["requests"].as_array().unwrap();
    let covered: BTreeSet<(String, String)> = requests
        .iter()
        .map(|r| (r["method"].as_str().unwrap().to_lowercase(), r["url"].as_str().unwrap().trim_start_matches("{{baseUrl}}").to_string()))
        .collect();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            assert!(covered.contains(&(method.clone(), path.clone())), "the collection has no request for {method} {path}");
        }
    }
    // The admin API's document, against the requests to `adminUrl` (their ids are variables).
    let admin: Vec<(String, &str)> = requests
        .iter()
        .filter_map(|r| {
            let url = r["url"].as_str().unwrap().strip_prefix("{{adminUrl}}")?;
            Some((r["method"].as_str().unwrap().to_lowercase(), url.split('?').next().unwrap()))
        })
        .collect();
    for (template, ops) in gatehouse::routes::openapi::admin_document()["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let instance = |(m, url): &(String, &str)| m == method && path_matches(template, url);
            assert!(admin.iter().any(instance), "the collection has no request for {method} {template}");
        }
    }
    for r in requests {
        let tests = r["tests"].as_array().unwrap();
        assert!(tests.iter().any(|t| t["type"] == "res-code"), "{} asserts its status", r["name"]);
        assert_eq!(r["colId"], collection["_id"], "{}", r["name"]);
    }
    let names: Vec<&str> = requests.iter().map(|r| r["name"].as_str().unwrap()).collect();
    for demo in ["register", "login", "me", "refreshAccessToken"] {
        assert!(names.contains(&demo), "the original demo's {demo} request is kept");
    }
}

#[test]
fn the_importable_export_matches_the_workspace_collection() {
    let workspace = load("thunder-tests/collections/tc_col_gatehouse.json");
    let export = load("thunder-collection_gatehouse.json");
    assert_eq!(export["client"], "Thunder Client");
    assert_eq!(export["collectionName"], workspace["colName"]);
    assert_eq!(export["requests"], workspace["requests"], "regenerate thunder-collection_gatehouse.json from the workspace copy");
    assert_eq!(export["folders"], workspace["folders"]);
    let env = load("thunder-tests/environments/tc_env_gatehouse.json");
    assert_eq!(load("thunder-environment_gatehouse.json")["data"], env["data"]);
}
