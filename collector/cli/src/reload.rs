//! `reload`: the collector re-reads its configuration file (as on SIGHUP).
//!
//! Prints `reloaded` (and the options that need a restart, if any), or
//! with `--json` an object `{ok, error, restart_needed}`. A refused file
//! exits 1 with the collector's `FILE:LINE: reason` (after the object,
//! with `--json`).

use picket_proto::v1 as pb;
use serde_json::json;

use crate::client::{Client, answer};
use crate::render;

pub async fn run(client: &mut Client, json: bool) -> anyhow::Result<String> {
    let r = answer(client.reload(pb::ReloadRequest {})).await?;
    if json {
        let value = json!({ "ok": r.ok, "error": r.error, "restart_needed": r.restart_needed });
        let text = render::object(&value, true)?;
        if r.ok {
            return Ok(text);
        }
        render::print(&text)?;
    }
    if !r.ok {
        anyhow::bail!("reload refused: {}", r.error);
    }
    Ok(match r.restart_needed.as_slice() {
        [] => "reloaded".to_owned(),
        keys => format!(
            "reloaded\nrestart needed for: {} (running values kept)",
            keys.join(", ")
        ),
    })
}
