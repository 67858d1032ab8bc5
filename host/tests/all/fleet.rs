//! Fleet deploys over the real Redis and S3 server of `tooling/services`:
//! hosts of one fleet follow each other's deploys and rollbacks, confirm
//! them, and a host that joins later adopts the fleet's versions.

use crate::support;

use support::admin::{Host, admin, built, deploy, served_by};
use support::real_services_env;
use support::wasm::{variant, version_of};

/// The real Redis and S3 settings, and a fleet of this test's own.
fn fleet_env() -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = real_services_env()
        .into_iter()
        .filter(|(k, _)| k.starts_with("REDIS_") || k.starts_with("STORAGE_"))
        .collect();
    let fleet = format!("test-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    env.push(("SUMMER_FLEET".into(), fleet));
    env
}

#[test]
fn a_deploy_to_one_host_reaches_every_host_of_the_fleet() {
    let env = fleet_env();
    let first = Host::start_with_env(&env);
    let second = Host::start_with_env(&env);
    let original = built("faults.wasm");
    let next = variant(&original, "fleet");

    let reply = deploy(first.server(), "faults", &next);
    assert_eq!(reply.status, 200, "{}", reply.raw);
    let fleet = &reply.body["fleet"];
    assert_eq!(fleet["reached"], 1, "{}", reply.raw);
    let confirmations = fleet["confirmations"].as_array().unwrap();
    assert_eq!(confirmations.len(), 1, "{}", reply.raw);
    assert_eq!(confirmations[0]["version"], version_of(&next));
    assert!(confirmations[0].get("error").is_none(), "{}", reply.raw);
    // Confirmed means switched: the very next request is served by it.
    assert_eq!(second.serving(), served_by("faults", &next));
    assert_eq!(first.serving(), served_by("faults", &next));

    // A rollback on the other host travels back.
    let path = "/_admin/components/faults/rollback";
    let reply = admin(second.server(), "POST", path, b"");
    assert_eq!(reply.status, 200, "{}", reply.raw);
    assert_eq!(
        reply.body["fleet"]["confirmations"][0]["error"],
        serde_json::Value::Null
    );
    assert_eq!(first.serving(), served_by("faults", &original));

    // A host that joins later starts on the fleet's version.
    let output = second.cli("deploy", &["faults", write(&second, &next).as_str()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("1 of 1 other hosts switched"), "{stdout}");
    let third = Host::start_with_env(&env);
    assert_eq!(third.serving(), served_by("faults", &next));
    assert!(third.server().log().contains("joined the fleet"));

    // An invalid version is refused before it reaches the fleet.
    let reply = deploy(first.server(), "faults", b"not a component");
    reply.assert_error(422, "invalid_component");
    for host in [&first, &second, &third] {
        assert_eq!(host.serving(), served_by("faults", &next));
    }
}

/// Writes `wasm` into the host's directory; its path.
fn write(host: &Host, wasm: &[u8]) -> String {
    let path = host.dir.path().join("deploy.wasm");
    std::fs::write(&path, wasm).unwrap();
    path.display().to_string()
}
