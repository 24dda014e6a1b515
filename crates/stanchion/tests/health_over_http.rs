//! `/livez`, `/readyz` and `/health` over real HTTP.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use common::{get as http_get, serve};
use stanchion::{CheckResult, Health, Stack};

#[tokio::test]
async fn readiness_follows_its_checks_and_liveness_checks_nothing() {
    let agent_up = Arc::new(AtomicBool::new(true));
    let probe = Arc::clone(&agent_up);
    let health = Health::new()
        .with_check("config", || async { CheckResult::pass() })
        .with_check("tools", || async { CheckResult::warn("slack disabled") })
        .with_check("agent", move || {
            let up = probe.load(Ordering::SeqCst);
            async move {
                if up {
                    CheckResult::pass()
                } else {
                    CheckResult::fail("agent unreachable")
                }
            }
        });
    let addr = serve(health.routes().layer(Stack::new())).await;

    let ready = http_get(addr, "/readyz").await;
    assert_eq!(ready.status, 200, "warn is still ready");
    assert_eq!(ready.header("content-type"), "application/health+json");
    assert_eq!(ready.header("cache-control"), "no-store");
    assert_eq!(
        ready.json(),
        serde_json::json!({
            "status": "warn",
            "checks": {
                "agent": [{"status": "pass"}],
                "config": [{"status": "pass"}],
                "tools": [{"status": "warn", "output": "slack disabled"}],
            }
        })
    );

    agent_up.store(false, Ordering::SeqCst);
    for path in ["/readyz", "/health"] {
        let reply = http_get(addr, path).await;
        assert_eq!(reply.status, 503, "{path}");
        assert_eq!(reply.header("content-type"), "application/health+json");
        let body = reply.json();
        assert_eq!(body["status"], "fail");
        assert_eq!(body["checks"]["agent"][0]["status"], "fail");
        assert_eq!(body["checks"]["agent"][0]["output"], "agent unreachable");
        // A 503 readiness report is the report, not an error envelope.
        assert!(body.get("error").is_none(), "{body}");
    }

    let live = http_get(addr, "/livez").await;
    assert_eq!(live.status, 200);
    assert_eq!(live.header("content-type"), "application/health+json");
    assert_eq!(
        live.json(),
        serde_json::json!({"status": "pass", "checks": {}})
    );
}

#[tokio::test]
async fn a_check_slower_than_its_deadline_fails() {
    let health = Health::new()
        .with_check_timeout(Duration::from_millis(50))
        .with_check("database", || async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            CheckResult::pass()
        });
    let addr = serve(health.routes()).await;
    let reply = http_get(addr, "/readyz").await;
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply.json()["checks"]["database"][0],
        serde_json::json!({"status": "fail", "output": "timed out"})
    );
}
