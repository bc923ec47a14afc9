//! Just enough HTTP/1.1 to stand in for a model API: request parsing with
//! Content-Length or chunked bodies and keep-alive, and response writing with
//! chunked transfer encoding. Written by hand so tests control every byte
//! (where a stream breaks, whether the terminating chunk is sent).

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024 * 1024;

#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub http10: bool,
    /// Names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn keep_alive(&self) -> bool {
        let connection = self
            .header("connection")
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        if self.http10 {
            connection.contains("keep-alive")
        } else {
            !connection.contains("close")
        }
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Read more bytes into `buf`; `false` at end of stream.
async fn fill(sock: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    let n = sock.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

async fn fill_to(sock: &mut TcpStream, buf: &mut Vec<u8>, len: usize) -> io::Result<()> {
    while buf.len() < len {
        if !fill(sock, buf).await? {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a request body",
            ));
        }
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Read one request. `buf` keeps bytes past its end for the next request on
/// the connection. `Ok(None)` when the client closed the connection between
/// requests.
pub async fn read_request(sock: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Option<Request>> {
    let head_end = loop {
        if let Some(pos) = find(buf, b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD {
            return Err(invalid("request head too large"));
        }
        if !fill(sock, buf).await? {
            if buf.iter().all(u8::is_ascii_whitespace) {
                return Ok(None);
            }
            return Err(invalid("connection closed inside a request head"));
        }
    };
    let head = String::from_utf8(buf[..head_end].to_vec())
        .map_err(|_| invalid("request head is not UTF-8"))?;
    buf.drain(..head_end + 4);

    // Tolerate stray CRLFs between requests (RFC 9112 §2.2).
    let mut lines = head.split("\r\n").skip_while(|l| l.is_empty());
    let request_line = lines.next().ok_or_else(|| invalid("empty request"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(format!("bad request line: {request_line}")));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(invalid(format!("unsupported version: {version}")));
    }
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line: {line}")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut request = Request {
        method: method.to_string(),
        target: target.to_string(),
        http10: version == "HTTP/1.0",
        headers,
        body: Vec::new(),
    };

    if request
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        sock.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }

    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        request.body = read_chunked(sock, buf).await?;
    } else if let Some(len) = request.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| invalid(format!("bad content-length: {len}")))?;
        if len > MAX_BODY {
            return Err(invalid("request body too large"));
        }
        fill_to(sock, buf, len).await?;
        request.body = buf.drain(..len).collect();
    }
    Ok(Some(request))
}

async fn read_chunked(sock: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(pos) = find(buf, b"\r\n") {
                break pos;
            }
            if buf.len() > MAX_HEAD {
                return Err(invalid("chunk size line too long"));
            }
            fill_to(sock, buf, buf.len() + 1).await?;
        };
        let line = String::from_utf8_lossy(&buf[..line_end]).to_string();
        buf.drain(..line_end + 2);
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| invalid(format!("bad chunk size: {line}")))?;
        if size == 0 {
            // Trailer fields, if any, up to an empty line.
            loop {
                let end = loop {
                    if let Some(pos) = find(buf, b"\r\n") {
                        break pos;
                    }
                    fill_to(sock, buf, buf.len() + 1).await?;
                };
                buf.drain(..end + 2);
                if end == 0 {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(invalid("request body too large"));
        }
        fill_to(sock, buf, size + 2).await?;
        body.extend(buf.drain(..size));
        buf.drain(..2);
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// The status line and headers. `extra` overrides a default of the same name.
pub fn head(status: u16, defaults: &[(&str, String)], extra: &[(String, String)]) -> String {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in defaults {
        if !extra.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    for (name, value) in extra {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out
}

/// Write `data` as one chunk of a chunked body (or several of at most
/// `piece` bytes), flushed so the client sees it now.
pub async fn write_chunk(
    sock: &mut TcpStream,
    data: &[u8],
    piece: Option<usize>,
) -> io::Result<()> {
    let piece = piece.unwrap_or(data.len()).max(1);
    for part in data.chunks(piece) {
        let mut frame = format!("{:x}\r\n", part.len()).into_bytes();
        frame.extend_from_slice(part);
        frame.extend_from_slice(b"\r\n");
        sock.write_all(&frame).await?;
        sock.flush().await?;
    }
    Ok(())
}

pub async fn write_last_chunk(sock: &mut TcpStream) -> io::Result<()> {
    sock.write_all(b"0\r\n\r\n").await?;
    sock.flush().await
}

/// Block until the peer closes the connection (or errors).
pub async fn wait_for_close(sock: &mut TcpStream) {
    let mut scratch = [0u8; 4096];
    loop {
        match sock.read(&mut scratch).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
