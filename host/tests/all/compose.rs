//! docker-compose.yml as Docker Compose itself reads it (`config`, which
//! needs no Docker engine): valid, every image pinned to a release, and
//! nothing but the API published beyond 127.0.0.1.

use crate::support;

use std::process::Command;

use serde_json::Value;
use support::repo_root;

/// The file resolved by `docker compose config`, as JSON; defaults apply
/// (no PORT or ADMIN_PORT from the test's environment).
fn resolved() -> Value {
    let root = repo_root();
    let output = Command::new(root.join("tooling/docker-compose"))
        .args(["--file", "docker-compose.yml", "config", "--format", "json"])
        .env_remove("PORT")
        .env_remove("ADMIN_PORT")
        .current_dir(&root)
        .output()
        .expect("running tooling/docker-compose");
    assert!(
        output.status.success(),
        "docker compose config refused docker-compose.yml:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("docker compose config --format json")
}

fn services(config: &Value) -> impl Iterator<Item = (&String, &Value)> {
    config["services"].as_object().expect("services").iter()
}

#[test]
fn every_image_is_pinned_to_a_release() {
    let config = resolved();
    for (name, service) in services(&config) {
        let Some(image) = service["image"].as_str() else {
            assert!(
                service["build"].is_object(),
                "{name} has neither image nor build"
            );
            continue;
        };
        let tag = image.rsplit_once(':').map(|(_, tag)| tag);
        let pinned = tag.is_some_and(|tag| !tag.contains('/') && tag.contains('.'));
        assert!(pinned, "{name}: {image} is not pinned to a release");
    }
    let s3 = config["services"]["s3"]["image"]
        .as_str()
        .unwrap_or_default();
    assert!(
        s3.starts_with("chrislusf/seaweedfs:"),
        "the S3 server is {s3}"
    );
}

#[test]
fn only_the_api_is_published_beyond_loopback() {
    let config = resolved();
    let mut published = Vec::new();
    for (name, service) in services(&config) {
        for port in service["ports"].as_array().into_iter().flatten() {
            let host_ip = port["host_ip"].as_str().unwrap_or("");
            let target = port["target"].as_u64().unwrap();
            published.push((name.as_str(), target));
            if (name.as_str(), target) != ("summer", 3000) {
                assert_eq!(
                    host_ip, "127.0.0.1",
                    "{name}: port {target} is published on {host_ip:?}"
                );
            }
        }
    }
    for expected in [
        ("summer", 3000),
        ("summer", 9090),
        ("neo4j", 7474),
        ("neo4j", 7687),
    ] {
        assert!(
            published.contains(&expected),
            "{expected:?} is not published: {published:?}"
        );
    }
}

#[test]
fn summer_waits_for_every_database_to_be_healthy() {
    let config = resolved();
    let summer = &config["services"]["summer"];
    for (name, service) in services(&config).filter(|(name, _)| *name != "summer") {
        assert!(
            service["healthcheck"]["test"].is_array(),
            "{name} has no health check"
        );
        assert_eq!(
            summer["depends_on"][name]["condition"], "service_healthy",
            "summer does not wait for {name}"
        );
    }
}
