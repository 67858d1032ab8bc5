//! Component variables through `wasi:config/store`, read by components
//! written for other hosts (interop/config-*): values from the environment,
//! `.env`, a secrets directory or the default, in that order; required ones
//! stop the start; `summer reload` picks up changed values; secret values
//! never show in logs, metrics or the admin API.

use crate::support;

use std::path::Path;

use serde_json::{Value, json};
use support::admin::{admin, deploy, token_env};
use support::{Server, add_component, get, write_manifest};

const SECRET: &str = "s3cr3t-value-7f2a";

/// Both config components, each declaring the same variables.
fn add_config_components(manifest: &Path) {
    let variables: toml::Table = toml::from_str(
        r#"variables = { from_env = { required = true }, from_dotenv = { required = true },
             api_key = { required = true, secret = true },
             with_default = { default = "the default" }, optional = {} }"#,
    )
    .unwrap();
    for (name, wasm) in [
        ("cfg-rc1", "config-rc1.wasm"),
        ("cfg-draft", "config-draft.wasm"),
    ] {
        let routes = [format!("/{name}/config"), format!("/{name}/config/{{key}}")];
        let routes: Vec<&str> = routes.iter().map(String::as_str).collect();
        add_component(manifest, name, wasm, &routes, variables.clone());
    }
}

/// A directory with a manifest, a `.env` and a secrets directory, and the
/// environment that completes them.
struct Setup {
    dir: tempfile::TempDir,
    manifest: std::path::PathBuf,
    env: Vec<(String, String)>,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let manifest = write_manifest(dir.path(), |_| {});
        add_config_components(&manifest);
        let secrets = dir.path().join("secrets");
        std::fs::create_dir(&secrets).unwrap();
        let mut env = vec![
            token_env(),
            ("SUMMER_SECRETS".into(), secrets.display().to_string()),
        ];
        let mut dotenv = String::new();
        for component in ["cfg-rc1", "cfg-draft"] {
            let prefix = format!("SUMMER_VAR_{}", component.to_uppercase().replace('-', "_"));
            env.push((format!("{prefix}_FROM_ENV"), format!("env of {component}")));
            dotenv += &format!("{prefix}_FROM_DOTENV='dotenv of {component}'\n");
            // Also in .env: the environment wins.
            dotenv += &format!("{prefix}_FROM_ENV=shadowed\n");
            std::fs::write(
                secrets.join(format!("{component}.api_key")),
                format!("{SECRET}\n"),
            )
            .unwrap();
        }
        std::fs::write(dir.path().join(".env"), dotenv).unwrap();
        Self { dir, manifest, env }
    }

    fn start(&self) -> Result<Server, support::Failed> {
        Server::try_start_with_env(&self.dir.path().join("data"), &self.manifest, &self.env)
    }

    fn secret_file(&self, component: &str) -> std::path::PathBuf {
        self.dir.path().join(format!("secrets/{component}.api_key"))
    }
}

fn started(setup: &Setup) -> Server {
    setup
        .start()
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log))
}

#[test]
fn values_come_from_each_source_in_order_for_both_versions() {
    let setup = Setup::new();
    let server = started(&setup);
    for component in ["cfg-rc1", "cfg-draft"] {
        let value = |key: &str| get(&server.url(&format!("/{component}/config/{key}")));
        assert_eq!(value("from_env").raw, format!("env of {component}"));
        assert_eq!(value("from_dotenv").raw, format!("dotenv of {component}"));
        assert_eq!(value("api_key").raw, SECRET);
        assert_eq!(value("with_default").raw, "the default");
        for absent in ["optional", "undeclared"] {
            let reply = value(absent);
            assert_eq!(
                (reply.status, reply.raw.as_str()),
                (404, "none"),
                "{absent}"
            );
        }
        let all: Value =
            serde_json::from_str(&get(&server.url(&format!("/{component}/config"))).raw).unwrap();
        assert_eq!(
            all,
            json!({
                "from_env": format!("env of {component}"),
                "from_dotenv": format!("dotenv of {component}"),
                "api_key": SECRET,
                "with_default": "the default",
            })
        );
    }

    let listed = admin(&server, "GET", "/_admin/components", b"");
    let component = listed.body["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "cfg-rc1")
        .unwrap()
        .clone();
    assert_eq!(
        component["variables"],
        json!({
            "from_env": { "from": "environment", "secret": false },
            "from_dotenv": { "from": ".env", "secret": false },
            "api_key": { "from": "secrets", "secret": true },
            "with_default": { "from": "default", "secret": false },
            "optional": { "from": "unset", "secret": false },
        })
    );
    let metrics = get(&server.url("/metrics")).raw;
    for (place, text) in [
        ("the admin API", &listed.raw),
        ("metrics", &metrics),
        ("the log", &server.log()),
    ] {
        assert!(
            !text.contains(SECRET),
            "the secret value is in {place}:\n{text}"
        );
    }
}

#[test]
fn a_required_variable_without_a_value_stops_the_start_naming_it() {
    let setup = Setup::new();
    std::fs::remove_file(setup.secret_file("cfg-draft")).unwrap();
    let failed = setup
        .start()
        .err()
        .expect("a required variable has no value");
    assert!(
        failed
            .log
            .contains("component cfg-draft: variable api_key is required")
            && failed.log.contains("SUMMER_VAR_CFG_DRAFT_API_KEY"),
        "{}",
        failed.log
    );
}

#[test]
fn reload_picks_up_changed_values_and_refuses_a_missing_one() {
    let setup = Setup::new();
    let server = started(&setup);
    let api_key = || get(&server.url("/cfg-rc1/config/api_key")).raw;
    assert_eq!(api_key(), SECRET);

    std::fs::write(setup.secret_file("cfg-rc1"), "rotated-key\n").unwrap();
    let reloaded = admin(&server, "POST", "/_admin/reload", b"");
    assert_eq!(reloaded.status, 200, "{}", reloaded.raw);
    assert_eq!(
        reloaded.body["reloaded"],
        json!(["cfg-rc1"]),
        "{}",
        reloaded.raw
    );
    assert_eq!(api_key(), "rotated-key");
    let unchanged = admin(&server, "POST", "/_admin/reload", b"");
    assert_eq!(unchanged.body["reloaded"], json!([]), "{}", unchanged.raw);

    // Without a value for a required variable, neither a reload nor a
    // deploy goes through, and the running version keeps its value.
    std::fs::remove_file(setup.secret_file("cfg-rc1")).unwrap();
    let refused = admin(&server, "POST", "/_admin/reload", b"");
    let message = refused
        .assert_error(422, "invalid_configuration")
        .to_owned();
    assert!(message.contains("api_key"), "{message}");
    // (A new version: the same one again is no swap at all.)
    let wasm = support::admin::built("config-draft.wasm");
    let refused = deploy(&server, "cfg-rc1", &wasm);
    let message = refused
        .assert_error(422, "invalid_configuration")
        .to_owned();
    assert!(message.contains("SUMMER_VAR_CFG_RC1_API_KEY"), "{message}");
    assert_eq!(api_key(), "rotated-key");
    assert!(!server.log().contains("rotated-key"), "{}", server.log());
}

#[test]
fn summer_sdk_components_read_their_variables_through_the_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), |_| {});
    support::add_probe(&manifest, "probe");
    let mut table: toml::Table = std::fs::read_to_string(&manifest).unwrap().parse().unwrap();
    let probe = table["component"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["name"].as_str() == Some("probe"))
        .unwrap();
    let variables: toml::Table =
        toml::from_str("greeting = { default = \"hello\" }\nmissing = {}").unwrap();
    probe
        .as_table_mut()
        .unwrap()
        .insert("variables".into(), variables.into());
    std::fs::write(&manifest, toml::to_string(&table).unwrap()).unwrap();
    let env = [("SUMMER_VAR_PROBE_GREETING".to_owned(), "bonjour".to_owned())];
    let server = Server::try_start_with_env(&dir.path().join("data"), &manifest, &env)
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));
    let value = |path: &str| get(&server.url(&format!("/probe/config/{path}")));
    assert_eq!(value("greeting").body, json!({ "value": "bonjour" }));
    assert_eq!(value("missing").body, json!({ "value": null }));
    assert_eq!(value("greeting/required").raw, "bonjour");
    let message = value("missing/required")
        .assert_error(500, "internal")
        .to_owned();
    assert!(
        message.contains("variable missing has no value"),
        "{message}"
    );
}
