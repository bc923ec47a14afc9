//! A stand-in OpenTelemetry collector on loopback, for the tests of OTLP/HTTP
//! export: it answers every request with 200 and hands on what it received.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;

/// One HTTP request as the collector received it.
#[derive(Debug)]
pub struct CollectedRequest {
    /// As sent, e.g. `POST /v1/traces HTTP/1.1\r\n`.
    pub request_line: String,
    /// In order, names lowercased, values trimmed.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl CollectedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the body holds `text` (OTLP protobuf carries strings as is).
    pub fn body_contains(&self, text: &str) -> bool {
        self.body.windows(text.len()).any(|w| w == text.as_bytes())
    }
}

/// Start a collector; returns its base URL (`http://127.0.0.1:port`) and
/// the requests it gets. Each is handed on before it is answered, so it is
/// there once the exporting process has exited.
pub fn collector() -> io::Result<(String, mpsc::Receiver<CollectedRequest>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let Ok(request) = read_request(&stream) else {
                continue;
            };
            if tx.send(request).is_err() {
                return;
            }
            let _ = (&stream).write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    Ok((format!("http://{addr}"), rx))
}

fn read_request(stream: &TcpStream) -> io::Result<CollectedRequest> {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = Vec::new();
    let mut len = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            if k == "content-length" {
                len = v
                    .parse()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            }
            headers.push((k, v));
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    Ok(CollectedRequest {
        request_line,
        headers,
        body,
    })
}
