//! The harness's push check-ins: pings and registrations over plain HTTP
//! (from a chosen loopback source address), and the heartbeat RPCs.

use std::net::IpAddr;

use picket_proto::v1 as api;

use super::{Harness, HttpAnswer, admin};

impl Harness {
    /// `POST path` with a JSON `body` (none when `None`) and `headers`,
    /// from `source`.
    pub async fn http_post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
        source: Option<IpAddr>,
    ) -> anyhow::Result<HttpAnswer> {
        let body = body.unwrap_or_default();
        let mut request = format!(
            "POST {path} HTTP/1.0\r\nhost: picket\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        self.http_raw(&request, source).await
    }

    /// `POST /ping/{token}` with an optional JSON body, from `source`.
    pub async fn ping(
        &self,
        token: &str,
        body: Option<&str>,
        source: Option<IpAddr>,
    ) -> anyhow::Result<HttpAnswer> {
        self.http_post(&format!("/ping/{token}"), &[], body, source)
            .await
    }

    /// `GetHeartbeat`.
    pub async fn heartbeat(&self, id: &str) -> anyhow::Result<api::Heartbeat> {
        let request = admin(api::HeartbeatRef { id: id.into() });
        Ok(self
            .client
            .clone()
            .get_heartbeat(request)
            .await?
            .into_inner())
    }

    /// `IssueHeartbeatToken`: the new token.
    pub async fn heartbeat_token(&self, id: &str) -> anyhow::Result<String> {
        let request = admin(api::HeartbeatRef { id: id.into() });
        let answer = self.client.clone().issue_heartbeat_token(request).await?;
        Ok(answer.into_inner().token)
    }

    /// `ApproveHeartbeat`.
    pub async fn approve_heartbeat(&self, id: &str) -> anyhow::Result<api::Heartbeat> {
        let request = admin(api::HeartbeatRef { id: id.into() });
        Ok(self
            .client
            .clone()
            .approve_heartbeat(request)
            .await?
            .into_inner())
    }

    /// `SuspendHeartbeat`.
    pub async fn suspend_heartbeat(&self, id: &str) -> anyhow::Result<api::Heartbeat> {
        let request = admin(api::HeartbeatRef { id: id.into() });
        Ok(self
            .client
            .clone()
            .suspend_heartbeat(request)
            .await?
            .into_inner())
    }
}
