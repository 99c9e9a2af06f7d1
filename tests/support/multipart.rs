//! Request body decoding. Serenity sends attachments as `multipart/form-data` with the JSON in
//! a `payload_json` part and files in `files[N]` parts; axum's multipart extractor is not enabled
//! in this crate, and a tiny parser is enough for what serenity produces.

use serde_json::{json, Value};

#[derive(Clone)]
pub(super) struct FilePart {
    pub name: String,
    pub data: Vec<u8>,
}

pub(super) struct Decoded {
    /// The JSON payload (`payload_json` for multipart), `Null` when there is no body.
    pub payload: Value,
    pub files: Vec<FilePart>,
    pub multipart: bool,
}

impl Decoded {
    /// What `RecordedRequest::body` shows: the payload plus, for multipart, a `files` list.
    pub fn recorded(&self) -> Value {
        if !self.multipart {
            return self.payload.clone();
        }
        let files: Vec<Value> = self
            .files
            .iter()
            .map(|f| {
                let content = String::from_utf8_lossy(&f.data);
                json!({"name": f.name, "size": f.data.len(), "content": content})
            })
            .collect();
        let mut body = match &self.payload {
            Value::Object(_) => self.payload.clone(),
            Value::Null => json!({}),
            other => json!({"payload_json": other}),
        };
        body["files"] = json!(files);
        body
    }
}

pub(super) fn decode(content_type: Option<&str>, body: &[u8]) -> Decoded {
    let boundary = content_type
        .filter(|ct| ct.starts_with("multipart/form-data"))
        .and_then(|ct| param(ct, "boundary"));
    if let Some(boundary) = boundary {
        return decode_multipart(&boundary, body);
    }
    let payload = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
    };
    Decoded {
        payload,
        files: Vec::new(),
        multipart: false,
    }
}

fn decode_multipart(boundary: &str, body: &[u8]) -> Decoded {
    let mut decoded = Decoded {
        payload: Value::Null,
        files: Vec::new(),
        multipart: true,
    };
    for part in split_parts(body, boundary) {
        let Some(split) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let headers = String::from_utf8_lossy(&part[..split]);
        let content = &part[split + 4..];
        let disposition = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
            .unwrap_or_default();
        let field = param(disposition, "name").unwrap_or_default();
        match param(disposition, "filename") {
            Some(name) => decoded.files.push(FilePart {
                name,
                data: content.to_vec(),
            }),
            None if field == "payload_json" => {
                decoded.payload = serde_json::from_slice(content).unwrap_or(Value::Null);
            }
            None => {}
        }
    }
    decoded
}

/// The parts between `--boundary` delimiters, without their trailing CRLF.
fn split_parts<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let Some(start) = find(body, &delimiter) else {
        return parts;
    };
    let mut rest = &body[start + delimiter.len()..];
    while !rest.starts_with(b"--") {
        let after = rest.strip_prefix(b"\r\n").unwrap_or(rest);
        let Some(end) = find(after, &delimiter) else {
            break;
        };
        let part = &after[..end];
        parts.push(part.strip_suffix(b"\r\n").unwrap_or(part));
        rest = &after[end + delimiter.len()..];
    }
    parts
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `key=value` or `key="value"` among the `;`-separated parameters of a header value.
fn param(header: &str, key: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        (k.eq_ignore_ascii_case(key)).then(|| v.trim().trim_matches('"').to_string())
    })
}
