//! `picket-collector healthcheck [URL]`: one plain-HTTP GET over std's
//! `TcpStream` (default `http://127.0.0.1:8080/healthz`), success on a 2xx
//! status. It is what a container's `HEALTHCHECK` runs, so an image needs
//! no shell and no curl. Plain `http://` only: with `http_tls = true`,
//! check the gRPC health service instead.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The URL checked when none is given.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080/healthz";

/// Why the check failed.
#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    #[error("{0:?} is not an http://HOST:PORT/PATH URL")]
    Url(String),
    #[error("{url}: {error}")]
    Io { url: String, error: std::io::Error },
    #[error("{url}: answered {status:?}")]
    Status { url: String, status: String },
}

/// GETs `url` within `timeout`; `Ok` with the status line on a 2xx answer.
pub fn check(url: &str, timeout: Duration) -> Result<String, HealthcheckError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| HealthcheckError::Url(url.to_owned()))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let io = |error| HealthcheckError::Io {
        url: url.to_owned(),
        error,
    };
    let addr = authority
        .to_socket_addrs()
        .map_err(|_| HealthcheckError::Url(url.to_owned()))?
        .next()
        .ok_or_else(|| HealthcheckError::Url(url.to_owned()))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n") && head.len() < 256 {
        if stream.read(&mut byte).map_err(io)? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    let status = String::from_utf8_lossy(&head).trim().to_owned();
    match status.split(' ').nth(1) {
        Some(code) if code.starts_with('2') && code.len() == 3 => Ok(status),
        _ => Err(HealthcheckError::Status {
            url: url.to_owned(),
            status,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve_once(answer: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            conn.write_all(answer.as_bytes()).unwrap();
        });
        format!("http://{addr}/healthz")
    }

    #[test]
    fn a_2xx_answer_passes_and_a_503_fails() {
        let ok = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n");
        assert_eq!(
            check(&ok, Duration::from_secs(5)).unwrap(),
            "HTTP/1.1 200 OK"
        );
        let down = serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\n");
        let err = check(&down, Duration::from_secs(5)).unwrap_err();
        assert!(err.to_string().contains("503"), "{err}");
    }

    #[test]
    fn a_closed_port_and_a_bad_url_fail_with_their_reason() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/healthz", listener.local_addr().unwrap());
        drop(listener);
        assert!(matches!(
            check(&url, Duration::from_secs(5)),
            Err(HealthcheckError::Io { .. })
        ));
        assert!(matches!(
            check("https://127.0.0.1:1/", Duration::from_secs(1)),
            Err(HealthcheckError::Url(_))
        ));
    }
}
