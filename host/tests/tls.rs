//! TLS to managed databases, from the command line: `summer serve` with
//! URLs and TLS settings reaches the real servers of `tooling/services` over
//! TLS, refuses to start when a certificate does not verify (naming the
//! backend and why), and keeps passwords out of its logs and `/readyz`.

mod support;

use support::{Server, get, real_services_env, repo_root, write_manifest};

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

/// PostgreSQL and Redis as URLs over TLS, trusting `authorities`.
fn tls_env(authorities: &str) -> Vec<(String, String)> {
    let database = format!(
        "postgres://{}:{}@127.0.0.1:{}/{}?sslmode=verify-full&sslrootcert={authorities}",
        service("DATABASE_USER"),
        service("DATABASE_PASSWORD"),
        service("DATABASE_PORT"),
        service("DATABASE_NAME"),
    );
    let redis = format!("rediss://127.0.0.1:{}/", service("REDIS_TLS_PORT"));
    vec![
        ("DATABASE_URL".into(), database),
        ("REDIS_URL".into(), redis),
        ("REDIS_TLS_CA_FILE".into(), authorities.to_owned()),
        ("SUMMER_FLEET".into(), "off".into()),
    ]
}

fn start(env: &[(String, String)]) -> (tempfile::TempDir, Result<Server, support::Failed>) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), |_| {});
    let started = Server::try_start_with_env(&dir.path().join("data"), &manifest, env);
    (dir, started)
}

#[test]
fn urls_over_tls_reach_the_databases_without_showing_the_password() {
    let (_dir, started) = start(&tls_env(&ca("ca.pem")));
    let server = started.unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));
    let ready = get(&server.url("/readyz"));
    assert_eq!(ready.status, 200, "{}", ready.raw);
    assert!(
        ready.body["backends"]["sql"]["backend"]
            .as_str()
            .unwrap()
            .contains("postgres")
    );
    assert!(
        ready.body["backends"]["cache"]["backend"]
            .as_str()
            .unwrap()
            .contains("redis")
    );
    let user = support::post_json(
        &server.url("/users"),
        &serde_json::json!({ "name": "Tls", "email": format!("{}@example.org", uuid::Uuid::new_v4().simple()) }),
    );
    assert_eq!(user.status, 201, "{}", user.raw);
    let password = service("DATABASE_PASSWORD");
    for text in [ready.raw.as_str(), server.log().as_str()] {
        assert!(
            !text.contains(&format!(":{password}@")),
            "a password leaked: {text}"
        );
    }
}

#[test]
fn a_certificate_that_does_not_verify_stops_the_start() {
    let stranger = ca("other-ca.pem");
    let mut env = tls_env(&stranger);
    // One backend at a time, so each refusal is the one reported.
    for backend in ["PostgreSQL", "Redis"] {
        let only: Vec<(String, String)> = env
            .iter()
            .filter(|(k, _)| match backend {
                "PostgreSQL" => !k.starts_with("REDIS"),
                _ => !k.starts_with("DATABASE"),
            })
            .cloned()
            .collect();
        let (_dir, started) = start(&only);
        let Err(failed) = started else {
            panic!("{backend} with a certificate from another CA was accepted");
        };
        assert!(!failed.status.success());
        assert!(failed.log.contains(backend), "{backend}: {}", failed.log);
        assert!(
            failed.log.to_lowercase().contains("certificate"),
            "{backend}: no reason given: {}",
            failed.log
        );
        // The URL's password (which here equals the user name) is not repeated.
        let secret = format!(":{}@", service("DATABASE_PASSWORD"));
        assert!(!failed.log.contains(&secret), "{}", failed.log);
    }
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
