//! The harness's calls for paused services and requests handled by hand:
//! `ListServices`, `CloseRequest`, `AddRequestNote`, `AcknowledgeRequest`,
//! and a restart on an edited configuration file (to pause or resume a
//! service).

use picket_proto::v1 as api;

use super::{Harness, admin};

impl Harness {
    /// `ListServices`: every configured service, paused ones included.
    pub async fn services(&self) -> anyhow::Result<Vec<api::Service>> {
        let request = admin(api::ListServicesRequest::default());
        Ok(self
            .client
            .clone()
            .list_services(request)
            .await?
            .into_inner()
            .services)
    }

    /// `CloseRequest` as the admin; the gRPC status when refused.
    pub async fn close_request(&self, id: i64, note: &str) -> Result<api::Request, tonic::Status> {
        let request = admin(api::CloseRequestRequest {
            id,
            note: note.into(),
        });
        Ok(self
            .client
            .clone()
            .close_request(request)
            .await?
            .into_inner())
    }

    /// `AddRequestNote` as the admin; the gRPC status when refused.
    pub async fn add_note(&self, id: i64, text: &str) -> Result<api::Request, tonic::Status> {
        let request = admin(api::AddRequestNoteRequest {
            id,
            text: text.into(),
        });
        Ok(self
            .client
            .clone()
            .add_request_note(request)
            .await?
            .into_inner())
    }

    /// `AcknowledgeRequest` as the admin, by `by`; the gRPC status when
    /// refused.
    pub async fn acknowledge(&self, id: i64, by: &str) -> Result<api::Request, tonic::Status> {
        let request = admin(api::AcknowledgeRequestRequest {
            id,
            by: by.into(),
            note: String::new(),
        });
        Ok(self
            .client
            .clone()
            .acknowledge_request(request)
            .await?
            .into_inner())
    }

    /// Stops the collector, rewrites its configuration file with `edit`
    /// (of the file's text, placeholders filled) and starts it again on the
    /// same ports and database.
    pub async fn restart_edited(
        &mut self,
        edit: impl FnOnce(&str) -> String,
    ) -> anyhow::Result<()> {
        self.stop().await?;
        self.config_text = edit(&self.config_text);
        std::fs::write(&self.config_path, &self.config_text)?;
        self.run().await
    }
}
