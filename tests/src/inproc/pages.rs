//! The status pages as a browser fetches them: a GET over HTTP/1.0 on the
//! collector's HTTP listener, with optional request headers.

use super::{Harness, WAIT, within};

/// An HTTP answer.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    /// The header block, lower-cased.
    pub headers: String,
    pub body: String,
}

impl Page {
    /// Whether the body contains `text`, with the body in the message.
    pub fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }
}

impl Harness {
    /// `GET path`.
    pub async fn page(&self, path: &str) -> anyhow::Result<Page> {
        self.page_with(path, &[]).await
    }

    /// `GET path` with `headers`.
    pub async fn page_with(&self, path: &str, headers: &[(&str, &str)]) -> anyhow::Result<Page> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(self.http_addr()).await?;
        let mut request = format!("GET {path} HTTP/1.0\r\nhost: picket\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut raw = String::new();
        within(WAIT, "the page's answer", stream.read_to_string(&mut raw)).await??;
        let (head, body) = raw
            .split_once("\r\n\r\n")
            .ok_or_else(|| anyhow::anyhow!("no header end in {raw:?}"))?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no status in {head:?}"))?;
        Ok(Page {
            status,
            headers: head.to_lowercase(),
            body: body.to_owned(),
        })
    }
}
