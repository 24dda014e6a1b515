//! stanchion-config: a full load (100 tools over 1,000 variables from every source), the
//! dotenv parser against dotenvy on the same 10,000-line file, and snapshot reads while a
//! refresh loop runs, against an `RwLock<Arc<_>>`.
//!
//! Run with `cargo bench -p stanchion-benches --bench config`.

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write as _,
    hint::black_box,
    path::Path,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use criterion::{Criterion, criterion_group, criterion_main};
use stanchion_config::{
    ConfigLoader, ConfigService, Registry, Snapshot,
    dotenv::{self, NoVars},
};

const TOOLS: usize = 100;
const VARS_PER_TOOL: usize = 10;

fn var(tool: usize, index: usize) -> String {
    format!("TOOL{tool:03}_VAR{index}")
}

/// 100 tools × 10 variables: 6 required (2 secret), 4 optional (2 with defaults, 1 validated).
fn registry_toml() -> String {
    let mut toml = String::new();
    for tool in 0..TOOLS {
        let required: Vec<String> = (0..6).map(|i| format!("{:?}", var(tool, i))).collect();
        let optional: Vec<String> = (6..10).map(|i| format!("{:?}", var(tool, i))).collect();
        let _ = write!(
            toml,
            "[[tools]]\nslug = \"tool-{tool}\"\nrequired = [{}]\noptional = [{}]\n\
             secrets = [{:?}, {:?}]\ndefaults = {{ {} = \"5\", {} = \"x\" }}\n\
             validate = {{ {} = {{ kind = \"integer\", min = 1, max = 100 }} }}\n\n",
            required.join(", "),
            optional.join(", "),
            var(tool, 0),
            var(tool, 1),
            var(tool, 6),
            var(tool, 7),
            var(tool, 6),
        );
    }
    toml
}

/// Spread the 1,000 variables over every source; every 10th tool lacks `VAR5`, so 90 tools
/// are enabled. Without `secret_files`, the `_FILE` and secrets-directory share goes to the
/// process environment instead.
fn write_sources(dir: &Path, secret_files: bool) -> BTreeMap<String, String> {
    let mut files: [String; 4] = Default::default();
    let mut process_env = BTreeMap::new();
    std::fs::create_dir_all(dir.join("secrets")).expect("secrets dir");
    std::fs::create_dir_all(dir.join("mounted")).expect("mounted dir");
    for tool in 0..TOOLS {
        for index in 0..VARS_PER_TOOL {
            let name = var(tool, index);
            // Every 10th tool lacks a required variable; every other tool takes VAR7's default.
            if (index == 5 && tool % 10 == 0) || (index == 7 && tool % 2 == 1) {
                continue;
            }
            // VAR6 is validated as an integer in 1..=100.
            let value = if index == 6 {
                format!("{}", tool % 100 + 1)
            } else {
                format!("value-{tool}-{index}-abcdefgh")
            };
            match (tool + index) % 8 {
                0..=2 => {
                    let _ = writeln!(files[0], "{name}={value}");
                }
                3 => {
                    let _ = writeln!(files[1], "export {name}=\"{value}\"");
                }
                4 => {
                    let _ = writeln!(files[2], "{name}='{value}'");
                }
                5 => {
                    let _ = writeln!(files[3], "{name}={value} # local");
                }
                6 if index < 6 && secret_files => {
                    let path = dir.join("mounted").join(&name);
                    std::fs::write(&path, format!("{value}\n")).expect("mounted file");
                    process_env.insert(format!("{name}_FILE"), path.display().to_string());
                }
                7 if index < 6 && secret_files => {
                    std::fs::write(dir.join("secrets").join(&name), &value).expect("secret");
                }
                _ => {
                    process_env.insert(name, value);
                }
            }
        }
    }
    // Lower files also set many of the same names, so override chains are non-trivial.
    let mut overridden = String::new();
    for tool in 0..TOOLS {
        let _ = writeln!(overridden, "{}=base", var(tool, 8));
    }
    files[0].insert_str(0, &overridden);
    for (name, text) in [
        ".env",
        ".env.production",
        ".env.local",
        ".env.production.local",
    ]
    .iter()
    .zip(&files)
    {
        std::fs::write(dir.join(name), text).expect("dotenv file");
    }
    process_env.insert("APP_ENV".to_owned(), "production".to_owned());
    for noise in 0..100 {
        process_env.insert(format!("UNRELATED_{noise}"), "noise".to_owned());
    }
    process_env
}

/// What a service would write without the library: read the four files with dotenvy, overlay
/// the environment, look every variable up (no provenance, no validation, no secret files).
fn baseline_resolve(dir: &Path, env: &BTreeMap<String, String>) -> usize {
    let mut merged: HashMap<String, String> = HashMap::new();
    for name in [
        ".env",
        ".env.production",
        ".env.local",
        ".env.production.local",
    ] {
        if let Ok(iter) = dotenvy::from_path_iter(dir.join(name)) {
            for item in iter {
                let (key, value) = item.expect("valid line");
                merged.insert(key, value);
            }
        }
    }
    merged.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
    (0..TOOLS)
        .filter(|tool| {
            (0..6).all(|index| {
                merged
                    .get(&var(*tool, index))
                    .is_some_and(|v| !v.is_empty())
            })
        })
        .count()
}

fn bench_resolve(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let env = write_sources(dir.path(), true);
    let registry = Registry::from_toml_str(&registry_toml()).expect("registry");
    assert_eq!(registry.variables().len(), TOOLS * VARS_PER_TOOL);
    let loader = ConfigLoader::new(registry)
        .with_dir(dir.path())
        .with_secrets_dir(dir.path().join("secrets"))
        .with_process_env(env.clone());
    let snapshot = loader.load().expect("load");
    let enabled = snapshot.tools().iter().filter(|t| t.is_enabled()).count();
    assert_eq!(
        enabled,
        90,
        "{:?}",
        snapshot.tool("tool-0").map(|t| t.reasons().to_vec())
    );
    let sources: std::collections::BTreeSet<_> = snapshot
        .variables()
        .filter_map(|v| v.origin().map(|o| o.kind()))
        .collect();
    assert_eq!(
        sources.len(),
        5,
        "every kind of source is used: {sources:?}"
    );
    // The baseline cannot see `_FILE` or the secrets directory, so it enables fewer tools.
    assert!(baseline_resolve(dir.path(), &env) < 90);

    // The same configuration without secret files: dotenv files and the environment only,
    // which the baseline can read in full.
    let plain_dir = tempfile::tempdir().expect("temp dir");
    let plain_env = write_sources(plain_dir.path(), false);
    let plain_loader =
        ConfigLoader::new(Registry::from_toml_str(&registry_toml()).expect("registry"))
            .with_dir(plain_dir.path())
            .with_process_env(plain_env.clone());
    let plain = plain_loader.load().expect("load");
    assert_eq!(plain.tools().iter().filter(|t| t.is_enabled()).count(), 90);
    assert_eq!(baseline_resolve(plain_dir.path(), &plain_env), 90);

    let mut group = c.benchmark_group("config/resolve_100_tools_1000_vars");
    group.bench_function("stanchion_config_load", |b| {
        b.iter(|| black_box(loader.load().expect("load")));
    });
    group.bench_function("stanchion_config_load_no_secret_files", |b| {
        b.iter(|| black_box(plain_loader.load().expect("load")));
    });
    group.bench_function("baseline_dotenvy_env_lookup_no_secret_files", |b| {
        b.iter(|| black_box(baseline_resolve(plain_dir.path(), &plain_env)));
    });
    group.finish();
}

/// 10,000 lines both parsers read identically (no `$`, no inner blanks unquoted, no `\t`).
fn ten_thousand_lines() -> String {
    let mut text = String::with_capacity(600_000);
    for line in 0..10_000 {
        let _ = match line % 6 {
            0 => writeln!(text, "# comment line {line}"),
            1 => writeln!(text, "KEY_{line}=plain-value-{line}-abcdefghijklmnop"),
            2 => writeln!(
                text,
                "export KEY_{line}=\"quoted value {line} with \\\"escapes\\\"\""
            ),
            3 => writeln!(text, "KEY_{line}='single quoted {line} value'"),
            4 => writeln!(text, "KEY_{line}=value-{line} # trailing comment"),
            _ => writeln!(text, "KEY_{line}=\"multi\nline {line}\""),
        };
    }
    text
}

fn bench_parse(c: &mut Criterion) {
    let text = ten_thousand_lines();
    let ours: BTreeMap<String, String> = dotenv::parse(&text, &NoVars, &NoVars)
        .expect("ours parses")
        .to_map();
    let theirs: BTreeMap<String, String> = dotenvy::from_read_iter(text.as_bytes())
        .collect::<Result<_, _>>()
        .expect("dotenvy parses");
    assert_eq!(ours.len(), 10_000 - 10_000 / 6 - 1);
    assert_eq!(ours, theirs, "both parsers agree on every value");

    let mut group = c.benchmark_group("config/parse_10k_line_dotenv");
    group.bench_function("stanchion_config", |b| {
        b.iter(|| black_box(dotenv::parse(black_box(&text), &NoVars, &NoVars).expect("parse")));
    });
    group.bench_function("dotenvy_0_15", |b| {
        b.iter(|| {
            black_box(
                dotenvy::from_read_iter(black_box(text.as_bytes()))
                    .collect::<Result<Vec<_>, _>>()
                    .expect("parse"),
            )
        });
    });
    group.finish();
}

fn small_loader(dir: &Path) -> ConfigLoader {
    let registry = Registry::from_toml_str(&registry_toml()).expect("registry");
    ConfigLoader::new(registry)
        .with_dir(dir)
        .with_secrets_dir(dir.join("secrets"))
        .with_process_env(write_sources(dir, true))
}

fn bench_snapshot_reads(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let service = Arc::new(ConfigService::start(small_loader(dir.path())).expect("start"));
    let locked: Arc<RwLock<Arc<Snapshot>>> = Arc::new(RwLock::new(service.snapshot()));
    assert!(service.snapshot().is_enabled("tool-42"));
    assert!(service.current().is_enabled("tool-42"));
    assert!(!service.snapshot().is_enabled("tool-40"));

    // A writer refreshing continuously, publishing to both the service and the RwLock.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (service, locked, stop) =
            (Arc::clone(&service), Arc::clone(&locked), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut refreshes = 0_u64;
            loop {
                service.refresh().expect("refresh");
                *locked.write().expect("lock") = service.snapshot();
                refreshes += 1;
                if stop.load(Ordering::Relaxed) {
                    break refreshes;
                }
            }
        })
    };

    let mut group = c.benchmark_group("config/snapshot_read_during_refresh");
    group.bench_function("config_service_current", |b| {
        b.iter(|| black_box(service.current().is_enabled(black_box("tool-42"))));
    });
    group.bench_function("config_service_snapshot_arc", |b| {
        b.iter(|| black_box(service.snapshot().is_enabled(black_box("tool-42"))));
    });
    group.bench_function("rwlock_arc_snapshot", |b| {
        b.iter(|| {
            let snapshot = Arc::clone(&locked.read().expect("lock"));
            black_box(snapshot.is_enabled(black_box("tool-42")))
        });
    });
    group.finish();
    stop.store(true, Ordering::Relaxed);
    assert!(
        writer.join().expect("writer") > 0,
        "refreshes ran during the reads"
    );
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_resolve, bench_parse, bench_snapshot_reads
}
criterion_main!(benches);
