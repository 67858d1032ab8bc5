//! The blob conformance suite: one set of checks, run against every
//! backend. Each check works under a prefix of its own.

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
