//! Components from an OCI registry: the real registry of `tooling/services`
//! (`registry`, htpasswd auth). `summer push` stores the Wasm OCI artifact
//! layout; a manifest's `source = "oci://…"` is pulled by tag or by digest,
//! verified, cached, and shown with its digest; a tampered layer and bad
//! credentials are refused; a registry that is down is no failure when the
//! digest is cached, and names the reference when it is not.

use crate::support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::wasm::{variant, version_of};
use support::{Server, components_dir, get, repo_root, write_manifest};

/// The registry's address and credentials, from `tooling/services.env`;
/// fails when the registry is not running.
struct Registry {
    address: String,
    user: String,
    password: String,
}

fn registry() -> Registry {
    let env = support::real_services_env();
    let value = |name: &str| {
        env.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("tooling/services.env names {name}"))
    };
    let address = format!("127.0.0.1:{}", value("REGISTRY_PORT"));
    let answered = ureq::get(&format!("http://{address}/v2/"))
        .config()
        .http_status_as_error(false)
        .build()
        .call();
    assert!(
        answered.is_ok_and(|a| a.status() == 401),
        "no registry on {address}: start it with `tooling/services up registry`"
    );
    Registry {
        address,
        user: value("REGISTRY_USER"),
        password: value("REGISTRY_PASSWORD"),
    }
}

impl Registry {
    fn credentials(&self) -> Vec<(String, String)> {
        vec![
            ("SUMMER_REGISTRY_USER".into(), self.user.clone()),
            ("SUMMER_REGISTRY_PASSWORD".into(), self.password.clone()),
        ]
    }

    /// A repository no other run uses.
    fn repository(&self, test: &str) -> String {
        format!(
            "{}/summer-test/{test}-{}",
            self.address,
            uuid::Uuid::new_v4().simple()
        )
    }

    /// `GET /v2/{path}` with the credentials: status and body.
    fn get(&self, path: &str, accept: &str) -> (u16, Vec<u8>) {
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.user, self.password));
        let mut answer = ureq::get(&format!("http://{}/v2/{path}", self.address))
            .header("authorization", &format!("Basic {basic}"))
            .header("accept", accept)
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .unwrap();
        let status = answer.status().as_u16();
        (status, answer.body_mut().read_to_vec().unwrap())
    }
}

/// `summer push FILE REFERENCE` with `env`: its exit status and output.
fn push(file: &Path, reference: &str, env: &[(String, String)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let output = support::summer(
        "push",
        &dir.path().join("data"),
        &dir.path().join("none.toml"),
        env,
    )
    .arg(file)
    .arg(reference)
    .output()
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// The hello component with a custom section naming `mark`: a component
/// whose layer no other test pushes.
fn marked_hello(dir: &Path, mark: &str) -> PathBuf {
    let hello = std::fs::read(components_dir().join("hello.wasm")).unwrap();
    let path = dir.join("hello.wasm");
    std::fs::write(&path, variant(&hello, mark)).unwrap();
    path
}

/// The digest `summer push` reports.
fn pushed_digest(output: &str) -> String {
    let at = output
        .find("@sha256:")
        .unwrap_or_else(|| panic!("{output}"));
    output[at + 1..at + 1 + 71].to_owned()
}

/// Pushes a hello no other run pushes to a repository of its own as `:v1`:
/// the file, the repository and the manifest's digest.
fn push_unique(registry: &Registry, dir: &Path, test: &str) -> (PathBuf, String, String) {
    let file = marked_hello(dir, &uuid::Uuid::new_v4().to_string());
    let repository = registry.repository(test);
    let (pushed, output) = push(&file, &format!("{repository}:v1"), &registry.credentials());
    assert!(pushed, "{output}");
    (file, repository, pushed_digest(&output))
}

/// Starts a host whose hello comes from `source`, on `data`.
fn serve_hello_from(
    source: &str,
    data: &Path,
    env: &[(String, String)],
) -> Result<Server, support::Failed> {
    let manifest = write_manifest(data.parent().unwrap(), |component| {
        if component["name"].as_str() == Some("hello") {
            component.insert("source".into(), source.into());
        }
    });
    let mut env = env.to_vec();
    env.push(("SUMMER_ADMIN_TOKEN".into(), "registry-test-token".into()));
    Server::try_start_with_env(data, &manifest, &env)
}

/// [`serve_hello_from`], which must start.
fn serving_hello_from(source: &str, data: &Path, env: &[(String, String)]) -> Server {
    serve_hello_from(source, data, env)
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log))
}

fn components_listing(server: &Server) -> Value {
    let mut answer = ureq::get(&server.url("/_admin/components"))
        .header("authorization", "Bearer registry-test-token")
        .call()
        .unwrap();
    answer.body_mut().read_json().unwrap()
}

fn hello_entry(listing: &Value) -> &Value {
    listing["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "hello")
        .unwrap()
}

#[test]
fn a_pushed_component_is_served_by_tag_and_by_digest_in_the_wasm_oci_layout() {
    let registry = registry();
    let dir = tempfile::tempdir().unwrap();
    let (file, repository, digest) = push_unique(&registry, dir.path(), "layout");
    let wasm = std::fs::read(&file).unwrap();
    let layer = format!("sha256:{}", version_of(&wasm));

    // The layout other tools read.
    let path = repository.split_once('/').unwrap().1;
    let (status, manifest) = registry.get(
        &format!("{path}/manifests/v1"),
        "application/vnd.oci.image.manifest.v1+json",
    );
    assert_eq!(status, 200);
    assert_eq!(format!("sha256:{}", version_of(&manifest)), digest);
    let manifest: Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], "application/wasm");
    assert_eq!(layers[0]["digest"], layer.as_str());
    assert_eq!(layers[0]["size"], wasm.len());
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let (status, config) = registry.get(&format!("{path}/blobs/{config_digest}"), "*/*");
    assert_eq!(status, 200);
    assert_eq!(manifest["config"]["size"], config.len());
    let config: Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["os"], "wasip2");
    assert_eq!(config["layerDigests"], serde_json::json!([layer]));
    assert!(
        config["created"].as_str().unwrap().ends_with('Z'),
        "{config}"
    );

    // Served by tag, the tag resolved to its digest.
    let tagged = format!("oci://{repository}:v1");
    let host_dir = tempfile::tempdir().unwrap();
    let server = serving_hello_from(
        &tagged,
        &host_dir.path().join("data"),
        &registry.credentials(),
    );
    assert_eq!(get(&server.url("/hello")).status, 200);
    let listing = components_listing(&server);
    let hello = hello_entry(&listing);
    assert_eq!(hello["source"], format!("{tagged}@{digest}"));
    assert_eq!(
        format!("sha256:{}", hello["version"].as_str().unwrap()),
        layer
    );

    // Served by digest, on a host of its own.
    let pinned = format!("oci://{repository}@{digest}");
    let other_dir = tempfile::tempdir().unwrap();
    let other = serving_hello_from(
        &pinned,
        &other_dir.path().join("data"),
        &registry.credentials(),
    );
    assert_eq!(get(&other.url("/hello")).status, 200);
    assert_eq!(hello_entry(&components_listing(&other))["source"], pinned);
    for log in [server.log(), other.log()] {
        assert!(
            !log.contains(&registry.password),
            "the password reached the log"
        );
    }
}

#[test]
fn a_tampered_layer_is_refused() {
    let registry = registry();
    let dir = tempfile::tempdir().unwrap();
    let (file, repository, _) = push_unique(&registry, dir.path(), "tampered");
    let layer = version_of(&std::fs::read(&file).unwrap());
    let stored = repo_root()
        .join(".services/registry/data/docker/registry/v2/blobs/sha256")
        .join(&layer[..2])
        .join(&layer)
        .join("data");
    let mut bytes = std::fs::read(&stored).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&stored, bytes).unwrap();

    let host_dir = tempfile::tempdir().unwrap();
    let tagged = format!("oci://{repository}:v1");
    let failed = serve_hello_from(
        &tagged,
        &host_dir.path().join("data"),
        &registry.credentials(),
    )
    .err()
    .expect("a tampered layer was served");
    assert!(
        failed.log.contains(&tagged)
            && failed.log.contains("refused")
            && failed.log.contains(&layer),
        "{}",
        failed.log
    );
}

#[test]
fn credentials_are_required_and_a_wrong_password_is_refused() {
    let registry = registry();
    let dir = tempfile::tempdir().unwrap();
    let file = marked_hello(dir.path(), "credentials");
    let reference = format!("{}:v1", registry.repository("credentials"));

    let empty = tempfile::tempdir().unwrap();
    let no_docker_login = [(
        "DOCKER_CONFIG".to_owned(),
        empty.path().display().to_string(),
    )];
    let (pushed, output) = push(&file, &reference, &no_docker_login);
    assert!(!pushed, "pushed without credentials: {output}");
    assert!(output.contains("SUMMER_REGISTRY_USER"), "{output}");

    let wrong = [
        ("SUMMER_REGISTRY_USER".to_owned(), registry.user.clone()),
        (
            "SUMMER_REGISTRY_PASSWORD".to_owned(),
            "not-the-password-4242".to_owned(),
        ),
    ];
    let (pushed, output) = push(&file, &reference, &wrong);
    assert!(!pushed, "pushed with a wrong password: {output}");
    assert!(output.contains("refused the credentials"), "{output}");
    assert!(!output.contains("not-the-password-4242"), "{output}");

    // Docker's config.json is read when the variables are not set.
    use base64::Engine as _;
    let docker = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", registry.user, registry.password));
    std::fs::write(
        docker.path().join("config.json"),
        format!(
            r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#,
            registry.address
        ),
    )
    .unwrap();
    let docker_env = [(
        "DOCKER_CONFIG".to_owned(),
        docker.path().display().to_string(),
    )];
    let (pushed, output) = push(&file, &reference, &docker_env);
    assert!(pushed, "{output}");
}

#[test]
fn a_registry_that_is_down_fails_the_start_unless_the_digest_is_cached() {
    let registry = registry();
    let dir = tempfile::tempdir().unwrap();
    let (_, repository, digest) = push_unique(&registry, dir.path(), "down");
    let path = repository.split_once('/').unwrap().1;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("oci://{}/{path}@{digest}", closed.local_addr().unwrap());
    drop(closed);

    // Not cached: the start fails naming the reference.
    let fresh = tempfile::tempdir().unwrap();
    let failed = serve_hello_from(&down, &fresh.path().join("data"), &registry.credentials())
        .err()
        .expect("started without its component");
    assert!(failed.log.contains(&down), "{}", failed.log);
    assert!(
        failed.log.contains("cannot reach the registry"),
        "{}",
        failed.log
    );

    // Cached by an earlier pull of the same digest: served.
    let host_dir = tempfile::tempdir().unwrap();
    let data = host_dir.path().join("data");
    let up = format!("oci://{repository}@{digest}");
    let first = serving_hello_from(&up, &data, &registry.credentials());
    first.stop();
    let again = serving_hello_from(&down, &data, &registry.credentials());
    assert_eq!(get(&again.url("/hello")).status, 200);
}

/// `summer deploy|rollback ARGS` against `server`, with the registry's
/// credentials only on the host: the host pulls.
fn admin(server: &Server, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_summer"))
        .args(args)
        .env("SUMMER_URL", server.url(""))
        .env("SUMMER_ADMIN_TOKEN", "registry-test-token")
        .env_remove("SUMMER_REGISTRY_USER")
        .env_remove("SUMMER_REGISTRY_PASSWORD")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "summer {args:?}: {text}");
    text
}

#[test]
fn registry_versions_are_deployed_and_rolled_back_through_the_swap_path() {
    let registry = registry();
    let dir = tempfile::tempdir().unwrap();
    let repository = registry.repository("deploy");
    let mut digests = Vec::new();
    for tag in ["v1", "v2"] {
        let version_dir = dir.path().join(tag);
        std::fs::create_dir(&version_dir).unwrap();
        let file = marked_hello(&version_dir, &format!("{tag}-{}", uuid::Uuid::new_v4()));
        let (pushed, output) = push(
            &file,
            &format!("{repository}:{tag}"),
            &registry.credentials(),
        );
        assert!(pushed, "{output}");
        digests.push(pushed_digest(&output));
    }
    let host_dir = tempfile::tempdir().unwrap();
    let from_file = components_dir().join("hello.wasm").display().to_string();
    let server = serving_hello_from(
        &from_file,
        &host_dir.path().join("data"),
        &registry.credentials(),
    );
    assert!(hello_entry(&components_listing(&server))["source"].is_null());

    let source = || hello_entry(&components_listing(&server))["source"].clone();
    for (tag, digest) in ["v1", "v2"].iter().zip(&digests) {
        let reference = format!("oci://{repository}:{tag}");
        admin(&server, &["deploy", "hello", &reference]);
        assert_eq!(source(), format!("{reference}@{digest}"));
        assert_eq!(get(&server.url("/hello")).status, 200);
    }
    admin(&server, &["rollback", "hello"]);
    assert_eq!(source(), format!("oci://{repository}:v1@{}", digests[0]));

    // A reference the registry does not have is refused; v1 keeps serving.
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_summer"))
        .args(["deploy", "hello", &format!("oci://{repository}:v9")])
        .env("SUMMER_URL", server.url(""))
        .env("SUMMER_ADMIN_TOKEN", "registry-test-token")
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let said = String::from_utf8_lossy(&missing.stderr);
    assert!(said.contains("not in its registry"), "{said}");
    assert_eq!(source(), format!("oci://{repository}:v1@{}", digests[0]));
}

#[test]
fn a_registry_deploy_reaches_the_fleet_with_its_source() {
    let registry = registry();
    let dir = tempfile::tempdir().unwrap();
    let (_, repository, digest) = push_unique(&registry, dir.path(), "fleet");
    let mut env: Vec<(String, String)> = support::real_services_env()
        .into_iter()
        .filter(|(k, _)| k.starts_with("REDIS_") || k.starts_with("STORAGE_"))
        .collect();
    let fleet = format!(
        "registry-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    env.push(("SUMMER_FLEET".into(), fleet));
    env.extend(registry.credentials());
    let from_file = components_dir().join("hello.wasm").display().to_string();
    let (first_dir, second_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = serving_hello_from(&from_file, &first_dir.path().join("data"), &env);
    let second = serving_hello_from(&from_file, &second_dir.path().join("data"), &env);

    let reference = format!("oci://{repository}:v1");
    let said = admin(&first, &["deploy", "hello", &reference]);
    assert!(said.contains("1 of 1 other hosts switched"), "{said}");
    let pinned = format!("{reference}@{digest}");
    for host in [&first, &second] {
        assert_eq!(hello_entry(&components_listing(host))["source"], pinned);
    }
}
