//! The storage component: multipart uploads, streamed downloads, a paged
//! listing and deletion of files kept in the blob store. A file is known by
//! its name; uploading a name again replaces the file.

use serde::Serialize;
use summer_sdk::blob::{self, ObjectInfo, Reader, Writer};
use summer_sdk::http::{Request, Response};
use summer_sdk::multipart::Multipart;
use summer_sdk::{ApiError, Params, Router, Timestamp, cursor};
use summer_trip::paging;

summer_sdk::http_component!(handle);

/// The largest file an upload may carry.
pub const MAX_FILE_BYTES: u64 = 64 << 20;
const MAX_NAME_BYTES: usize = 255;
/// Where files live in the component's blob namespace.
const PREFIX: &str = "files/";

fn handle(request: &Request) -> Response {
    Router::new()
        .post("/storage/upload", upload)
        .get("/storage/download/{filename}", download)
        .get("/storage/files", list_files)
        .delete("/storage/{filename}", delete_file)
        .handle(request)
}

/// A stored file as the API shows it.
#[derive(Debug, Serialize)]
struct File {
    filename: String,
    size: u64,
    content_type: String,
    uploaded_at: Timestamp,
}

impl File {
    fn from_info(info: ObjectInfo) -> Self {
        Self {
            filename: info
                .key
                .strip_prefix(PREFIX)
                .unwrap_or(&info.key)
                .to_owned(),
            size: info.size,
            content_type: info.content_type,
            uploaded_at: Timestamp(info.modified),
        }
    }
}

/// A file name that is safe as a key and in a `Content-Disposition`:
/// 1 to 255 bytes, no path separators, no control characters, not `.`/`..`.
fn checked_filename(name: &str) -> Result<String, ApiError> {
    let invalid = |why: &str| ApiError::invalid(format!("file name {name:?} {why}"));
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(invalid(&format!("must be 1 to {MAX_NAME_BYTES} bytes")));
    }
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(invalid("must not be a path"));
    }
    if name.chars().any(char::is_control) || name.trim() != name {
        return Err(invalid(
            "must not have control characters or surrounding spaces",
        ));
    }
    Ok(name.to_owned())
}

fn key(filename: &str) -> String {
    format!("{PREFIX}{filename}")
}

/// `POST /storage/upload` (multipart/form-data, field `file`): 201 with the
/// stored file. The content is streamed into the blob store; a file over
/// [`MAX_FILE_BYTES`] is a 413 and an empty one a 400, and neither replaces
/// a stored file.
fn upload(request: &Request, _: &Params) -> Result<Response, ApiError> {
    let mut form = Multipart::from_request(request)?;
    while let Some(part) = form.next_part()? {
        if part.name != "file" {
            continue;
        }
        let filename = part
            .filename
            .as_deref()
            .ok_or_else(|| ApiError::invalid("the file field has no filename"))?;
        let filename = checked_filename(filename)?;
        let content_type = part
            .content_type
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let info = store(&mut form, &filename, &content_type)?;
        let file = File::from_info(info);
        let location = format!("/storage/download/{}", percent_encode(&file.filename));
        return Ok(Response::json(201, &file)?.with_header("location", &location));
    }
    Err(ApiError::invalid("the form has no field named file"))
}

/// Streams the current part into the object `filename`. The writer is only
/// finished once the whole part has arrived within the limit; dropping it
/// otherwise abandons the write and leaves any stored file as it was.
fn store(
    form: &mut Multipart<Box<dyn std::io::Read>>,
    filename: &str,
    content_type: &str,
) -> Result<ObjectInfo, ApiError> {
    let writer = Writer::create(&key(filename), content_type)?;
    let mut size = 0u64;
    while let Some(chunk) = form.read_chunk()? {
        size += chunk.len() as u64;
        if size > MAX_FILE_BYTES {
            return Err(ApiError::too_large(format!(
                "a file may be at most {MAX_FILE_BYTES} bytes"
            )));
        }
        writer.write(&chunk)?;
    }
    if size == 0 {
        return Err(ApiError::invalid("the file is empty"));
    }
    writer.finish()
}

fn filename(params: &Params) -> Result<String, ApiError> {
    checked_filename(params.get("filename").unwrap_or_default())
}

/// `GET /storage/download/{filename}`: the file, streamed, with its content
/// type and length.
fn download(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let filename = filename(params)?;
    let reader = Reader::open(&key(&filename))?
        .ok_or_else(|| ApiError::not_found(format!("no file named {filename:?}")))?;
    let info = reader.info();
    let disposition = format!("attachment; filename*=UTF-8''{}", percent_encode(&filename));
    Ok(Response::new(200)
        .with_header("content-type", &info.content_type)
        .with_header("content-disposition", &disposition)
        .with_stream(info.size, reader))
}

/// `GET /storage/files?limit=N&cursor=C`: files by name.
fn list_files(request: &Request, _: &Params) -> Result<Response, ApiError> {
    let limit = paging::limit(request)?;
    let after = paging::after(request)?;
    let after_key = after.as_deref().map(key);
    let listing = blob::list(PREFIX, limit, after_key.as_deref())?;
    let items: Vec<File> = listing.objects.into_iter().map(File::from_info).collect();
    let next_cursor = match (listing.cursor, items.last()) {
        (Some(_), Some(last)) => Some(cursor::encode(&last.filename)),
        _ => None,
    };
    Response::json(200, &paging::Page { items, next_cursor })
}

/// `DELETE /storage/{filename}`: 204, or 404 when there is no such file.
fn delete_file(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let filename = filename(params)?;
    if !blob::delete(&key(&filename))? {
        return Err(ApiError::not_found(format!("no file named {filename:?}")));
    }
    Ok(Response::no_content())
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_that_are_paths_or_odd_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "../etc/passwd",
            "a/b",
            "a\\b",
            "a\nb",
            " a",
            &"x".repeat(256),
        ] {
            assert_eq!(checked_filename(bad).unwrap_err().status, 400, "{bad:?}");
        }
        for good in [
            "a.txt",
            "..hidden",
            "résumé 2026.pdf",
            "x".repeat(255).as_str(),
        ] {
            assert!(checked_filename(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn names_are_percent_encoded_for_headers() {
        assert_eq!(percent_encode("a b/é.txt"), "a%20b%2F%C3%A9.txt");
    }
}
