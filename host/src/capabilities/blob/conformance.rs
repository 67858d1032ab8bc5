//! The blob conformance suite: one set of checks, run against every
//! backend. Each check works under a prefix of its own.

use futures::StreamExt;

use super::blobstore::{Containers, ObjectId};
use super::values::OutgoingValue;
use super::*;
use crate::capabilities::ErrorKind;

fn prefix() -> String {
    format!("conformance/{}/", uuid::Uuid::new_v4().simple())
}

async fn put(
    blob: &dyn BlobBackend,
    key: &str,
    content_type: &str,
    chunks: &[&[u8]],
) -> ObjectInfo {
    let mut writer = blob.create(key, content_type).await.unwrap();
    for chunk in chunks {
        writer.write(chunk).await.unwrap();
    }
    writer.finish().await.unwrap()
}

async fn read_all(blob: &dyn BlobBackend, key: &str, step: usize) -> (ObjectInfo, Vec<u8>) {
    let mut reader = blob.open(key).await.unwrap();
    let mut body = Vec::new();
    loop {
        let chunk = reader.read(step).await.unwrap();
        if chunk.is_empty() {
            break;
        }
        assert!(chunk.len() <= step);
        body.extend(chunk);
    }
    (reader.info().clone(), body)
}

pub(crate) async fn chunks_written_are_read_back(blob: &dyn BlobBackend) {
    let key = format!("{}photo.png", prefix());
    let info = put(
        blob,
        &key,
        "image/png",
        &[b"\x89PNG", b"\r\n", &[7; 10_000]],
    )
    .await;
    assert_eq!(
        (info.key.as_str(), info.size, info.content_type.as_str()),
        (key.as_str(), 10_006, "image/png")
    );
    let (read_info, body) = read_all(blob, &key, 4096).await;
    assert_eq!(read_info.size, 10_006);
    assert_eq!(read_info.content_type, "image/png");
    assert_eq!(&body[..6], b"\x89PNG\r\n");
    assert_eq!(body.len(), 10_006);
    assert_eq!(blob.head(&key).await.unwrap().unwrap().size, 10_006);
}

pub(crate) async fn an_unfinished_write_is_invisible(blob: &dyn BlobBackend) {
    let key = format!("{}draft.txt", prefix());
    let mut writer = blob.create(&key, "text/plain").await.unwrap();
    writer.write(b"half").await.unwrap();
    assert_eq!(blob.head(&key).await.unwrap(), None);
    drop(writer);
    assert_eq!(blob.head(&key).await.unwrap(), None);
    assert_eq!(
        blob.open(&key).await.err().unwrap().kind,
        ErrorKind::NotFound
    );
}

/// Bigger than several S3 parts: written and read in 1 MiB chunks, never
/// held whole by the backend.
pub(crate) async fn large_objects_stream_through_in_chunks(blob: &dyn BlobBackend) {
    let key = format!("{}large.bin", prefix());
    let chunk: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 253) as u8).collect();
    let mut writer = blob.create(&key, "application/octet-stream").await.unwrap();
    for _ in 0..20 {
        writer.write(&chunk).await.unwrap();
    }
    let abandoned_key = format!("{}abandoned.bin", prefix());
    let mut abandoned = blob
        .create(&abandoned_key, "application/octet-stream")
        .await
        .unwrap();
    for _ in 0..10 {
        abandoned.write(&chunk).await.unwrap();
    }
    drop(abandoned);
    assert_eq!(writer.finish().await.unwrap().size, 20 << 20);
    assert_eq!(blob.head(&abandoned_key).await.unwrap(), None);

    let mut reader = blob.open(&key).await.unwrap();
    assert_eq!(reader.info().size, 20 << 20);
    let mut total = 0usize;
    loop {
        let part = reader.read(1 << 20).await.unwrap();
        if part.is_empty() {
            break;
        }
        let same = part
            .iter()
            .enumerate()
            .all(|(i, b)| *b == chunk[(total + i) % chunk.len()]);
        assert!(same, "content differs after offset {total}");
        total += part.len();
    }
    assert_eq!(total, 20 << 20);
}

pub(crate) async fn a_rewrite_replaces_the_object_whole(blob: &dyn BlobBackend) {
    let key = format!("{}notes.txt", prefix());
    put(blob, &key, "text/plain", &[b"first version"]).await;
    put(blob, &key, "text/markdown", &[b"second"]).await;
    let (info, body) = read_all(blob, &key, 3).await;
    assert_eq!(body, b"second");
    assert_eq!(info.content_type, "text/markdown");
}

pub(crate) async fn empty_objects_are_objects(blob: &dyn BlobBackend) {
    let key = format!("{}empty", prefix());
    let info = put(blob, &key, "application/octet-stream", &[]).await;
    assert_eq!(info.size, 0);
    let (_, body) = read_all(blob, &key, 10).await;
    assert!(body.is_empty());
}

pub(crate) async fn delete_reports_whether_the_object_existed(blob: &dyn BlobBackend) {
    let key = format!("{}gone", prefix());
    assert!(!blob.delete(&key).await.unwrap());
    put(blob, &key, "text/plain", &[b"x"]).await;
    assert!(blob.delete(&key).await.unwrap());
    assert_eq!(blob.head(&key).await.unwrap(), None);
    assert!(!blob.delete(&key).await.unwrap());
}

pub(crate) async fn list_pages_through_a_prefix_in_key_order(blob: &dyn BlobBackend) {
    let base = prefix();
    let names = ["b", "a", "d/x", "c", "e"];
    for name in names {
        put(
            blob,
            &format!("{base}{name}"),
            "text/plain",
            &[name.as_bytes()],
        )
        .await;
    }
    put(blob, &format!("{}other", prefix()), "text/plain", &[b"x"]).await;
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = blob.list(&base, 2, cursor.as_deref()).await.unwrap();
        assert!(page.objects.len() <= 2);
        seen.extend(page.objects.iter().map(|o| o.key[base.len()..].to_owned()));
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["a", "b", "c", "d/x", "e"]);
    let nested = blob.list(&format!("{base}d/"), 10, None).await.unwrap();
    assert_eq!(nested.objects.len(), 1);
    assert_eq!(nested.objects[0].size, 3);
    assert!(
        blob.list(&prefix(), 10, None)
            .await
            .unwrap()
            .objects
            .is_empty()
    );
}

pub(crate) async fn ranged_reads_are_clamped_to_the_object(blob: &dyn BlobBackend) {
    let key = format!("{}digits", prefix());
    put(blob, &key, "text/plain", &[b"0123456789"]).await;
    for (first, last, expected) in [
        (2, 5, &b"2345"[..]),
        (0, 0, b"0"),
        (8, 100, b"89"),
        (0, u64::MAX, b"0123456789"),
        (10, 20, b""),
        (500, 600, b""),
    ] {
        let mut reader = blob.open_range(&key, first, last).await.unwrap();
        assert_eq!(reader.info().size, 10, "{first}..={last}");
        let mut body = Vec::new();
        loop {
            let chunk = reader.read(3).await.unwrap();
            if chunk.is_empty() {
                break;
            }
            body.extend(chunk);
        }
        assert_eq!(body, expected, "{first}..={last}");
    }
    let missing = blob.open_range(&format!("{}none", prefix()), 0, 1).await;
    assert_eq!(missing.err().unwrap().kind, ErrorKind::NotFound);
}

pub(crate) async fn copies_and_moves_replace_their_target(blob: &dyn BlobBackend) {
    let base = prefix();
    let (source, target, moved) = (
        format!("{base}dir/ä b+c%20.txt"),
        format!("{base}copy"),
        format!("{base}moved"),
    );
    put(blob, &source, "text/x-source", &[b"the source"]).await;
    put(blob, &target, "text/plain", &[b"old target"]).await;
    let copied = blob.copy(&source, &target).await.unwrap();
    assert_eq!((copied.key.as_str(), copied.size), (target.as_str(), 10));
    let (info, body) = read_all(blob, &target, 64).await;
    assert_eq!(
        (body.as_slice(), info.content_type.as_str()),
        (&b"the source"[..], "text/x-source")
    );
    assert!(blob.head(&source).await.unwrap().is_some());

    blob.rename(&source, &moved).await.unwrap();
    assert_eq!(blob.head(&source).await.unwrap(), None);
    assert_eq!(read_all(blob, &moved, 64).await.1, b"the source");
    // The copy is its own object: moving or deleting the source leaves it.
    blob.delete(&moved).await.unwrap();
    assert_eq!(read_all(blob, &target, 64).await.1, b"the source");

    for missing in [
        blob.copy(&source, &moved).await,
        blob.rename(&source, &moved).await,
    ] {
        assert_eq!(missing.err().unwrap().kind, ErrorKind::NotFound);
    }
}

/// Readers and copies racing a writer that keeps replacing the object get
/// one whole version each, never an error: a replaced version stays
/// readable to whoever found it first, or the newer one is read instead.
pub(crate) async fn reads_racing_rewrites_see_one_whole_version(blob: &dyn BlobBackend) {
    let base = prefix();
    let key = format!("{base}contested");
    let versions: Vec<Vec<u8>> = (0..4u8).map(|i| vec![b'a' + i; 64 << 10]).collect();
    put(blob, &key, "text/plain", &[&versions[0]]).await;
    let writer = async {
        for round in 0..60 {
            put(blob, &key, "text/plain", &[&versions[round % 4]]).await;
        }
    };
    let reader = |n: usize| {
        let (key, versions, copy) = (&key, &versions, format!("{base}copy-{n}"));
        async move {
            for _ in 0..30 {
                let (_, body) = read_all(blob, key, 16 << 10).await;
                assert!(
                    versions.contains(&body),
                    "a read of {} mixed bytes",
                    body.len()
                );
                blob.copy(key, &copy).await.unwrap();
                assert!(versions.contains(&read_all(blob, &copy, 64 << 10).await.1));
            }
        }
    };
    futures::join!(writer, futures::future::join_all((0..4).map(reader)));
}

pub(crate) async fn create_if_absent_creates_once_under_concurrency(blob: &dyn BlobBackend) {
    let key = format!("{}marker", prefix());
    let attempts = (0..12).map(|_| blob.create_if_absent(&key, "text/plain"));
    let created = futures::future::join_all(attempts).await;
    let winners = created.iter().filter(|c| *c.as_ref().unwrap()).count();
    assert_eq!(winners, 1, "{created:?}");
    assert_eq!(blob.head(&key).await.unwrap().unwrap().size, 0);
    assert!(!blob.create_if_absent(&key, "text/plain").await.unwrap());
}

pub(crate) async fn delete_many_deletes_what_exists(blob: &dyn BlobBackend) {
    let base = prefix();
    for name in ["a", "b", "c"] {
        put(blob, &format!("{base}{name}"), "text/plain", &[b"x"]).await;
    }
    let doomed = ["a", "missing", "c"].map(|n| format!("{base}{n}"));
    blob.delete_many(&doomed).await.unwrap();
    let left = blob.list_keys(&base, 10, None).await.unwrap();
    assert_eq!(left.keys, [format!("{base}b")]);
    assert_eq!(left.cursor, None);
}

/// Writes, copies and moves cancelled at any await point leave the store
/// usable, and never leave part of an object visible.
pub(crate) async fn cancelled_writes_leave_the_store_usable(blob: &dyn BlobBackend) {
    let base = &prefix();
    let body = &vec![9u8; 100_000];
    let points = crate::capabilities::cancellation::cancel_at_every_await(
        |run| async move {
            let key = format!("{base}object-{run}");
            put(blob, &key, "application/octet-stream", &[body, body]).await;
            blob.copy(&key, &format!("{key}-copy")).await.unwrap();
            blob.rename(&key, &format!("{key}-moved")).await.unwrap();
        },
        async |run| {
            put(blob, &format!("{base}after-{run}"), "text/plain", &[b"x"]).await;
            for suffix in ["", "-copy", "-moved"] {
                let key = format!("{base}object-{run}{suffix}");
                if let Some(info) = blob.head(&key).await.unwrap() {
                    assert_eq!(info.size, 200_000, "part of {key} is visible");
                }
            }
        },
    )
    .await;
    assert!(points >= 3, "{points} await points");
}

/// A namespace no other check uses.
fn namespace() -> String {
    format!("conf{}", uuid::Uuid::new_v4().simple())
}

pub(crate) async fn containers_live_inside_their_namespace(blob: &dyn BlobBackend) {
    let (mine, theirs) = (namespace(), namespace());
    let mine = Containers {
        backend: blob,
        namespace: &mine,
    };
    let theirs = Containers {
        backend: blob,
        namespace: &theirs,
    };
    mine.create("photos").await.unwrap();
    assert!(mine.exists("photos").await.unwrap());
    assert!(!theirs.exists("photos").await.unwrap());
    assert_eq!(
        mine.create("photos").await.unwrap_err().kind,
        ErrorKind::Conflict
    );
    theirs.create("photos").await.unwrap();
    let created = mine.info("photos").await.unwrap().created_at;
    let now = chrono::Utc::now().timestamp() as u64;
    assert!(
        created.abs_diff(now) < 120,
        "created at {created}, now {now}"
    );

    write(&mine, "photos", "cat.jpg", b"mine").await;
    assert!(!theirs.has_object("photos", "cat.jpg").await.unwrap());
    // The namespace's own blob keys never meet its containers.
    let blob_keys = blob
        .list_keys(&format!("{}/", mine.namespace), 10, None)
        .await;
    assert!(blob_keys.unwrap().keys.is_empty());

    mine.delete("photos").await.unwrap();
    assert!(!mine.exists("photos").await.unwrap());
    assert!(theirs.exists("photos").await.unwrap());
    assert_eq!(
        mine.delete("photos").await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    // Recreated, it is empty: its objects went with it.
    mine.create("photos").await.unwrap();
    assert!(!mine.has_object("photos", "cat.jpg").await.unwrap());
    for bad in ["", "a/b", "nul\0"] {
        assert_eq!(
            mine.create(bad).await.unwrap_err().kind,
            ErrorKind::Invalid,
            "{bad:?}"
        );
    }
}

pub(crate) async fn only_one_of_concurrent_creates_wins(blob: &dyn BlobBackend) {
    let namespace = namespace();
    let containers = Containers {
        backend: blob,
        namespace: &namespace,
    };
    let attempts = (0..8).map(|_| containers.create("race"));
    let outcomes = futures::future::join_all(attempts).await;
    let won = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(won, 1, "{outcomes:?}");
    let lost =
        |o: &Result<(), CapabilityError>| o.as_ref().is_err_and(|e| e.kind == ErrorKind::Conflict);
    assert!(
        outcomes.iter().all(|o| o.is_ok() || lost(o)),
        "{outcomes:?}"
    );
}

/// Writes `body` to an object the way most guests do: through the value's
/// stream, closed before `write-data`.
async fn write(containers: &Containers<'_>, container: &str, object: &str, body: &[u8]) {
    use wasmtime_wasi::p2::OutputStream;
    let mut value = OutgoingValue::new();
    let mut stream = value.take_stream().unwrap();
    stream
        .blocking_write_and_flush(bytes::Bytes::copy_from_slice(body))
        .await
        .unwrap();
    drop(stream);
    containers
        .write(container, object, &mut value)
        .await
        .unwrap();
    value.finish().await.unwrap();
}

/// Reads a value through its input-stream.
async fn read(
    containers: &Containers<'_>,
    container: &str,
    object: &str,
    range: (u64, u64),
) -> Vec<u8> {
    use wasmtime_wasi::p2::{InputStream, StreamError};
    let value = containers
        .get(container, object, range.0, range.1)
        .await
        .unwrap();
    let size = value.size();
    let mut stream = value.into_stream();
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(50_000).await {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(e) => panic!("reading {object}: {e}"),
        }
    }
    assert_eq!(body.len() as u64, size);
    body
}

pub(crate) async fn values_stream_whole_and_in_ranges(blob: &dyn BlobBackend) {
    let namespace = namespace();
    let containers = Containers {
        backend: blob,
        namespace: &namespace,
    };
    containers.create("files").await.unwrap();
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    write(&containers, "files", "a b/ü.bin", &body).await;
    assert_eq!(
        read(&containers, "files", "a b/ü.bin", (0, u64::MAX)).await,
        body
    );
    assert_eq!(
        read(&containers, "files", "a b/ü.bin", (1000, 1999)).await,
        &body[1000..2000]
    );
    assert_eq!(
        read(&containers, "files", "a b/ü.bin", (299_990, 400_000)).await,
        &body[299_990..]
    );
    let value = containers.get("files", "a b/ü.bin", 10, 19).await.unwrap();
    assert_eq!(value.read_all().await.unwrap(), &body[10..20]);
    let info = containers.object_info("files", "a b/ü.bin").await.unwrap();
    assert_eq!(
        (info.size, info.name.as_str(), info.container.as_str()),
        (300_000, "a b/ü.bin", "files")
    );

    let missing = containers
        .get("files", "nothing", 0, 10)
        .await
        .err()
        .unwrap();
    assert_eq!(missing.kind, ErrorKind::NotFound);
    assert!(missing.message.contains("nothing"), "{missing}");
    let backwards = containers
        .get("files", "a b/ü.bin", 5, 4)
        .await
        .err()
        .unwrap();
    assert_eq!(backwards.kind, ErrorKind::Invalid);
}

/// `write-data` before the body: the bytes stream to the backend as they
/// are written, and the object appears at `finish`, not before.
pub(crate) async fn a_bound_value_streams_and_appears_at_finish(blob: &dyn BlobBackend) {
    use wasmtime_wasi::p2::OutputStream;
    let namespace = namespace();
    let containers = Containers {
        backend: blob,
        namespace: &namespace,
    };
    containers.create("big").await.unwrap();
    let mut value = OutgoingValue::new();
    containers.write("big", "video", &mut value).await.unwrap();
    let mut stream = value.take_stream().unwrap();
    let chunk = bytes::Bytes::from(vec![7u8; 1 << 20]);
    for _ in 0..20 {
        stream
            .blocking_write_and_flush(chunk.clone())
            .await
            .unwrap();
    }
    assert!(!containers.has_object("big", "video").await.unwrap());
    drop(stream);
    value.finish().await.unwrap();
    assert_eq!(
        containers.object_info("big", "video").await.unwrap().size,
        20 << 20
    );

    // Dropped before finish: nothing is stored.
    let mut abandoned = OutgoingValue::new();
    containers
        .write("big", "abandoned", &mut abandoned)
        .await
        .unwrap();
    let mut stream = abandoned.take_stream().unwrap();
    stream.blocking_write_and_flush(chunk).await.unwrap();
    drop((stream, abandoned));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!containers.has_object("big", "abandoned").await.unwrap());

    // No container, no write.
    let mut orphan = OutgoingValue::new();
    let refused = containers
        .write("none", "x", &mut orphan)
        .await
        .unwrap_err();
    assert_eq!(refused.kind, ErrorKind::NotFound);
}

pub(crate) async fn listings_page_through_every_name(blob: &dyn BlobBackend) {
    let namespace = namespace();
    let containers = Containers {
        backend: blob,
        namespace: &namespace,
    };
    containers.create("many").await.unwrap();
    containers.create("many-neighbour").await.unwrap();
    let names: Vec<String> = (0..1_003).map(|i| format!("n/{i:05}")).collect();
    futures::stream::iter(&names)
        .for_each_concurrent(16, |name| write(&containers, "many", name, b"x"))
        .await;
    write(&containers, "many-neighbour", "stranger", b"x").await;

    let mut listing = containers.names("many");
    let (first, end) = listing.read(blob, 400).await.unwrap();
    assert_eq!((first.len(), end), (400, false));
    let (skipped, end) = listing.skip(blob, 300).await.unwrap();
    assert_eq!((skipped, end), (300, false));
    let (rest, end) = listing.read(blob, 1_000).await.unwrap();
    assert_eq!((rest.len(), end), (303, true));
    let mut seen: Vec<String> = first.into_iter().chain(rest).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 703);
    assert!(
        seen.iter().all(|n| names.contains(n)),
        "a name from elsewhere"
    );
    assert_eq!(listing.read(blob, 10).await.unwrap(), (vec![], true));
}

pub(crate) async fn copy_move_delete_and_clear_within_a_namespace(blob: &dyn BlobBackend) {
    let namespace = namespace();
    let containers = Containers {
        backend: blob,
        namespace: &namespace,
    };
    for name in ["from", "to"] {
        containers.create(name).await.unwrap();
    }
    write(&containers, "from", "a", b"alpha").await;
    write(&containers, "from", "b", b"beta").await;
    let id = |container: &str, object: &str| ObjectId {
        container: container.into(),
        object: object.into(),
    };
    containers
        .transfer(&id("from", "a"), &id("to", "a2"), false)
        .await
        .unwrap();
    containers
        .transfer(&id("from", "b"), &id("to", "b2"), true)
        .await
        .unwrap();
    assert_eq!(read(&containers, "to", "a2", (0, u64::MAX)).await, b"alpha");
    assert_eq!(read(&containers, "to", "b2", (0, u64::MAX)).await, b"beta");
    assert!(containers.has_object("from", "a").await.unwrap());
    assert!(!containers.has_object("from", "b").await.unwrap());
    let no_target = containers
        .transfer(&id("from", "a"), &id("nowhere", "a"), false)
        .await;
    assert_eq!(no_target.unwrap_err().kind, ErrorKind::NotFound);
    let no_source = containers
        .transfer(&id("from", "zz"), &id("to", "zz"), true)
        .await;
    assert!(no_source.unwrap_err().message.contains("\"zz\""));

    containers
        .delete_objects("to", &["a2".into(), "never".into()])
        .await
        .unwrap();
    assert!(!containers.has_object("to", "a2").await.unwrap());
    containers.clear("to").await.unwrap();
    assert!(!containers.has_object("to", "b2").await.unwrap());
    assert!(containers.exists("to").await.unwrap());
    assert_eq!(
        containers.names("to").read(blob, 10).await.unwrap(),
        (vec![], true)
    );
}

/// Every check of this suite, for the backend `$open` returns.
macro_rules! blob_conformance {
    ($suite:ident, $open:expr) => {
        conformance_tests!(
            $suite,
            $open,
            [
                chunks_written_are_read_back,
                an_unfinished_write_is_invisible,
                large_objects_stream_through_in_chunks,
                a_rewrite_replaces_the_object_whole,
                empty_objects_are_objects,
                delete_reports_whether_the_object_existed,
                list_pages_through_a_prefix_in_key_order,
                ranged_reads_are_clamped_to_the_object,
                copies_and_moves_replace_their_target,
                reads_racing_rewrites_see_one_whole_version,
                create_if_absent_creates_once_under_concurrency,
                delete_many_deletes_what_exists,
                containers_live_inside_their_namespace,
                only_one_of_concurrent_creates_wins,
                values_stream_whole_and_in_ranges,
                a_bound_value_streams_and_appears_at_finish,
                listings_page_through_every_name,
                copy_move_delete_and_clear_within_a_namespace,
                cancelled_writes_leave_the_store_usable,
            ]
        );
    };
}

async fn open_local() -> Box<dyn BlobBackend> {
    let dir = tempfile::tempdir().unwrap().keep();
    Box::new(LocalBackend::open(&dir).await.unwrap())
}

/// The real S3 server of `tooling/services up`, its settings changed by `adjust`.
async fn connect_s3(
    adjust: impl FnOnce(&mut crate::config::StorageSettings),
) -> anyhow::Result<S3Backend> {
    let mut settings = crate::config::real_services().storage;
    adjust(&mut settings);
    let endpoint = settings
        .server()?
        .expect("STORAGE_ENDPOINT in tooling/services.env");
    S3Backend::connect(&settings, &endpoint).await
}

/// Unreachable is a failure.
fn opened(connected: anyhow::Result<S3Backend>) -> Box<dyn BlobBackend> {
    match connected {
        Ok(backend) => Box::new(backend),
        Err(e) => panic!("S3 is not reachable ({e:#}); start it with `tooling/services up s3`"),
    }
}

/// Over HTTPS on the services' TLS port, trusting `authorities`.
fn over_tls(authorities: std::path::PathBuf) -> impl FnOnce(&mut crate::config::StorageSettings) {
    move |settings| {
        let host = settings.endpoint.take().expect("STORAGE_ENDPOINT");
        let port = crate::config::services_variable("STORAGE_TLS_PORT");
        settings.endpoint = Some(format!("https://{host}:{port}"));
        settings.port = None;
        settings.tls_ca_file = Some(authorities);
    }
}

async fn open_s3() -> Box<dyn BlobBackend> {
    opened(connect_s3(|_| {}).await)
}

async fn open_s3_tls() -> Box<dyn BlobBackend> {
    let authorities = crate::config::services_tls_file("ca.pem");
    opened(connect_s3(over_tls(authorities)).await)
}

blob_conformance!(local, open_local());
blob_conformance!(s3, open_s3());
blob_conformance!(s3_tls, open_s3_tls());

#[tokio::test]
async fn s3_refuses_a_certificate_it_cannot_verify() {
    let stranger = crate::config::services_tls_file("other-ca.pem");
    let refused = connect_s3(over_tls(stranger)).await;
    crate::capabilities::tls::assert_certificate_refused(refused, "S3");
}
