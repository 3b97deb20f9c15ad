//! A plain HTTP/1.1 GET to a device on the LAN (Shelly, Tasmota, ...): one
//! request per connection, bodies by length, chunked or to the close.
//! For internet hosts use [`crate::http`], which goes through the hub.

use super::{connect, io_error};
use crate::PluginError;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

/// Larger responses are refused: a device cannot make the plugin buffer
/// without bound.
pub const MAX_RESPONSE: usize = 1 << 20;
const MAX_HEADERS: usize = 64;

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// `GET target` (a path with its query) from `peer`; each connect, read and
/// write must finish within `timeout`.
pub fn http_get(
    peer: SocketAddr,
    target: &str,
    timeout: Duration,
) -> Result<HttpResponse, PluginError> {
    let mut stream = connect(peer, timeout)?;
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {peer}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| io_error(e, "send to", peer))?;
    let mut raw = Vec::new();
    stream
        .take(MAX_RESPONSE as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| io_error(e, "read from", peer))?;
    if raw.len() > MAX_RESPONSE {
        return Err(invalid(
            peer,
            format!("answered more than {MAX_RESPONSE} bytes"),
        ));
    }
    parse(&raw).map_err(|why| invalid(peer, why))
}

fn invalid(peer: SocketAddr, why: String) -> PluginError {
    PluginError::InvalidArgument(format!("{peer} {why}"))
}

fn parse(raw: &[u8]) -> Result<HttpResponse, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let start = match response.parse(raw) {
        Ok(httparse::Status::Complete(start)) => start,
        Ok(httparse::Status::Partial) => return Err("closed before the headers ended".into()),
        Err(e) => return Err(format!("sent a malformed HTTP response: {e}")),
    };
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
    };
    let rest = &raw[start..];
    let body = if header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        dechunk(rest)?
    } else if let Some(length) = header("content-length") {
        let length: usize = length.parse().map_err(|_| "sent a bad Content-Length")?;
        rest.get(..length)
            .ok_or("closed before the body ended")?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(HttpResponse {
        status: response.code.unwrap_or_default(),
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("sent a truncated chunk")?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "sent a bad chunk size")?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(rest.get(..size).ok_or("sent a truncated chunk")?);
        rest = rest.get(size + 2..).ok_or("sent a truncated chunk")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bodies_by_length_chunked_and_to_the_close() {
        let by_length = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra").unwrap();
        assert_eq!((by_length.status, by_length.body), (200, b"{}".to_vec()));
        let chunked = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(chunked.body, b"{\"a\":1}".to_vec());
        let to_close = parse(b"HTTP/1.0 404 Not Found\r\n\r\nnope").unwrap();
        assert_eq!((to_close.status, to_close.body), (404, b"nope".to_vec()));
    }

    #[test]
    fn refuses_truncated_or_malformed_responses() {
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}").is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-").is_err());
        assert!(parse(b"garbage\r\n\r\n").is_err());
    }
}
