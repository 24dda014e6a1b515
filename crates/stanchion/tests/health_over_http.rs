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

#[tokio::test]
async fn with_config_fails_readiness_while_a_critical_tool_is_disabled_and_warns_on_a_failed_refresh()
 {
    use stanchion::config::{ConfigLoader, ConfigService};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tools.toml"),
        "[[tools]]\nslug = \"auth\"\nrequired = [\"AUTH_SECRET\"]\nsecrets = [\"AUTH_SECRET\"]\ncritical = true\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "AUTH_SECRET=s3cret-value-for-the-test\n",
    )
    .unwrap();
    let config = ConfigService::start(
        ConfigLoader::from_dir(dir.path()).with_process_env([("APP_ENV", "development")]),
    )
    .unwrap();
    config.snapshot().require_critical().unwrap();
    let addr = serve(Health::new().with_config(config.clone()).routes()).await;
    let ready = http_get(addr, "/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["checks"]["tools"][0]["status"], "pass");

    // The secret goes away: a refresh disables the critical tool, readiness fails naming it.
    std::fs::write(dir.path().join(".env"), "# rotated out\n").unwrap();
    config.refresh().unwrap();
    let error = config.snapshot().require_critical().unwrap_err();
    assert!(
        error.to_string().contains("critical tool `auth`"),
        "{error}"
    );
    let ready = http_get(addr, "/readyz").await;
    assert_eq!(ready.status, 503);
    let tools = &ready.json()["checks"]["tools"][0];
    assert_eq!(tools["status"], "fail");
    assert_eq!(
        tools["output"],
        "critical tools disabled: auth (MISSING AUTH_SECRET)"
    );

    // A refresh that fails keeps the last snapshot and turns `config` to warn.
    std::fs::write(dir.path().join(".env"), "BROKEN LINE WITHOUT EQUALS\n").unwrap();
    config.refresh().unwrap_err();
    let ready = http_get(addr, "/readyz").await;
    let check = &ready.json()["checks"]["config"][0];
    assert_eq!(check["status"], "warn");
    assert!(
        check["output"]
            .as_str()
            .unwrap()
            .contains("last good snapshot"),
        "{check}"
    );
}
