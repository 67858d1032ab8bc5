//! Streaming `multipart/form-data` (RFC 7578): parts are read one after the
//! other, each part's content in chunks, so an upload never has to fit in
//! memory.

use std::io::Read;

use crate::ApiError;
use crate::http::Request;

/// Bytes read from the body at a time.
const READ_SIZE: usize = 64 * 1024;
/// The most bytes of headers one part may have.
const MAX_HEADER_BYTES: usize = 8 * 1024;

/// What a part's headers say about it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Part {
    /// The form field's name.
    pub name: String,
    /// The file name, for a file field.
    pub filename: Option<String>,
    /// The part's `Content-Type`, if it has one.
    pub content_type: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the first delimiter.
    Preamble,
    /// Just after a delimiter: a part's headers or the closing `--` follow.
    Delimiter,
    /// Inside a part's content.
    Content,
    /// After the closing delimiter.
    Done,
}

/// A multipart body being read.
pub struct Multipart<R> {
    reader: R,
    /// `\r\n--boundary`: what ends every part.
    delimiter: Vec<u8>,
    buffer: Vec<u8>,
    eof: bool,
    state: State,
}

impl Multipart<Box<dyn Read>> {
    /// The body of `request`, which must be `multipart/form-data` with a
    /// boundary (415 otherwise).
    pub fn from_request(request: &Request) -> Result<Self, ApiError> {
        if request.media_type() != "multipart/form-data" {
            return Err(ApiError::unsupported_media_type(
                "the request body must be multipart/form-data",
            ));
        }
        let content_type = request.header("content-type").unwrap_or("");
        let boundary = parameter(content_type, "boundary")
            .filter(|b| (1..=70).contains(&b.len()))
            .ok_or_else(|| {
                ApiError::invalid("the multipart/form-data content type has no valid boundary")
            })?;
        Ok(Self::new(request.body_reader()?, &boundary))
    }
}

impl<R: Read> Multipart<R> {
    /// Parts read from `reader`, separated by `boundary` (without its leading dashes).
    pub fn new(reader: R, boundary: &str) -> Self {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        Self {
            reader,
            delimiter,
            // The body's first delimiter has no line break before it: add one
            // so that every delimiter looks the same.
            buffer: b"\r\n".to_vec(),
            eof: false,
            state: State::Preamble,
        }
    }

    /// The next part's headers, skipping what is left of the current part;
    /// `None` after the last part.
    pub fn next_part(&mut self) -> Result<Option<Part>, ApiError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Content => while self.read_chunk()?.is_some() {},
                State::Preamble => self.skip_preamble()?,
                State::Delimiter => return self.after_delimiter(),
            }
        }
    }

    /// The next bytes of the current part's content; `None` at its end.
    pub fn read_chunk(&mut self) -> Result<Option<Vec<u8>>, ApiError> {
        if self.state != State::Content {
            return Ok(None);
        }
        loop {
            if let Some(at) = find(&self.buffer, &self.delimiter) {
                if at > 0 {
                    return Ok(Some(self.buffer.drain(..at.min(READ_SIZE)).collect()));
                }
                self.buffer.drain(..self.delimiter.len());
                self.state = State::Delimiter;
                return Ok(None);
            }
            // Everything but a possible start of the delimiter is content.
            let safe = self.buffer.len().saturating_sub(self.delimiter.len() - 1);
            if safe >= READ_SIZE || (safe > 0 && self.eof) {
                return Ok(Some(self.buffer.drain(..safe.min(READ_SIZE)).collect()));
            }
            if !self.fill()? {
                return Err(ApiError::invalid("the multipart body ended inside a part"));
            }
        }
    }

    fn skip_preamble(&mut self) -> Result<(), ApiError> {
        loop {
            if let Some(at) = find(&self.buffer, &self.delimiter) {
                self.buffer.drain(..at + self.delimiter.len());
                self.state = State::Delimiter;
                return Ok(());
            }
            let keep = self.delimiter.len() - 1;
            if self.buffer.len() > keep {
                self.buffer.drain(..self.buffer.len() - keep);
            }
            if !self.fill()? {
                return Err(ApiError::invalid(
                    "the multipart body has no part (no boundary found)",
                ));
            }
        }
    }

    fn after_delimiter(&mut self) -> Result<Option<Part>, ApiError> {
        self.fill_to(2)?;
        if self.buffer.starts_with(b"--") {
            self.state = State::Done;
            return Ok(None);
        }
        // Transport padding (spaces, tabs) may follow a delimiter.
        while self
            .buffer
            .first()
            .is_some_and(|b| *b == b' ' || *b == b'\t')
        {
            self.buffer.remove(0);
            self.fill_to(2)?;
        }
        if !self.buffer.starts_with(b"\r\n") {
            return Err(ApiError::invalid(
                "malformed multipart body: a boundary is not followed by a line break",
            ));
        }
        self.buffer.drain(..2);
        let part = self.read_headers()?;
        self.state = State::Content;
        Ok(Some(part))
    }

    fn read_headers(&mut self) -> Result<Part, ApiError> {
        let end = loop {
            if self.buffer.starts_with(b"\r\n") {
                break 0;
            }
            if let Some(at) = find(&self.buffer, b"\r\n\r\n") {
                break at + 2;
            }
            if self.buffer.len() > MAX_HEADER_BYTES {
                return Err(ApiError::too_large(format!(
                    "a multipart part has more than {MAX_HEADER_BYTES} bytes of headers"
                )));
            }
            if !self.fill()? {
                return Err(ApiError::invalid(
                    "the multipart body ended inside a part's headers",
                ));
            }
        };
        let headers: Vec<u8> = self.buffer.drain(..end + 2).collect();
        let headers = std::str::from_utf8(&headers[..end])
            .map_err(|_| ApiError::invalid("a multipart part's headers are not valid UTF-8"))?;
        parse_part_headers(headers)
    }

    /// Reads until the buffer holds at least `n` bytes (or the body ends).
    fn fill_to(&mut self, n: usize) -> Result<(), ApiError> {
        while self.buffer.len() < n && self.fill()? {}
        Ok(())
    }

    /// Reads more of the body; false at its end.
    fn fill(&mut self) -> Result<bool, ApiError> {
        if self.eof {
            return Ok(false);
        }
        let start = self.buffer.len();
        self.buffer.resize(start + READ_SIZE, 0);
        let read = self.reader.read(&mut self.buffer[start..]);
        let n = read.map_err(|e| {
            self.buffer.truncate(start);
            ApiError::invalid(format!("could not read the request body: {e}"))
        })?;
        self.buffer.truncate(start + n);
        self.eof = n == 0;
        Ok(n > 0)
    }
}

fn parse_part_headers(headers: &str) -> Result<Part, ApiError> {
    let mut part = Part::default();
    let mut disposition = None;
    for line in headers.split("\r\n").filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| ApiError::invalid(format!("malformed multipart header {line:?}")))?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-disposition" => disposition = Some(value.trim().to_owned()),
            "content-type" => part.content_type = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    let disposition = disposition
        .ok_or_else(|| ApiError::invalid("a multipart part has no Content-Disposition"))?;
    let kind = disposition.split(';').next().unwrap_or("").trim();
    if !kind.eq_ignore_ascii_case("form-data") {
        return Err(ApiError::invalid(
            "a multipart part's Content-Disposition is not form-data",
        ));
    }
    let params = parameters(&disposition).ok_or_else(|| {
        ApiError::invalid(format!("malformed Content-Disposition {disposition:?}"))
    })?;
    let get = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    part.name = get("name")
        .cloned()
        .ok_or_else(|| ApiError::invalid("a multipart part has no field name"))?;
    // RFC 6266: an extended `filename*` wins over a plain `filename`.
    part.filename = match get("filename*") {
        Some(extended) => Some(decode_ext_value(extended).ok_or_else(|| {
            ApiError::invalid(format!("malformed filename* parameter {extended:?}"))
        })?),
        None => get("filename").cloned(),
    };
    Ok(part)
}

/// The value of parameter `name` in a header value such as
/// `multipart/form-data; boundary="x"`, unquoted.
fn parameter(header: &str, name: &str) -> Option<String> {
    parameters(header)?
        .into_iter()
        .find_map(|(n, v)| n.eq_ignore_ascii_case(name).then_some(v))
}

/// The parameters after a header value's first `;`, as RFC 9110 writes
/// them: `name=token` or `name="quoted string"` (where `\` escapes the next
/// character, so `;` and `"` may appear inside), names lowercased. `None`
/// for an unterminated quoted string or a parameter without `=`.
fn parameters(header: &str) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    let mut rest = header.split_once(';').map_or("", |(_, r)| r);
    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        if rest.is_empty() {
            return Some(params);
        }
        let (name, after) = rest.split_once('=')?;
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() || name.contains(';') {
            return None;
        }
        let after = after.trim_start_matches([' ', '\t']);
        let (value, remainder) = match after.strip_prefix('"') {
            Some(quoted) => quoted_string(quoted)?,
            None => {
                let end = after.find(';').unwrap_or(after.len());
                (after[..end].trim_end().to_owned(), &after[end..])
            }
        };
        params.push((name, value));
        rest = remainder;
    }
}

/// Reads a quoted string whose opening quote is already consumed: its
/// unescaped text, and what follows the closing quote.
fn quoted_string(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[at + 1..])),
            '\\' => value.push(chars.next()?.1),
            c => value.push(c),
        }
    }
    None
}

/// An RFC 8187 extended value, `charset'language'percent-encoded`, in
/// UTF-8 or ISO-8859-1.
fn decode_ext_value(value: &str) -> Option<String> {
    let mut pieces = value.splitn(3, '\'');
    let (charset, _language, encoded) = (pieces.next()?, pieces.next()?, pieces.next()?);
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut rest = encoded.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    if charset.eq_ignore_ascii_case("utf-8") {
        String::from_utf8(bytes).ok()
    } else if charset.eq_ignore_ascii_case("iso-8859-1") {
        Some(bytes.into_iter().map(char::from).collect())
    } else {
        None
    }
}

/// Where `needle` first occurs in `haystack` (a vectorised substring
/// search: bodies are scanned for the boundary byte by byte otherwise).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    /// Yields at most `step` bytes per read, to cut delimiters in two.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    const BODY: &[u8] = b"preamble\r\n--XyZ\r\n\
        Content-Disposition: form-data; name=\"note\"\r\n\r\n\
        hello\r\n--XyZ\r\n\
        Content-Disposition: form-data; name=\"file\"; filename=\"a b.txt\"\r\n\
        Content-Type: text/plain\r\n\r\n\
        line one\r\n--XyW is not a delimiter\r\n\r\n--XyZ--\r\n";

    fn parts(data: &[u8], step: usize) -> Result<Vec<(Part, Vec<u8>)>, ApiError> {
        let mut multipart = Multipart::new(Trickle { data, step }, "XyZ");
        let mut parts = Vec::new();
        while let Some(part) = multipart.next_part()? {
            let mut content = Vec::new();
            while let Some(chunk) = multipart.read_chunk()? {
                content.extend(chunk);
            }
            parts.push((part, content));
        }
        Ok(parts)
    }

    #[test]
    fn reads_every_part_whatever_the_read_size() {
        for step in [1, 2, 3, 7, 64, 100_000] {
            let parts = parts(BODY, step).unwrap();
            assert_eq!(parts.len(), 2, "step {step}");
            assert_eq!(parts[0].0.name, "note");
            assert_eq!(parts[0].1, b"hello");
            assert_eq!(parts[1].0.filename.as_deref(), Some("a b.txt"));
            assert_eq!(parts[1].0.content_type.as_deref(), Some("text/plain"));
            assert_eq!(parts[1].1, b"line one\r\n--XyW is not a delimiter\r\n");
        }
    }

    #[test]
    fn a_large_part_comes_in_bounded_chunks() {
        let content = vec![b'x'; 5 * READ_SIZE + 17];
        let mut body = b"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n".to_vec();
        body.extend(&content);
        body.extend(b"\r\n--b--");
        let mut multipart = Multipart::new(&body[..], "b");
        multipart.next_part().unwrap().unwrap();
        let mut total = 0;
        while let Some(chunk) = multipart.read_chunk().unwrap() {
            assert!(chunk.len() <= READ_SIZE);
            total += chunk.len();
        }
        assert_eq!(total, content.len());
    }

    #[test]
    fn finds_the_first_whole_occurrence() {
        assert_eq!(find(b"ab\r\n-\r\n--b", b"\r\n--b"), Some(5));
        assert_eq!(find(b"\r\n--", b"\r\n--b"), None);
        assert_eq!(find(b"", b"\r\n--b"), None);
        assert_eq!(find(b"xx\r\n--b", b"\r\n--b"), Some(2));
    }

    fn disposition(value: &str) -> Result<Part, ApiError> {
        parse_part_headers(&format!("Content-Disposition: {value}"))
    }

    #[test]
    fn quoted_parameters_may_hold_semicolons_quotes_and_backslashes() {
        let part = disposition(r#"form-data; name="file"; filename="a;b.txt""#).unwrap();
        assert_eq!(part.filename.as_deref(), Some("a;b.txt"));
        let part = disposition(r#"form-data; name="f"; filename="say \"hi\"; \\o/.txt""#).unwrap();
        assert_eq!(part.filename.as_deref(), Some(r#"say "hi"; \o/.txt"#));
        let part = disposition("form-data;name=file ; filename = plain.txt").unwrap();
        assert_eq!(
            (part.name.as_str(), part.filename.as_deref()),
            ("file", Some("plain.txt"))
        );
        let part = disposition(r#"form-data; NAME="x"; Filename="y""#).unwrap();
        assert_eq!(
            (part.name.as_str(), part.filename.as_deref()),
            ("x", Some("y"))
        );
    }

    #[test]
    fn an_extended_filename_wins_and_is_percent_decoded() {
        let part = disposition(
            r#"form-data; name="file"; filename="fallback.txt"; filename*=UTF-8''na%C3%AFve%20%E2%82%AC.txt"#,
        )
        .unwrap();
        assert_eq!(part.filename.as_deref(), Some("naïve €.txt"));
        let part = disposition("form-data; name=file; filename*=iso-8859-1'en'caf%E9.txt").unwrap();
        assert_eq!(part.filename.as_deref(), Some("café.txt"));
        for bad in [
            "form-data; name=file; filename*=UTF-8''bad%ZZ",
            "form-data; name=file; filename*=UTF-8''%FF",
            "form-data; name=file; filename*=koi8-r''x",
            "form-data; name=file; filename*=no-quotes",
        ] {
            assert_eq!(disposition(bad).unwrap_err().status, 400, "{bad}");
        }
    }

    #[test]
    fn malformed_dispositions_are_a_400() {
        for bad in [
            r#"form-data; name="file; filename="x""#,
            r#"form-data; name="unterminated"#,
            "form-data; name",
            "form-data; filename=x",
        ] {
            assert_eq!(disposition(bad).unwrap_err().status, 400, "{bad}");
        }
    }

    #[test]
    fn a_truncated_body_is_a_400() {
        let cut = &BODY[..BODY.len() - 40];
        assert_eq!(parts(cut, 5).unwrap_err().status, 400);
        assert_eq!(parts(b"no boundary at all", 5).unwrap_err().status, 400);
    }

    #[test]
    fn a_part_without_a_form_data_disposition_is_a_400() {
        let body = b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--";
        assert_eq!(parts_of(body).unwrap_err().status, 400);
    }

    fn parts_of(body: &[u8]) -> Result<Vec<(Part, Vec<u8>)>, ApiError> {
        let mut multipart = Multipart::new(body, "b");
        let mut out = Vec::new();
        while let Some(part) = multipart.next_part()? {
            out.push((part, Vec::new()));
        }
        Ok(out)
    }

    #[test]
    fn requests_need_the_multipart_media_type_and_a_boundary() {
        let json =
            Request::new(Method::Post, "/u", "{}").with_header("content-type", "application/json");
        assert_eq!(Multipart::from_request(&json).err().unwrap().status, 415);
        let no_boundary =
            Request::new(Method::Post, "/u", "").with_header("content-type", "multipart/form-data");
        assert_eq!(
            Multipart::from_request(&no_boundary).err().unwrap().status,
            400
        );
        let ok = Request::new(Method::Post, "/u", BODY)
            .with_header("content-type", "multipart/form-data; boundary=\"XyZ\"");
        let mut multipart = Multipart::from_request(&ok).unwrap();
        assert_eq!(multipart.next_part().unwrap().unwrap().name, "note");
    }
}
