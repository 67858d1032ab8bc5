//! The api benchmark: Summer-Trip routes served by `summer serve` (the
//! components of the repository's manifest) and by `native_api`, which makes
//! the same backend calls from native Rust through the same drivers and
//! pools; on the embedded backends and on the real databases (the
//! environment's settings, as `tooling/services.env` gives them). The ratio
//! summer/native is what the WebAssembly layer costs on each route. On the
//! real databases the NestJS app of `bench/nest` (the seed's stack: NestJS,
//! TypeORM, cassandra-driver, neo4j-driver, ioredis, the MinIO client) is
//! loaded too, as one process and as one worker per core, for the ratio
//! summer/NestJS.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::Flags;
use crate::load::{self, Backends, Bar, Load, Quiet, Running};

/// The size of the uploaded and downloaded file.
const FILE_BYTES: usize = 1 << 20;
/// Requests one instance serves in the reuse variant of Summer.
const REUSE: u32 = 128;
/// The servers, in the order of the first round: Summer as the manifest
/// has it (a fresh instance per request), Summer with every component
/// reusing instances, and the native baseline.
const SERVERS: [&str; 3] = ["summer", "summer reuse", "native"];
/// On the real databases, also the NestJS app the seed's backend was
/// (bench/nest): one Node process, as the seed's compose ran it, and one
/// worker per core under Node's cluster module.
const NEST_SERVERS: [&str; 2] = ["nest", "nest cluster"];
/// The Summer variants, each compared with the native baseline.
const SUMMERS: [&str; 2] = ["summer", "summer reuse"];

struct Options {
    summer: PathBuf,
    native: PathBuf,
    manifest: PathBuf,
    components: PathBuf,
    out: PathBuf,
    load: Load,
    backends: Vec<Backends>,
    /// Distinct users each measured cache-miss run may read.
    miss_ids: usize,
    /// The NestJS app's folder, built.
    nest: Option<PathBuf>,
}

impl Options {
    /// The servers loaded on `backends`: NestJS only on the real databases,
    /// since it has no embedded stores.
    fn servers(&self, backends: Backends) -> Vec<&'static str> {
        let mut servers = SERVERS.to_vec();
        if backends == Backends::Real && self.nest.is_some() {
            servers.extend(NEST_SERVERS);
        }
        servers
    }
}

/// The ids `native_api prepare` wrote.
#[derive(serde::Deserialize)]
struct Fixture {
    hot_user: String,
    author: String,
    conversation: String,
    post_conversation: String,
    social_user: String,
    file: String,
}

/// A route as wrk requests it: a fixed request, or cache misses.
enum Request {
    Fixed {
        method: &'static str,
        path: String,
        content_type: Option<String>,
        body: Option<String>,
    },
    /// `GET /users/{id}` over the ids in a file, each once.
    Misses,
}

struct Route {
    name: &'static str,
    request: Request,
}

fn get(path: String) -> Request {
    Request::Fixed {
        method: "GET",
        path,
        content_type: None,
        body: None,
    }
}

/// A Lua string literal of `text`.
fn lua_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The routes the benchmark loads, with what they need from the fixture.
fn routes(fixture: &Fixture) -> Vec<Route> {
    let message = json!({
        "conversation_id": fixture.post_conversation,
        "user_id": fixture.author,
        "content": "On my way, see you at the station!",
    });
    let boundary = "summer-bench-boundary";
    // The file's bytes are made by the script (`string.rep`), not spelled here.
    let upload_head = format!(
        "--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"bench-upload.bin\"\r\n\
         content-type: application/octet-stream\r\n\r\n"
    );
    let upload_body = format!(
        "{} .. string.rep(\"u\", {FILE_BYTES}) .. {}",
        lua_string(&upload_head),
        lua_string(&format!("\r\n--{boundary}--\r\n"))
    );
    vec![
        Route {
            name: "GET /users/{id} (cache hit)",
            request: get(format!("/users/{}", fixture.hot_user)),
        },
        Route {
            name: "GET /users/{id} (cache miss)",
            request: Request::Misses,
        },
        Route {
            name: "POST /messages",
            request: Request::Fixed {
                method: "POST",
                path: "/messages".into(),
                content_type: Some("application/json".into()),
                body: Some(lua_string(&message.to_string())),
            },
        },
        Route {
            name: "GET /messages/{conversation_id}",
            request: get(format!("/messages/{}", fixture.conversation)),
        },
        Route {
            name: "GET /users/{id}/friends/suggestions",
            request: get(format!(
                "/users/{}/friends/suggestions",
                fixture.social_user
            )),
        },
        Route {
            name: "POST /storage/upload (1 MiB)",
            request: Request::Fixed {
                method: "POST",
                path: "/storage/upload".into(),
                content_type: Some(format!("multipart/form-data; boundary={boundary}")),
                body: Some(upload_body),
            },
        },
        Route {
            name: "GET /storage/download/{filename} (1 MiB)",
            request: get(format!("/storage/download/{}", fixture.file)),
        },
    ]
}

/// A wrk script sending `request`; `ids` is the file of ids for misses.
fn script(request: &Request, ids: &Path) -> String {
    let lines = match request {
        Request::Fixed {
            method,
            path,
            content_type,
            body,
        } => {
            let mut lines = format!(
                "wrk.method = {}\nwrk.path = {}\n",
                lua_string(method),
                lua_string(path)
            );
            if let Some(content_type) = content_type {
                let _ = writeln!(
                    lines,
                    "wrk.headers[\"Content-Type\"] = {}",
                    lua_string(content_type)
                );
            }
            if let Some(body) = body {
                let _ = writeln!(lines, "wrk.body = {body}");
            }
            lines
        }
        Request::Misses => format!(
            "local ids = {{}}\nfor line in io.lines({}) do ids[#ids + 1] = line end\n\
             local last = 0\nrequest = function()\n  last = last % #ids + 1\n  \
             return wrk.format(\"GET\", \"/users/\" .. ids[last])\nend\n",
            lua_string(&ids.display().to_string())
        ),
    };
    lines + load::WRK_REPORT
}

/// The repository's manifest with its relative paths made absolute, and
/// the components taken from `components`; and a copy where every
/// component reuses instances.
fn write_manifests(options: &Options, work: &Path) -> Result<[PathBuf; 2]> {
    let text = std::fs::read_to_string(&options.manifest)
        .with_context(|| format!("reading {}", options.manifest.display()))?;
    let root = options.manifest.parent().context("the manifest's folder")?;
    let text = text
        .replace(
            "\"target/components/",
            &format!("\"{}/", options.components.display()),
        )
        .replace(
            "\"components/",
            &format!("\"{}/components/", root.display()),
        )
        .replace("\"api/", &format!("\"{}/api/", root.display()));
    let fresh = work.join("summer.toml");
    std::fs::write(&fresh, &text)?;
    let reuse = work.join("summer-reuse.toml");
    let reusing = format!("[[component]]\ninstance_reuse = {REUSE}\n");
    std::fs::write(&reuse, text.replace("[[component]]\n", &reusing))?;
    Ok([fresh, reuse])
}

/// Everything one backend set's run needs on disk.
struct Setup {
    /// As the repository has it, and with instance reuse.
    manifests: [PathBuf; 2],
    data: PathBuf,
    work: PathBuf,
    backends: Backends,
}

impl Setup {
    /// `program args` with a manifest, a data directory and the backend
    /// settings.
    fn command(
        &self,
        program: &Path,
        args: &[&str],
        manifest: &Path,
        data: &Path,
    ) -> Result<Command> {
        let mut command = Command::new(program);
        command
            .args(args)
            .arg("--manifest")
            .arg(manifest)
            .arg("--data-dir")
            .arg(data)
            .env("RUST_LOG", "warn");
        self.backends.configure(&mut command)?;
        Ok(command)
    }
}

impl Setup {
    /// A server's own copy of the fixture's data directory: servers sharing
    /// the embedded stores would measure each other's writes and locks.
    fn data_of(&self, server: &str) -> PathBuf {
        self.work.join(format!("data-{}", server.replace(' ', "-")))
    }

    /// Gives every server its copy of the fixture.
    fn copy_data(&self) -> Result<()> {
        for server in SERVERS {
            copy_dir(&self.data, &self.data_of(server))?;
        }
        Ok(())
    }
}

/// Copies a directory tree; a missing one (on the real databases nothing is
/// written to it) copies as an empty directory.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    if !from.exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Writes the fixture with `native_api prepare`: users (one per cache-miss
/// request, split in one file per run), friendships, messages and a file.
fn prepare(options: &Options, setup: &Setup, miss_files: &[(PathBuf, usize)]) -> Result<Fixture> {
    let all_ids = setup.work.join("miss-ids.txt");
    let total: usize = miss_files.iter().map(|(_, n)| n).sum();
    let total = total.to_string();
    let output = setup
        .command(
            &options.native,
            &["prepare", "--miss-users", &total],
            &setup.manifests[0],
            &setup.data,
        )?
        .arg("--miss-file")
        .arg(&all_ids)
        .output()
        .context("running native_api prepare")?;
    if !output.status.success() {
        bail!(
            "native_api prepare failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let ids = std::fs::read_to_string(&all_ids)?;
    let mut ids = ids.lines();
    for (path, count) in miss_files {
        let slice: Vec<&str> = ids.by_ref().take(*count).collect();
        std::fs::write(path, slice.join("\n") + "\n")?;
    }
    serde_json::from_slice(&output.stdout).context("reading the fixture")
}

fn start(options: &Options, setup: &Setup, server: &'static str, port: u16) -> Result<Running> {
    let log = setup.work.join(format!("{server}.log"));
    let port = port.to_string();
    let serve = ["serve", "--no-watch", "--port", &port];
    let data = setup.data_of(server);
    if let (Some(nest), true) = (&options.nest, NEST_SERVERS.contains(&server)) {
        let mut command = Command::new("node");
        command
            .arg(nest.join("dist/main.js"))
            .env("PORT", &port)
            .env(
                "NEST_CLUSTER",
                if server == "nest cluster" { "1" } else { "0" },
            );
        setup.backends.configure(&mut command)?;
        return load::spawn(server, &mut command, &log);
    }
    let mut command = match server {
        "summer" => setup.command(&options.summer, &serve, &setup.manifests[0], &data)?,
        "summer reuse" => setup.command(&options.summer, &serve, &setup.manifests[1], &data)?,
        _ => setup.command(
            &options.native,
            &["serve", "--port", &port],
            &setup.manifests[0],
            &data,
        )?,
    };
    load::spawn(server, &mut command, &log)
}

/// Both servers must answer every read route with the same bytes.
fn check_same_answers(fixture: &Fixture, servers: &mut [Running], bases: &[String]) -> Result<()> {
    let paths = [
        format!("/users/{}", fixture.hot_user),
        format!("/messages/{}", fixture.conversation),
        format!("/users/{}/friends/suggestions", fixture.social_user),
        format!("/storage/download/{}", fixture.file),
    ];
    for path in paths {
        let mut bodies = Vec::new();
        for (server, base) in servers.iter_mut().zip(bases) {
            bodies.push(load::wait_for(&format!("{base}{path}"), server)?);
        }
        if bodies.iter().any(|b| b != &bodies[0]) {
            bail!("the servers answer {path} differently");
        }
    }
    Ok(())
}

/// Loads every route on both servers, round after round, the order of the
/// servers swapped each round.
fn measure_backends(
    options: &Options,
    backends: Backends,
    work: &Path,
    quiet: &mut Quiet,
) -> Result<Vec<Value>> {
    let work = work.join(backends.name());
    std::fs::create_dir_all(&work)?;
    let setup = Setup {
        manifests: write_manifests(options, &work)?,
        data: work.join("data"),
        work: work.clone(),
        backends,
    };
    let rounds = options.load.rounds;
    let servers_loaded = options.servers(backends);
    // Per server and round: a warm-up file of ids and a measured one.
    let miss_files: Vec<(PathBuf, usize)> = (0..servers_loaded.len() * rounds * 2)
        .map(|n| {
            let size = if n % 2 == 0 {
                options.miss_ids / 10
            } else {
                options.miss_ids
            };
            (work.join(format!("miss-{n}.txt")), size)
        })
        .collect();
    eprintln!("{}: writing the fixture", backends.name());
    let fixture = prepare(options, &setup, &miss_files)?;
    setup.copy_data()?;
    let ports = servers_loaded.iter().map(|_| load::free_port());
    let ports = ports.collect::<Result<Vec<u16>>>()?;
    let mut servers = servers_loaded
        .iter()
        .zip(&ports)
        .map(|(server, port)| start(options, &setup, server, *port))
        .collect::<Result<Vec<_>>>()?;
    let bases: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    check_same_answers(&fixture, &mut servers, &bases)?;

    let mut results = Vec::new();
    for route in routes(&fixture) {
        let fixed = work.join("route.lua");
        std::fs::write(&fixed, script(&route.request, Path::new("")))?;
        let mut runs: Vec<Vec<Value>> = vec![Vec::new(); servers_loaded.len()];
        for round in 0..rounds {
            quiet.check(round + 1)?;
            for i in 0..servers_loaded.len() {
                let server = (i + round) % servers_loaded.len();
                // A cache-miss run reads ids of its own: a script per run.
                let (warm_up, measured, miss_ids) = match route.request {
                    Request::Misses => {
                        let n = (server * rounds + round) * 2;
                        let paths = [n, n + 1].map(|k| work.join(format!("miss-{k}.lua")));
                        for (path, (ids, _)) in paths.iter().zip(&miss_files[n..n + 2]) {
                            std::fs::write(path, script(&route.request, ids))?;
                        }
                        let [warm_up, measured] = paths;
                        (warm_up, measured, Some(miss_files[n + 1].1))
                    }
                    _ => (fixed.clone(), fixed.clone(), None),
                };
                load::wrk(
                    &options.load,
                    &warm_up,
                    &bases[server],
                    load::WARM_UP_SECONDS,
                )?;
                let mut run = load::wrk(
                    &options.load,
                    &measured,
                    &bases[server],
                    options.load.seconds,
                )?;
                if let Some(ids) = miss_ids {
                    let requests = run["requests"].as_f64().unwrap_or(0.0).max(1.0);
                    run["miss_share"] = json!((ids as f64 / requests).min(1.0));
                }
                load::log_run(round + 1, servers_loaded[server], route.name, &run);
                runs[server].push(run);
            }
        }
        for (server, runs) in servers_loaded.iter().zip(runs) {
            let mut fields = serde_json::Map::new();
            fields.insert("backends".into(), json!(backends.name()));
            fields.insert("route".into(), json!(route.name));
            fields.insert("server".into(), json!(server));
            results.push(load::summarize(fields, runs));
        }
    }
    Ok(results)
}

fn find<'a>(results: &'a [Value], backends: &str, route: &str, server: &str) -> Option<&'a Value> {
    results
        .iter()
        .find(|r| r["backends"] == backends && r["route"] == route && r["server"] == server)
}

fn number(result: Option<&Value>, field: &str) -> f64 {
    result.and_then(|r| r[field].as_f64()).unwrap_or(0.0)
}

/// Each Summer variant over the native baseline, per backend set and
/// route (requests/s and p99), and over NestJS where it ran.
fn ratios(results: &[Value]) -> Value {
    let mut ratios = serde_json::Map::new();
    for summer in results
        .iter()
        .filter(|r| SUMMERS.contains(&r["server"].as_str().unwrap_or_default()))
    {
        let (backends, route, server) = (
            summer["backends"].as_str().unwrap_or_default(),
            summer["route"].as_str().unwrap_or_default(),
            summer["server"].as_str().unwrap_or_default(),
        );
        let over = |other: &str, field: &str| {
            find(results, backends, route, other)
                .map(|o| number(Some(summer), field) / number(Some(o), field))
        };
        let mut ratio = serde_json::Map::new();
        ratio.insert("over_native_rps".into(), json!(over("native", "rps")));
        ratio.insert("over_native_p99".into(), json!(over("native", "p99_us")));
        if let Some(nest) = over(NEST_SERVERS[0], "rps") {
            ratio.insert("over_nest_rps".into(), json!(nest));
            ratio.insert(
                "over_nest_cluster_rps".into(),
                json!(over(NEST_SERVERS[1], "rps")),
            );
        }
        ratios.insert(
            format!("{backends}: {route}: {server}"),
            Value::Object(ratio),
        );
    }
    Value::Object(ratios)
}

fn table(results: &[Value], ratios: &Value) -> String {
    let mut text = String::from(
        "| backends | route | summer req/s | reuse req/s | native req/s | nest req/s | nest cluster req/s | summer/native | reuse/native | summer/nest | summer/nest cluster | p99 µs summer / reuse / native | failed |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for native in results.iter().filter(|r| r["server"] == "native") {
        let (backends, route) = (
            native["backends"].as_str().unwrap_or_default(),
            native["route"].as_str().unwrap_or_default(),
        );
        let [fresh, reuse, nest, cluster] =
            [SUMMERS[0], SUMMERS[1], NEST_SERVERS[0], NEST_SERVERS[1]]
                .map(|server| find(results, backends, route, server));
        let rate = |r: Option<&Value>| {
            r.map_or("–".to_owned(), |r| {
                format!("{:.0}", number(Some(r), "rps"))
            })
        };
        let ratio = |server: &str, name: &str| {
            ratios[format!("{backends}: {route}: {server}")][name]
                .as_f64()
                .map_or("–".to_owned(), |r| format!("{r:.2}×"))
        };
        let failed: f64 = [fresh, reuse, Some(native), nest, cluster]
            .iter()
            .map(|r| number(*r, "failed"))
            .sum();
        let _ = writeln!(
            text,
            "| {backends} | {route} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} / {:.0} / {:.0} | {failed} |",
            rate(fresh),
            rate(reuse),
            rate(Some(native)),
            rate(nest),
            rate(cluster),
            ratio(SUMMERS[0], "over_native_rps"),
            ratio(SUMMERS[1], "over_native_rps"),
            ratio(SUMMERS[0], "over_nest_rps"),
            ratio(SUMMERS[0], "over_nest_cluster_rps"),
            number(fresh, "p99_us"),
            number(reuse, "p99_us"),
            number(Some(native), "p99_us"),
        );
    }
    if !results.iter().any(|r| r["server"] == NEST_SERVERS[0]) {
        text.push_str("NestJS ran on no backend set here: it has only the real databases.\n");
    } else {
        text.push_str(
            "NestJS has no embedded stores: on the embedded backends it is not measured.\n",
        );
    }
    text
}

/// Summer's requests/s as a share of the native baseline's, per route; and
/// every server's requests/s per route on the real databases.
fn charts(results: &[Value], ratios: &Value) -> String {
    let shares: Vec<Bar> = ratios
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, r)| Bar {
            label: name.clone(),
            value: 100.0 * r["over_native_rps"].as_f64().unwrap_or(0.0),
            colour: load::colour("summer"),
        })
        .collect();
    let real: Vec<Bar> = results
        .iter()
        .filter(|r| r["backends"] == "real")
        .map(|r| {
            let server = r["server"].as_str().unwrap_or_default();
            Bar {
                label: format!("{} — {server}", r["route"].as_str().unwrap_or_default()),
                value: number(Some(r), "rps"),
                colour: load::colour(server),
            }
        })
        .collect();
    let mut charts = load::chart(
        "Summer's requests/s as a share of the native baseline's (higher is better)",
        &shares,
        "%",
    );
    if !real.is_empty() {
        charts += &load::chart(
            "Requests/s on the real databases: Summer, native Rust and the NestJS app (higher is better)",
            &real,
            "req/s",
        );
    }
    charts
}

pub fn run(flags: &Flags) -> Result<()> {
    let options = Options {
        summer: flags.path("--summer")?,
        native: flags.path("--native")?,
        manifest: flags.path("--manifest")?,
        components: flags.path("--components")?,
        out: flags.path("--out")?,
        load: flags.load(5)?,
        backends: Backends::parse(&flags.text("--backends", "embedded,real"))?,
        miss_ids: flags.number("--miss-ids", 120_000)? as usize,
        nest: flags
            .value("--nest")
            .map(|_| flags.path("--nest"))
            .transpose()?,
    };
    let mut quiet = Quiet::require(
        flags.has("--allow-busy"),
        flags.value("--services").map(PathBuf::from),
    )?;
    let work = tempfile::tempdir()?;
    let mut results = Vec::new();
    for &backends in &options.backends {
        results.extend(measure_backends(
            &options,
            backends,
            work.path(),
            &mut quiet,
        )?);
    }
    let ratios = ratios(&results);
    let report = json!({
        "benchmark": "api",
        "setup": format!(
            "{}; a cache-miss run reads each of up to {} users once; summer reuse: instance_reuse = {REUSE} on every component",
            options.load.describe(),
            options.miss_ids
        ),
        "machine": quiet.report(),
        "results": results,
        "ratios": ratios,
    });
    println!("{}", table(&results, &report["ratios"]));
    load::write_report(
        &options.out,
        "api",
        &report,
        &charts(&results, &report["ratios"]),
    )
}
