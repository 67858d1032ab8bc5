//! The S3 backend (MinIO, SeaweedFS, AWS): path-style requests to a custom
//! endpoint. Writes are streamed as multipart uploads in parts of
//! `PART_SIZE`, reads as the response body arrives, so a writer or reader
//! holds at most one part in memory whatever the object's size.

use anyhow::{Context, Result};
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{self as https, TlsContext, TrustStore};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use std::path::Path;
use std::time::Duration;

use super::{BlobBackend, BlobReader, BlobWriter, KeyListing, Listing, ObjectInfo};
use crate::capabilities::{Capability, CapabilityError, ErrorKind, tls};
use crate::config::{StorageEndpoint, StorageSettings, Tls};

/// Bytes buffered before a part is uploaded (S3's minimum part is 5 MiB).
const PART_SIZE: usize = 8 << 20;
/// HEAD requests in flight at once while listing (listings carry no content type).
const LIST_HEADS_IN_FLIGHT: usize = 16;
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";
/// The most keys one DeleteObjects request may name.
const DELETE_BATCH: usize = 1000;
/// How long opening a connection to the S3 server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The S3 backend.
pub(crate) struct S3Backend {
    client: Client,
    bucket: String,
    target: String,
}

impl S3Backend {
    /// Connects and makes sure the bucket exists, failing with a message
    /// naming the endpoint when it cannot.
    pub(crate) async fn connect(
        settings: &StorageSettings,
        endpoint: &StorageEndpoint,
    ) -> Result<Self> {
        let url = &endpoint.url;
        let credentials = Credentials::new(
            &settings.access_key,
            &settings.secret_key,
            None,
            None,
            "summer-settings",
        );
        let mut config = aws_sdk_s3::Config::builder();
        if let Tls::Verified(Some(authorities)) = &endpoint.tls {
            config = config.http_client(https_client(authorities)?);
        }
        let config = config
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(url)
            .region(Region::new(settings.region.clone()))
            .credentials_provider(credentials)
            .force_path_style(true)
            .timeout_config(timeouts(settings))
            .build();
        let backend = Self {
            client: Client::from_conf(config),
            bucket: settings.bucket.clone(),
            target: format!("{url}/{}", settings.bucket),
        };
        backend
            .ensure_bucket()
            .await
            .with_context(|| format!("connecting to S3 at {url} (STORAGE_ENDPOINT)"))?;
        Ok(backend)
    }

    async fn ensure_bucket(&self) -> Result<(), CapabilityError> {
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) if classify(&e).kind == ErrorKind::NotFound => {
                self.client
                    .create_bucket()
                    .bucket(&self.bucket)
                    .send()
                    .await
                    .map_err(|e| classify(&e))?;
                Ok(())
            }
            Err(e) => Err(classify(&e)),
        }
    }
}

impl S3Backend {
    /// A reader of no bytes of `key`, after checking that it exists.
    async fn empty_reader(&self, key: &str) -> Result<Box<dyn BlobReader>, CapabilityError> {
        let info = self
            .head(key)
            .await?
            .ok_or_else(|| CapabilityError::new(ErrorKind::NotFound, "no such object"))?;
        Ok(S3Reader::boxed(ByteStream::from_static(b""), info))
    }
}

/// An HTTPS client that trusts only the authorities of a PEM file.
fn https_client(authorities: &Path) -> Result<SharedHttpClient> {
    let pem = tls::read_authorities(authorities, "STORAGE_TLS_CA_FILE")?;
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(pem);
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .context("reading STORAGE_TLS_CA_FILE")?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(https::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https())
}

/// Connecting gets a short bound of its own; a whole request, retries
/// included, gets the configured one.
fn timeouts(settings: &StorageSettings) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_timeout(Duration::from_secs(settings.timeout_secs.max(1)))
        .build()
}

fn classify<E>(error: &SdkError<E, HttpResponse>) -> CapabilityError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let kind = match error {
        SdkError::TimeoutError(_) => ErrorKind::Timeout,
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => ErrorKind::Unavailable,
        SdkError::ServiceError(service) => match service.raw().status().as_u16() {
            404 => ErrorKind::NotFound,
            401 | 403 => ErrorKind::Denied,
            500.. => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        },
        _ => ErrorKind::Internal,
    };
    CapabilityError::from_server(
        Capability::Blob,
        kind,
        format!("s3: {}", DisplayErrorContext(error)),
    )
}

/// The status of a failed request, when the server answered.
fn status<E>(error: &SdkError<E, HttpResponse>) -> Option<u16> {
    match error {
        SdkError::ServiceError(service) => Some(service.raw().status().as_u16()),
        _ => None,
    }
}

/// A `Range` header; past what a signed 64-bit length can hold, open-ended
/// (servers parse the bounds as such).
fn byte_range(first: u64, last: u64) -> String {
    match i64::try_from(last) {
        Ok(_) => format!("bytes={first}-{last}"),
        Err(_) => format!("bytes={first}-"),
    }
}

/// The whole object's size from a ranged response's `Content-Range`
/// (`bytes 0-9/1234`).
fn total_size(content_range: Option<&str>) -> Option<i64> {
    content_range?.rsplit('/').next()?.parse().ok()
}

/// A key as the `x-amz-copy-source` header wants it: percent-encoded,
/// with its slashes kept.
fn copy_source(bucket: &str, key: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    format!(
        "{bucket}/{}",
        percent_encoding::utf8_percent_encode(key, KEEP)
    )
}

/// The info of `key` from the headers of a GET or HEAD response.
fn object_info(
    key: &str,
    length: Option<i64>,
    content_type: Option<&str>,
    modified: Option<&aws_sdk_s3::primitives::DateTime>,
) -> ObjectInfo {
    ObjectInfo {
        key: key.to_owned(),
        size: length.unwrap_or(0).max(0) as u64,
        content_type: content_type.unwrap_or(DEFAULT_CONTENT_TYPE).to_owned(),
        modified: modified.map_or(0, |t| {
            t.secs() * 1_000_000 + i64::from(t.subsec_nanos() / 1000)
        }),
    }
}

#[async_trait]
impl BlobBackend for S3Backend {
    fn describe(&self) -> String {
        format!("s3 ({})", self.target)
    }

    async fn create(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<Box<dyn BlobWriter>, CapabilityError> {
        let content_type = if content_type.is_empty() {
            DEFAULT_CONTENT_TYPE
        } else {
            content_type
        };
        Ok(Box::new(S3Writer {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            content_type: content_type.to_owned(),
            buffer: Vec::new(),
            upload: None,
            size: 0,
        }))
    }

    async fn open(&self, key: &str) -> Result<Box<dyn BlobReader>, CapabilityError> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let info = object_info(
            key,
            object.content_length(),
            object.content_type(),
            object.last_modified(),
        );
        Ok(S3Reader::boxed(object.body, info))
    }

    async fn open_range(
        &self,
        key: &str,
        first: u64,
        last: u64,
    ) -> Result<Box<dyn BlobReader>, CapabilityError> {
        if last < first {
            return self.empty_reader(key).await;
        }
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(byte_range(first, last))
            .send()
            .await;
        let object = match object {
            Ok(object) => object,
            // The range starts past the object's end.
            Err(e) if status(&e) == Some(416) => return self.empty_reader(key).await,
            Err(e) => return Err(classify(&e)),
        };
        let size = total_size(object.content_range()).or(object.content_length());
        let info = object_info(key, size, object.content_type(), object.last_modified());
        Ok(S3Reader::boxed(object.body, info))
    }

    async fn create_if_absent(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<bool, CapabilityError> {
        if self.head(key).await?.is_some() {
            return Ok(false);
        }
        let put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .if_none_match("*")
            .body(ByteStream::from_static(b""))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if matches!(status(&e), Some(409 | 412)) => Ok(false),
            Err(e) => Err(classify(&e)),
        }
    }

    async fn copy(&self, from: &str, to: &str) -> Result<ObjectInfo, CapabilityError> {
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(copy_source(&self.bucket, from))
            .key(to)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        self.head(to).await?.ok_or_else(|| {
            CapabilityError::new(ErrorKind::NotFound, "the copy was deleted at once")
        })
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), CapabilityError> {
        for batch in keys.chunks(DELETE_BATCH) {
            let objects = batch
                .iter()
                .map(|key| ObjectIdentifier::builder().key(key).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| CapabilityError::internal(format!("s3 delete: {e}")))?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| CapabilityError::internal(format!("s3 delete: {e}")))?;
            let deleted = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| classify(&e))?;
            if let Some(failed) = deleted.errors().first() {
                return Err(CapabilityError::from_server(
                    Capability::Blob,
                    ErrorKind::Unavailable,
                    format!(
                        "s3 delete of {} keys: {} failed, the first with {}",
                        batch.len(),
                        deleted.errors().len(),
                        failed.code().unwrap_or("no code")
                    ),
                ));
            }
        }
        Ok(())
    }

    async fn list_keys(
        &self,
        prefix: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<KeyListing, CapabilityError> {
        let page = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .max_keys(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_start_after(cursor.map(str::to_owned))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let keys: Vec<String> = page
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        let cursor = match page.is_truncated() {
            Some(true) => keys.last().cloned(),
            _ => None,
        };
        Ok(KeyListing { keys, cursor })
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, CapabilityError> {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match head {
            Ok(object) => Ok(Some(object_info(
                key,
                object.content_length(),
                object.content_type(),
                object.last_modified(),
            ))),
            Err(e) => match classify(&e) {
                e if e.kind == ErrorKind::NotFound => Ok(None),
                e => Err(e),
            },
        }
    }

    async fn delete(&self, key: &str) -> Result<bool, CapabilityError> {
        // S3 answers a delete the same whether or not the key existed.
        let existed = self.head(key).await?.is_some();
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(existed)
    }

    async fn list(
        &self,
        prefix: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Listing, CapabilityError> {
        let page = self.list_keys(prefix, limit, cursor).await?;
        let objects: Vec<ObjectInfo> = futures::stream::iter(page.keys)
            .map(|key| async move { self.head(&key).await })
            .buffered(LIST_HEADS_IN_FLIGHT)
            .try_filter_map(|info| async move { Ok(info) })
            .try_collect()
            .await?;
        Ok(Listing {
            objects,
            cursor: page.cursor,
        })
    }
}

struct Upload {
    id: String,
    parts: Vec<CompletedPart>,
}

struct S3Writer {
    client: Client,
    bucket: String,
    key: String,
    content_type: String,
    buffer: Vec<u8>,
    upload: Option<Upload>,
    size: u64,
}

impl S3Writer {
    async fn upload_part(&mut self, body: Vec<u8>) -> Result<(), CapabilityError> {
        if self.upload.is_none() {
            let created = self
                .client
                .create_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.key)
                .content_type(&self.content_type)
                .send()
                .await
                .map_err(|e| classify(&e))?;
            let id = created.upload_id().unwrap_or_default().to_owned();
            self.upload = Some(Upload {
                id,
                parts: Vec::new(),
            });
        }
        let upload = self.upload.as_mut().expect("started above");
        let number = i32::try_from(upload.parts.len() + 1).unwrap_or(i32::MAX);
        let part = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&upload.id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        upload.parts.push(
            CompletedPart::builder()
                .set_e_tag(part.e_tag().map(str::to_owned))
                .part_number(number)
                .build(),
        );
        Ok(())
    }

    fn info(&self) -> ObjectInfo {
        ObjectInfo {
            key: self.key.clone(),
            size: self.size,
            content_type: self.content_type.clone(),
            modified: chrono::Utc::now().timestamp_micros(),
        }
    }
}

#[async_trait]
impl BlobWriter for S3Writer {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), CapabilityError> {
        self.buffer.extend_from_slice(chunk);
        self.size += chunk.len() as u64;
        while self.buffer.len() >= PART_SIZE {
            let rest = self.buffer.split_off(PART_SIZE);
            let part = std::mem::replace(&mut self.buffer, rest);
            self.upload_part(part).await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<ObjectInfo, CapabilityError> {
        let last = std::mem::take(&mut self.buffer);
        if self.upload.is_none() {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .content_type(&self.content_type)
                .body(ByteStream::from(last))
                .send()
                .await
                .map_err(|e| classify(&e))?;
            return Ok(self.info());
        }
        if !last.is_empty() {
            self.upload_part(last).await?;
        }
        let upload = self.upload.take().expect("multipart upload in progress");
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(upload.parts))
            .build();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&upload.id)
            .multipart_upload(completed)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(self.info())
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        // An abandoned multipart upload is aborted so its parts are freed.
        let Some(upload) = self.upload.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let abort = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(upload.id);
        runtime.spawn(async move {
            if let Err(e) = abort.send().await {
                tracing::warn!(
                    "could not abort an abandoned upload: {}",
                    DisplayErrorContext(&e)
                );
            }
        });
    }
}

struct S3Reader {
    body: ByteStream,
    pending: Bytes,
    info: ObjectInfo,
}

impl S3Reader {
    fn boxed(body: ByteStream, info: ObjectInfo) -> Box<dyn BlobReader> {
        Box::new(Self {
            body,
            pending: Bytes::new(),
            info,
        })
    }
}

#[async_trait]
impl BlobReader for S3Reader {
    fn info(&self) -> &ObjectInfo {
        &self.info
    }

    async fn read(&mut self, max: usize) -> Result<Vec<u8>, CapabilityError> {
        let mut out = Vec::with_capacity(max.min(PART_SIZE));
        while out.len() < max {
            if self.pending.is_empty() {
                match self.body.next().await {
                    Some(Ok(chunk)) => self.pending = chunk,
                    Some(Err(e)) => {
                        return Err(CapabilityError::from_server(
                            Capability::Blob,
                            ErrorKind::Unavailable,
                            format!("s3 read: {e}"),
                        ));
                    }
                    None => break,
                }
            }
            let take = self.pending.len().min(max - out.len());
            out.extend_from_slice(&self.pending.split_to(take));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A server that accepts connections and never answers, the way an S3
    /// server stuck on its own storage behaves.
    async fn hung_server() -> (u16, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        (port, task)
    }

    #[tokio::test]
    async fn a_hung_server_is_a_timeout_within_the_configured_bound() {
        let (port, server) = hung_server().await;
        let settings = StorageSettings {
            endpoint: Some("127.0.0.1".into()),
            port: Some(port),
            tls_ca_file: None,
            access_key: "key".into(),
            secret_key: "secret".into(),
            bucket: "summer".into(),
            region: "us-east-1".into(),
            timeout_secs: 1,
        };
        let started = Instant::now();
        let endpoint = settings.server().unwrap().unwrap();
        let error = S3Backend::connect(&settings, &endpoint)
            .await
            .err()
            .expect("a server that never answers cannot be connected to");
        let elapsed = started.elapsed();
        server.abort();
        assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
        let message = format!("{error:#}");
        assert!(message.contains("blob timed out"), "{message}");
    }
}
