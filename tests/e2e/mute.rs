//! `picketctl maintenance start web-1 --mode mute --for 1h` through the
//! real binaries: the window's JSON shows its mode, the agent keeps
//! probing (results keep arriving) and no request opens while the service
//! is down; `maintenance end` then opens the held request.

use picket_e2e::target::Target;

use crate::common::{
    EQUIPMENT, SERVICE, assert_starts_with, is_down_with_request, one_service, start,
};

#[tokio::test]
async fn a_mute_window_keeps_probing_and_holds_the_request_until_it_ends() -> anyhow::Result<()> {
    let target = Target::http().await;
    let (c, _agent) = start(one_service(&target.url()), &[]).await?;
    c.wait_state(SERVICE, "up").await?;

    let window = c
        .ctl(&[
            "maintenance",
            "start",
            EQUIPMENT,
            "--mode",
            "mute",
            "--for",
            "1h",
        ])
        .await?;
    assert_eq!(window["mode"], "mute", "{window}");
    assert_eq!(window["active"], true, "{window}");

    target.set_status(500);
    let down = c.wait_state(SERVICE, "down").await?;
    assert!(down["open_request"].is_null(), "{down}");
    // Probes go on: a later result arrives while it is down and muted.
    let seen = down["last_check_at"].clone();
    let later = c
        .wait_service(SERVICE, "a later result", |s| {
            s["last_check_at"] != seen && s["last_status_code"] == 500
        })
        .await?;
    assert_eq!(later["state"], "down", "{later}");
    assert!(
        c.requests().await?.is_empty(),
        "a request opened while muted"
    );

    let ended = c.ctl(&["maintenance", "end", EQUIPMENT]).await?;
    assert_eq!(
        (&ended["mode"], &ended["active"]),
        (&"mute".into(), &false.into()),
        "{ended}"
    );
    c.wait_service(SERVICE, "down with the held request", is_down_with_request)
        .await?;
    let requests = c.requests().await?;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_starts_with(
        &requests[0]["description"],
        "Held by the mute maintenance window on web-1 since ",
        "description",
        &requests[0],
    );
    Ok(())
}
