//! Every source and every precedence rule, on real files in temporary directories.

mod common;

use common::Fixture;
use stanchion_config::{ConfigLoader, LoadError, Origin, Registry, SourceKind};

const ONE_VAR: &str = r#"
[[tools]]
slug = "demo"
optional = ["X"]
defaults = { X = "from-default" }
"#;

fn winner(loader: &ConfigLoader) -> (SourceKind, String) {
    let snapshot = loader.load().expect("load");
    let variable = snapshot.variable("X").expect("X is a registry variable");
    let origin = variable.origin().expect("X is set");
    (
        origin.kind(),
        variable.value().unwrap_or("<secret>").to_owned(),
    )
}

#[test]
fn each_source_overrides_the_one_below() {
    let fx = Fixture::new();
    let env = [("APP_ENV", "production")];
    let loader = |extra: &[(&str, &str)]| {
        let mut vars: Vec<(&str, &str)> = env.to_vec();
        vars.extend_from_slice(extra);
        fx.loader(ONE_VAR, &vars)
            .with_secrets_dir(fx.path("secrets"))
    };
    assert_eq!(
        winner(&loader(&[])),
        (SourceKind::Default, "from-default".into())
    );
    let steps = [
        (".env", "dotenv"),
        (".env.production", "dotenv-env"),
        (".env.local", "dotenv-local"),
        (".env.production.local", "dotenv-env-local"),
    ];
    for (file, value) in steps {
        fx.write(file, &format!("X={value}\n"));
        let snapshot = loader(&[]).load().expect("load");
        let origin = snapshot.variable("X").unwrap().origin().unwrap().clone();
        assert_eq!(
            origin,
            Origin::DotenvFile {
                path: fx.path(file).into(),
                line: 1
            },
            "after {file}"
        );
        assert_eq!(snapshot.value("X"), Some(value));
    }
    assert_eq!(
        winner(&loader(&[("X", "process")])),
        (SourceKind::ProcessEnv, "process".into())
    );

    // `X_FILE` set together with `X` is a conflict (Docker semantics); alone it wins over the
    // dotenv files.
    let file = fx.write("mounted/x", "from-file\n");
    let with_file = [("X_FILE", file.to_str().unwrap())];
    assert_eq!(
        winner(&loader(&with_file)),
        (SourceKind::FileIndirection, "from-file".into())
    );

    fx.write("secrets/X", "from-secrets-dir\n");
    let snapshot = loader(&with_file).load().unwrap();
    let variable = snapshot.variable("X").unwrap();
    assert_eq!(variable.value(), Some("from-secrets-dir"));
    let chain: Vec<SourceKind> = variable.chain().iter().map(|c| c.origin().kind()).collect();
    assert_eq!(
        chain,
        [
            SourceKind::SecretsDir,
            SourceKind::FileIndirection,
            SourceKind::DotenvFile,
            SourceKind::DotenvFile,
            SourceKind::DotenvFile,
            SourceKind::DotenvFile,
            SourceKind::Default,
        ],
        "the override chain lists every loser, highest first"
    );
}

#[test]
fn dotenv_local_is_skipped_in_test() {
    let fx = Fixture::new();
    fx.write(".env", "X=base\n");
    fx.write(".env.local", "X=developer-override\n");
    fx.write(".env.test", "Y=1\n");
    let in_test = fx.loader(ONE_VAR, &[("APP_ENV", "test")]).load().unwrap();
    assert_eq!(in_test.value("X"), Some("base"));
    let files: Vec<String> = in_test
        .dotenv_files()
        .iter()
        .map(|f| f.path().file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, [".env", ".env.test", ".env.test.local"]);
    let in_dev = fx.loader(ONE_VAR, &[]).load().unwrap();
    assert_eq!(in_dev.value("X"), Some("developer-override"));
    assert_eq!(in_dev.env(), "development");
}

#[test]
fn env_name_comes_from_the_flag_then_app_env() {
    let fx = Fixture::new();
    fx.write(".env.staging", "X=staging\n");
    fx.write(".env.qa", "X=qa\n");
    let from_var = fx
        .loader(ONE_VAR, &[("APP_ENV", "staging")])
        .load()
        .unwrap();
    assert_eq!(
        (from_var.env(), from_var.value("X")),
        ("staging", Some("staging"))
    );
    let flag = fx
        .loader(ONE_VAR, &[("APP_ENV", "staging")])
        .with_env_name("qa")
        .load()
        .unwrap();
    assert_eq!((flag.env(), flag.value("X")), ("qa", Some("qa")));
}

#[test]
fn an_env_name_that_is_not_a_file_name_part_is_refused() {
    let fx = Fixture::new();
    for bad in ["../etc", "Prod", "a/b", "local", "x.y"] {
        let error = fx.loader(ONE_VAR, &[("APP_ENV", bad)]).load().unwrap_err();
        assert!(matches!(error, LoadError::Setting { .. }), "{bad}: {error}");
        // `local` is named by the rule itself; the others must not be echoed.
        if bad != "local" {
            assert!(
                !error.to_string().contains(bad),
                "the message does not echo {bad:?}"
            );
        }
    }
}

#[test]
fn the_real_process_environment_is_read_when_none_is_injected() {
    // Cargo sets CARGO_PKG_NAME for test processes; the loader reads it without writing.
    let registry =
        Registry::from_toml_str("[[tools]]\nslug = \"cargo\"\nrequired = [\"CARGO_PKG_NAME\"]\n")
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let before: Vec<_> = std::env::vars_os().collect();
    let snapshot = ConfigLoader::new(registry)
        .with_dir(dir.path())
        .load()
        .unwrap();
    assert_eq!(snapshot.value("CARGO_PKG_NAME"), Some("stanchion-config"));
    assert_eq!(
        snapshot.variable("CARGO_PKG_NAME").unwrap().origin(),
        Some(&Origin::ProcessEnv)
    );
    assert_eq!(
        before,
        std::env::vars_os().collect::<Vec<_>>(),
        "the environment is unchanged"
    );
}

#[test]
fn the_override_chain_names_file_and_line_of_every_loser() {
    let fx = Fixture::new();
    fx.write(".env", "# header\nX=first\nX=second\n");
    fx.write(".env.development", "\n\nX=third\n");
    let snapshot = fx.loader(ONE_VAR, &[("X", "env")]).load().unwrap();
    let chain: Vec<String> = snapshot
        .variable("X")
        .unwrap()
        .chain()
        .iter()
        .map(|c| c.origin().to_string())
        .collect();
    let env = fx.path(".env").display().to_string();
    let dev = fx.path(".env.development").display().to_string();
    assert_eq!(
        chain,
        [
            "process environment".to_owned(),
            format!("{dev} line 3"),
            format!("{env} line 3"),
            format!("{env} line 2"),
            "registry default (tool demo)".to_owned(),
        ]
    );
    let (path, duplicate) = &snapshot.duplicates()[0];
    assert_eq!(
        (
            path,
            duplicate.key.as_str(),
            duplicate.earlier_line,
            duplicate.line
        ),
        (&fx.path(".env"), "X", 2, 3)
    );
}

#[test]
fn file_indirection_trims_trailing_newlines_only() {
    let fx = Fixture::new();
    let file = fx.write("run/x", "  spaced value \r\n\n\n");
    let snapshot = fx
        .loader(ONE_VAR, &[("X_FILE", file.to_str().unwrap())])
        .load()
        .unwrap();
    assert_eq!(snapshot.value("X"), Some("  spaced value "));
    assert_eq!(
        snapshot.variable("X").unwrap().origin(),
        Some(&Origin::FileIndirection {
            variable: "X_FILE".into(),
            path: file
        })
    );
}

#[test]
fn file_indirection_may_be_set_in_a_dotenv_file() {
    let fx = Fixture::new();
    let file = fx.write("run/x", "via-dotenv\n");
    fx.write(".env", &format!("X_FILE={}\n", file.display()));
    let snapshot = fx.loader(ONE_VAR, &[]).load().unwrap();
    assert_eq!(snapshot.value("X"), Some("via-dotenv"));
}

#[test]
fn secrets_dir_files_are_found_by_exact_or_lowercase_name() {
    let fx = Fixture::new();
    let registry = r#"
        [[tools]]
        slug = "t"
        required = ["UPPER", "LOWER"]
    "#;
    fx.write("secrets/UPPER", "u\n");
    fx.write("secrets/lower", "l");
    let snapshot = fx
        .loader(registry, &[])
        .with_secrets_dir(fx.path("secrets"))
        .load()
        .unwrap();
    assert_eq!(
        (snapshot.value("UPPER"), snapshot.value("LOWER")),
        (Some("u"), Some("l"))
    );
    assert!(snapshot.is_enabled("t"));
}

#[test]
fn expansion_reads_lower_files_and_the_process_env_but_not_secret_files() {
    let fx = Fixture::new();
    let registry = r#"
        [[tools]]
        slug = "t"
        optional = ["URL", "FROM_ENV", "FROM_SECRET"]
    "#;
    fx.write(".env", "HOST=db.internal\n");
    fx.write(
        ".env.development",
        "URL=postgres://${HOST}:${PORT:-5432}/app\nFROM_ENV=${USER_NAME}\nFROM_SECRET=${HIDDEN}\n",
    );
    fx.write("secrets/HIDDEN", "never-expanded");
    let snapshot = fx
        .loader(registry, &[("USER_NAME", "ops")])
        .with_secrets_dir(fx.path("secrets"))
        .load()
        .unwrap();
    assert_eq!(
        snapshot.value("URL"),
        Some("postgres://db.internal:5432/app")
    );
    assert_eq!(snapshot.value("FROM_ENV"), Some("ops"));
    assert_eq!(snapshot.value("FROM_SECRET"), Some(""));
}

#[test]
fn a_value_expanded_from_a_secret_is_a_secret() {
    let fx = Fixture::new();
    let registry = r#"
        [[tools]]
        slug = "t"
        required = ["TOKEN"]
        optional = ["HEADER"]
        secrets = ["TOKEN"]
    "#;
    fx.write(".env", "TOKEN=tok-123456\nHEADER=\"Bearer ${TOKEN}\"\n");
    let snapshot = fx.loader(registry, &[]).load().unwrap();
    let header = snapshot.variable("HEADER").unwrap();
    assert!(header.is_secret());
    assert_eq!(header.value(), None);
    assert!(header.fingerprint().is_some());
    assert!(
        !serde_json::to_string(&snapshot)
            .unwrap()
            .contains("tok-123456")
    );
}

#[test]
fn a_malformed_dotenv_file_is_an_error_naming_file_and_line() {
    let fx = Fixture::new();
    fx.write(".env", "OK=1\n\nTOKEN=\"sk-live-do-not-print\n");
    let error = fx.loader(ONE_VAR, &[]).load().unwrap_err();
    let message = error.to_string();
    assert_eq!(error.kind(), "dotenv");
    assert_eq!(error.path(), Some(fx.path(".env").as_path()));
    assert!(message.contains("line 3"), "{message}");
    assert!(!message.contains("sk-live"), "{message}");
}

#[test]
fn an_unreadable_registry_file_is_an_error_naming_the_file() {
    let fx = Fixture::new();
    let error = ConfigLoader::from_registry_file(fx.path("tools.toml"))
        .with_dir(fx.root())
        .load()
        .unwrap_err();
    assert_eq!(error.kind(), "registry");
    assert!(error.to_string().contains("tools.toml"), "{error}");
}

#[test]
fn registry_can_be_built_in_rust() {
    use stanchion_config::{ToolSpec, Validation};
    let registry = Registry::new(vec![
        ToolSpec::new("search")
            .with_name("Web search")
            .with_required(["SEARCH_URL", "SEARCH_KEY"])
            .with_optional(["SEARCH_TIMEOUT"])
            .with_default("SEARCH_TIMEOUT", "10")
            .with_secrets(["SEARCH_KEY"])
            .with_validation("SEARCH_URL", Validation::url_with_schemes(["https"]))
            .with_validation("SEARCH_TIMEOUT", Validation::integer(Some(1), Some(60)))
            .with_environments(["production"])
            .with_critical(true)
            .with_kill_switch("SEARCH_OFF"),
    ])
    .unwrap();
    let snapshot = ConfigLoader::new(registry)
        .with_dir(tempfile::tempdir().unwrap().path())
        .with_env_name("production")
        .with_process_env([
            ("SEARCH_URL", "https://search.example"),
            ("SEARCH_KEY", "k-1"),
        ])
        .load()
        .unwrap();
    let tool = snapshot.tool("search").unwrap();
    assert!(tool.is_enabled(), "{:?}", tool.reasons());
    assert_eq!(tool.name(), "Web search");
    assert_eq!(snapshot.value("SEARCH_TIMEOUT"), Some("10"));
    assert!(snapshot.passes_check());
}
