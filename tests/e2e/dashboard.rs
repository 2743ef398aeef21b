//! The shipped Grafana dashboard and Prometheus configuration (`deploy/`) match what a real
//! server exports: every metric a panel queries is a family `/metrics` has, and every label
//! a panel groups by is on that family's series.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::fixtures::*;
use crate::support::*;

fn deploy(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every query of every panel.
fn queries(dashboard: &Value) -> Vec<String> {
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(!panels.is_empty());
    panels
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().expect("expr").to_string())
        .collect()
}

/// The `lanyard_*` names in a query.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("lanyard_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        names.insert(name);
    }
    names
}

/// The labels a query groups by (`by (a, b)`), but for the histogram's `le` and the
/// `instance` Prometheus adds.
fn grouped_labels(expr: &str) -> BTreeSet<String> {
    let mut labels = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("by (") {
        let inside = &rest[at + 4..];
        let end = inside.find(')').expect("closing paren");
        labels.extend(
            inside[..end]
                .split(',')
                .map(|l| l.trim().to_string())
                .filter(|l| l != "le" && l != "instance"),
        );
        rest = &inside[end..];
    }
    labels
}

#[tokio::test]
async fn every_metric_the_dashboard_queries_is_exported() {
    let server = TestServer::spawn().await;
    // Some traffic, so that the labelled families have series to read labels from.
    server.add_user(EMAIL);
    let connected = server.connect(EMAIL, None).await;
    let (status, body, _) = refresh(&server, &connected.client_id, connected.refresh_token()).await;
    assert_eq!(status, 200, "{body}");
    let metrics = server.metrics().await;
    let families: BTreeSet<(String, String)> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(name, kind)| (name.to_string(), kind.to_string()))
        .collect();
    let family_of = |name: &str| -> Option<String> {
        families.iter().find_map(|(family, kind)| {
            let matches = name == family
                || (kind == "histogram"
                    && ["_bucket", "_sum", "_count"]
                        .iter()
                        .any(|s| name.strip_suffix(s) == Some(family.as_str())));
            matches.then(|| family.clone())
        })
    };

    let dashboard: Value = serde_json::from_str(&deploy("grafana/lanyard.json")).expect("JSON");
    assert_eq!(dashboard["uid"], "lanyard");
    let queries = queries(&dashboard);
    let mut queried = BTreeSet::new();
    for expr in &queries {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "a query of no Lanyard metric: {expr}");
        for name in &names {
            let family = family_of(name)
                .unwrap_or_else(|| panic!("{name} (in {expr}) is not exported:\n{metrics}"));
            queried.insert(family);
            // Each label grouped by is on the series (when the family has any yet).
            let series: Vec<&str> = metrics
                .lines()
                .filter(|l| l.starts_with(name.as_str()) && l[name.len()..].starts_with('{'))
                .collect();
            for label in grouped_labels(expr) {
                if !series.is_empty() {
                    assert!(
                        series.iter().any(|s| s.contains(&format!("{label}=\""))),
                        "{expr} groups by {label}, which {name} does not have:\n{}",
                        series.join("\n")
                    );
                }
            }
        }
    }
    // The dashboard covers what operators watch: nothing exported is left off it.
    let exported: BTreeSet<String> = families.into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        queried, exported,
        "exported but on no panel (or the other way round)"
    );

    let prometheus = deploy("prometheus.yml");
    assert!(
        prometheus.contains("metrics_path: /metrics"),
        "{prometheus}"
    );
    assert!(prometheus.contains("- 127.0.0.1:4001"), "{prometheus}");
}
