//! TLS to managed databases, from the command line: `summer serve` with
//! URLs and TLS settings reaches the real servers of `tooling/services` over
//! TLS, refuses to start when a certificate does not verify (naming the
//! backend and why), and keeps passwords out of its logs and `/readyz`.

use crate::support;

use serde_json::json;
use support::{Server, get, post_json, real_services_env, repo_root, write_manifest};

/// A file of the services' private CA (see `tooling/services`).
fn ca(name: &str) -> String {
    let path = repo_root().join(".services/tls").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `tooling/services up`",
        path.display()
    );
    path.display().to_string()
}

fn service(key: &str) -> String {
    let env = real_services_env();
    env.into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap()
}

/// Each backend's settings over TLS, trusting `authorities`, beside the
/// name its messages use: URLs where the backend has them.
fn tls_backends(authorities: &str) -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    let database = format!(
        "postgres://{}:{}@127.0.0.1:{}/{}?sslmode=verify-full&sslrootcert={authorities}",
        service("DATABASE_USER"),
        service("DATABASE_PASSWORD"),
        service("DATABASE_PORT"),
        service("DATABASE_NAME"),
    );
    let redis = format!("rediss://127.0.0.1:{}/", service("REDIS_TLS_PORT"));
    let neo4j = format!("bolt+s://127.0.0.1:{}", service("NEO4J_PORT"));
    let s3 = format!("https://127.0.0.1:{}", service("STORAGE_TLS_PORT"));
    let ca = || authorities.to_owned();
    vec![
        ("PostgreSQL", vec![("DATABASE_URL", database)]),
        (
            "Redis",
            vec![("REDIS_URL", redis), ("REDIS_TLS_CA_FILE", ca())],
        ),
        (
            "Cassandra",
            vec![
                ("CASSANDRA_HOST", service("CASSANDRA_HOST")),
                ("CASSANDRA_PORT", service("CASSANDRA_PORT")),
                ("CASSANDRA_KEYSPACE", service("CASSANDRA_KEYSPACE")),
                ("CASSANDRA_TLS", "true".into()),
                ("CASSANDRA_TLS_CA_FILE", ca()),
            ],
        ),
        (
            "Neo4j",
            vec![
                ("NEO4J_URI", neo4j),
                ("NEO4J_USER", service("NEO4J_USER")),
                ("NEO4J_PASSWORD", service("NEO4J_PASSWORD")),
                ("NEO4J_TLS_CA_FILE", ca()),
            ],
        ),
        (
            "S3",
            vec![
                ("STORAGE_ENDPOINT", s3),
                ("STORAGE_ACCESS_KEY", service("STORAGE_ACCESS_KEY")),
                ("STORAGE_SECRET_KEY", service("STORAGE_SECRET_KEY")),
                ("STORAGE_BUCKET", service("STORAGE_BUCKET")),
                ("STORAGE_TLS_CA_FILE", ca()),
            ],
        ),
    ]
}

/// The environment of a host whose `backends` speak TLS.
fn env_of<'a>(
    backends: impl IntoIterator<Item = &'a (&'static str, Vec<(&'static str, String)>)>,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = backends
        .into_iter()
        .flat_map(|(_, settings)| settings)
        .map(|(key, value)| (key.to_string(), value.clone()))
        .collect();
    env.push(("SUMMER_FLEET".into(), "off".into()));
    env
}

fn start(env: &[(String, String)]) -> (tempfile::TempDir, Result<Server, support::Failed>) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), |_| {});
    let started = Server::try_start_with_env(&dir.path().join("data"), &manifest, env);
    (dir, started)
}

#[test]
fn every_backend_over_tls_serves_the_api_without_showing_a_secret() {
    let (_dir, started) = start(&env_of(&tls_backends(&ca("ca.pem"))));
    let server = started.unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));
    let ready = get(&server.url("/readyz"));
    assert_eq!(ready.status, 200, "{}", ready.raw);
    for (capability, backend) in [
        ("sql", "postgres"),
        ("cache", "redis"),
        ("wide", "cassandra"),
        ("graph", "neo4j"),
        ("blob", "https://"),
    ] {
        let described = ready.body["backends"][capability]["backend"]
            .as_str()
            .unwrap();
        assert!(described.contains(backend), "{capability}: {described}");
    }
    uses_every_backend(&server);
    let secrets = [
        format!(":{}@", service("DATABASE_PASSWORD")),
        service("NEO4J_PASSWORD"),
        service("STORAGE_SECRET_KEY"),
    ];
    for text in [ready.raw.as_str(), server.log().as_str()] {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "a secret leaked: {text}");
        }
    }
}

/// Two users who befriend, message and share a file: a write to each backend.
fn uses_every_backend(server: &Server) {
    let user = |name: &str| {
        let email = format!("{}@example.org", uuid::Uuid::new_v4().simple());
        let created = post_json(
            &server.url("/users"),
            &json!({ "name": name, "email": email }),
        );
        assert_eq!(created.status, 201, "{}", created.raw);
        created.body["id"].as_str().unwrap().to_owned()
    };
    let (ada, bob) = (user("Ada"), user("Bob"));
    let friends = post_json(
        &server.url(&format!("/users/{ada}/friends")),
        &json!({ "friend_id": bob }),
    );
    assert_eq!(friends.status, 200, "{}", friends.raw);
    let conversation = uuid::Uuid::new_v4().to_string();
    let message = post_json(
        &server.url("/messages"),
        &json!({ "conversation_id": conversation, "user_id": ada, "content": "over TLS" }),
    );
    assert_eq!(message.status, 201, "{}", message.raw);
    let name = format!("{}.txt", uuid::Uuid::now_v7().simple());
    let (form_type, body) = support::multipart_file("file", &name, "text/plain", b"sealed");
    let uploaded = support::send(
        "POST",
        &server.url("/storage/upload"),
        Some(&form_type),
        &body,
    );
    assert_eq!(uploaded.status, 201, "{}", uploaded.raw);
    let cached = get(&server.url(&format!("/users/{ada}")));
    assert_eq!(cached.status, 200, "{}", cached.raw);
}

#[test]
fn a_certificate_that_does_not_verify_stops_the_start() {
    let backends = tls_backends(&ca("other-ca.pem"));
    // One backend at a time, so each refusal is the one reported.
    for backend in &backends {
        let (_dir, started) = start(&env_of([backend]));
        let name = backend.0;
        let Err(failed) = started else {
            panic!("{name} with a certificate from another CA was accepted");
        };
        assert!(!failed.status.success());
        assert!(failed.log.contains(name), "{name}: {}", failed.log);
        assert!(
            failed.log.to_lowercase().contains("certificate"),
            "{name}: no reason given: {}",
            failed.log
        );
        let secret = format!(":{}@", service("DATABASE_PASSWORD"));
        assert!(!failed.log.contains(&secret), "{}", failed.log);
        assert!(
            !failed.log.contains(&service("NEO4J_PASSWORD")),
            "{}",
            failed.log
        );
    }
    let mut env = env_of(&backends);
    env.push(("DATABASE_HOST".into(), "127.0.0.1".into()));
    let (_dir, started) = start(&env);
    let failed = started
        .err()
        .expect("a URL and DATABASE_HOST together were accepted");
    assert!(
        failed.log.contains("DATABASE_URL and DATABASE_HOST"),
        "{}",
        failed.log
    );
}

#[test]
fn a_ca_file_with_nothing_to_verify_stops_the_start() {
    let env = vec![
        ("STORAGE_ENDPOINT".to_owned(), "127.0.0.1".to_owned()),
        ("STORAGE_TLS_CA_FILE".to_owned(), ca("ca.pem")),
        ("SUMMER_FLEET".to_owned(), "off".to_owned()),
    ];
    let (_dir, started) = start(&env);
    let failed = started.err().expect("an unused CA file was accepted");
    assert!(failed.log.contains("STORAGE_TLS_CA_FILE"), "{}", failed.log);
}
