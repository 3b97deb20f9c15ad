//! A plain HTTP/1.1 GET to a device on the LAN (Shelly, Tasmota, ...): one
//! request per connection, bodies by length, chunked or to the close.
//! For internet hosts use the SDK's `http` module (its `http` feature),
//! which goes through the hub: the two name their pieces alike.

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
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// `GET target` (a path with its query) from `peer`; each connect, read and
/// write must finish within `timeout`. Reading stops once the response is
/// complete (by length or last chunk), or at the close for bodies without
/// either.
pub fn get(peer: SocketAddr, target: &str, timeout: Duration) -> Result<Response, PluginError> {
    let mut stream = connect(peer, timeout)?;
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {peer}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| io_error(e, "send to", peer))?;
    let mut raw = Vec::new();
    let mut chunk = vec![0u8; 8192];
    loop {
        let n = stream
            .read(&mut chunk)
            .map_err(|e| io_error(e, "read from", peer))?;
        raw.extend_from_slice(&chunk[..n]);
        if raw.len() > MAX_RESPONSE {
            let why = format!("answered more than {MAX_RESPONSE} bytes");
            return Err(invalid(peer, why));
        }
        if let Some(response) = parse(&raw, n == 0).map_err(|why| invalid(peer, why))? {
            return Ok(response);
        }
    }
}

fn invalid(peer: SocketAddr, why: String) -> PluginError {
    PluginError::InvalidArgument(format!("{peer} {why}"))
}

/// The response in `raw`, `None` while more is to come; `closed` says the
/// peer has closed the connection, so nothing more will.
fn parse(raw: &[u8], closed: bool) -> Result<Option<Response>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let start = match response.parse(raw) {
        Ok(httparse::Status::Complete(start)) => start,
        Ok(httparse::Status::Partial) if closed => {
            return Err("closed before the headers ended".into());
        }
        Ok(httparse::Status::Partial) => return Ok(None),
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
        rest.get(..length).map(<[u8]>::to_vec)
    } else {
        closed.then(|| rest.to_vec())
    };
    match body {
        Some(body) => Ok(Some(Response {
            status: response.code.unwrap_or_default(),
            body,
        })),
        None if closed => Err("closed before the body ended".into()),
        None => Ok(None),
    }
}

/// The chunked body, `None` while its last chunk has not arrived.
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "sent a bad chunk size")?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(Some(body));
        }
        let (Some(data), Some(after)) = (rest.get(..size), rest.get(size + 2..)) else {
            return Ok(None);
        };
        body.extend_from_slice(data);
        rest = after;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(raw: &[u8]) -> Response {
        parse(raw, false)
            .unwrap()
            .expect("complete before the close")
    }

    #[test]
    fn reads_bodies_by_length_chunked_and_to_the_close() {
        let by_length = complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra");
        assert_eq!((by_length.status, by_length.body), (200, b"{}".to_vec()));
        let chunked = complete(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n",
        );
        assert_eq!(chunked.body, b"{\"a\":1}".to_vec());
        let to_close = b"HTTP/1.0 404 Not Found\r\n\r\nnope";
        assert!(
            parse(to_close, false).unwrap().is_none(),
            "runs to the close"
        );
        let to_close = parse(to_close, true).unwrap().unwrap();
        assert_eq!((to_close.status, to_close.body), (404, b"nope".to_vec()));
    }

    #[test]
    fn waits_for_the_rest_and_refuses_truncated_or_malformed_responses() {
        let short = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}";
        assert!(parse(short, false).unwrap().is_none());
        assert!(parse(short, true).is_err());
        let open_chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a";
        assert!(parse(open_chunk, false).unwrap().is_none());
        assert!(
            parse(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                false
            )
            .is_err()
        );
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-", true).is_err());
        assert!(parse(b"garbage\r\n\r\n", false).is_err());
    }
}
