//! `GET /metrics`: the Prometheus text exposition. Served only on the metrics listener
//! (`METRICS_ADDR`), never on the public port.

use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::PrometheusHandle;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::route(actix_web::http::Method::GET, "/metrics", metrics));
}

pub async fn metrics(handle: web::Data<PrometheusHandle>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(crate::metrics::exporter::render(&handle))
}
