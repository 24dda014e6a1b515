//! The gate's public behaviour: what runs, what is counted and what is logged in each mode,
//! with a mode that changes between decisions.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use metrics_util::{
    CompositeKey, MetricKind,
    debugging::{DebugValue, DebuggingRecorder},
};
use stanchion_rollout::{Gate, Outcome, ROLLOUT_TARGET, RolloutMode, Verdict, metric_names};
use stanchion_test_support::CapturedLogs;

fn decisions(
    snapshot: Vec<(
        CompositeKey,
        Option<metrics::Unit>,
        Option<metrics::SharedString>,
        DebugValue,
    )>,
) -> Vec<(String, String, u64)> {
    let mut found: Vec<_> = snapshot
        .into_iter()
        .filter(|(key, ..)| {
            key.kind() == MetricKind::Counter && key.key().name() == metric_names::DECISIONS_TOTAL
        })
        .map(|(key, _, _, value)| {
            let label = |name: &str| {
                key.key()
                    .labels()
                    .find(|label| label.key() == name)
                    .map(|label| label.value().to_owned())
                    .unwrap_or_default()
            };
            let DebugValue::Counter(count) = value else {
                panic!("a counter")
            };
            (label("flag"), label("outcome"), count)
        })
        .collect();
    found.sort();
    found
}

#[test]
fn each_mode_runs_counts_and_logs_as_documented() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let logs = CapturedLogs::new();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(logs.clone())
        .finish();
    let mode = Arc::new(AtomicUsize::new(0));
    let source = Arc::clone(&mode);
    let gate = Gate::new("AUTH_MODE", move || {
        RolloutMode::ALL[source.load(Ordering::Relaxed)]
    });
    let runs = AtomicUsize::new(0);
    let check = |pass: bool| {
        runs.fetch_add(1, Ordering::Relaxed);
        if pass {
            Ok(7)
        } else {
            Err("AUTH_EXPIRED_TOKEN")
        }
    };

    metrics::with_local_recorder(&recorder, || {
        tracing::subscriber::with_default(subscriber, || {
            // off: the check does not run and nothing is counted.
            assert!(matches!(gate.check(|| check(false)), Verdict::Off));
            assert_eq!(runs.load(Ordering::Relaxed), 0);

            mode.store(1, Ordering::Relaxed);
            assert!(matches!(gate.check(|| check(true)), Verdict::Shadow(Ok(7))));
            assert!(matches!(
                gate.check(|| check(false)),
                Verdict::Shadow(Err("AUTH_EXPIRED_TOKEN"))
            ));

            mode.store(2, Ordering::Relaxed);
            assert!(matches!(
                gate.check(|| check(true)),
                Verdict::Enforced(Ok(7))
            ));
            let verdict = gate.check(|| check(false));
            assert_eq!(verdict.mode(), RolloutMode::Enforced);
            assert!(matches!(verdict, Verdict::Enforced(Err(_))));
            assert_eq!(gate.count(RolloutMode::Enforced, true), Some(Outcome::Deny));
            assert_eq!(gate.count(RolloutMode::Off, true), None);
        });
    });
    assert_eq!(runs.load(Ordering::Relaxed), 4);
    assert_eq!(
        decisions(snapshotter.snapshot().into_vec()),
        [
            ("AUTH_MODE".into(), "allow".into(), 1),
            ("AUTH_MODE".into(), "deny".into(), 2),
            ("AUTH_MODE".into(), "would_allow".into(), 1),
            ("AUTH_MODE".into(), "would_deny".into(), 1),
        ]
    );
    // Only the would_deny is an event: a shadow rollout is watched through its denials.
    let events = logs.json_lines();
    let rollout: Vec<_> = events
        .iter()
        .filter(|line| line["target"] == ROLLOUT_TARGET)
        .collect();
    assert_eq!(rollout.len(), 1, "{events:?}");
    let fields = &rollout[0]["fields"];
    assert_eq!(rollout[0]["level"], "WARN");
    assert_eq!(fields["flag"], "AUTH_MODE");
    assert_eq!(fields["mode"], "shadow");
    assert_eq!(fields["outcome"], "would_deny");
    assert_eq!(fields["reason"], "AUTH_EXPIRED_TOKEN");
}

#[test]
fn mode_gauges_form_a_state_set_and_switches_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        metric_names::record_mode("GUARD_MODE", RolloutMode::Shadow);
        metric_names::record_mode("GUARD_MODE", RolloutMode::Enforced);
        metric_names::record_switch(
            "GUARD_MODE".into(),
            RolloutMode::Shadow,
            RolloutMode::Enforced,
        );
    });
    let mut gauges = Vec::new();
    let mut switches = 0;
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        match (key.key().name(), value) {
            (metric_names::MODE, DebugValue::Gauge(value)) => {
                let mode = key
                    .key()
                    .labels()
                    .find(|l| l.key() == "mode")
                    .map(|l| l.value().to_owned());
                gauges.push((mode.unwrap_or_default(), value.into_inner()));
            }
            (metric_names::SWITCHES_TOTAL, DebugValue::Counter(count)) => switches += count,
            _ => {}
        }
    }
    gauges.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        gauges,
        [
            ("enforced".into(), 1.0),
            ("off".into(), 0.0),
            ("shadow".into(), 0.0)
        ]
    );
    assert_eq!(switches, 1);
}
