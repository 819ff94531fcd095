//! Paging of the list calls through the running collector (issue 10):
//! 12,000 services listed in pages of 5000 through the API and through the
//! real `picketctl` binary (which follows the pages by itself, `--limit`
//! stopping early); an old client without `page_size` gets the first 500
//! and a token; a bad token, a token under other filters, a token of
//! another list and a page_size over 5000 are `INVALID_ARGUMENT` naming the
//! field.

use std::time::Duration;

use picket_e2e::config::Service;
use picket_e2e::inproc::{Harness, within};
use picket_proto::contract::limits::MAX_API_MESSAGE_BYTES;
use picket_proto::prost::Message;
use picket_proto::v1 as api;
use tonic::Code;

use crate::common::{SERVICE, one_equipment, one_service};

const MANY: usize = 12_000;

/// `MANY` services over two equipment (`web-1` from the common set-up and
/// `web-2`), with ids of uneven length so that order is by text.
fn many_services() -> (picket_e2e::Config, Vec<String>) {
    let mut config = one_equipment().equipment("web-2", "Web 2");
    let mut expected = Vec::with_capacity(MANY);
    for i in 0..MANY {
        let (id, equipment) = (
            format!("svc-{i}"),
            if i % 3 == 0 { "web-2" } else { "web-1" },
        );
        config = config.service(Service::new(&id, equipment, &format!("http://{id}.test/")));
        expected.push((equipment, id));
    }
    expected.sort();
    (config, expected.into_iter().map(|(_, id)| id).collect())
}

/// Every page of ListServices at `page_size`, as (rows, encoded bytes) per
/// page, the ids in the order received.
async fn walk(h: &Harness, page_size: u32) -> anyhow::Result<(Vec<(usize, usize)>, Vec<String>)> {
    let (mut pages, mut ids, mut page_token) = (Vec::new(), Vec::new(), String::new());
    loop {
        let request = api::ListServicesRequest {
            page_size,
            page_token,
            ..Default::default()
        };
        let page = h.client().list_services(request).await?.into_inner();
        pages.push((page.services.len(), page.encoded_len()));
        ids.extend(page.services.into_iter().map(|s| s.id));
        if page.next_page_token.is_empty() {
            return Ok((pages, ids));
        }
        page_token = page.next_page_token;
    }
}

/// `picketctl --collector … ARGS --json` against the harness, parsed.
async fn picketctl(h: &Harness, args: &[&str]) -> anyhow::Result<Vec<serde_json::Value>> {
    let run = tokio::process::Command::new(picket_e2e::binary("picketctl")?)
        .arg("--collector")
        .arg(format!("http://{}", h.grpc_addr()))
        .args(args)
        .arg("--json")
        .kill_on_drop(true)
        .output();
    let out = within(Duration::from_secs(60), "picketctl to finish", run).await??;
    anyhow::ensure!(
        out.status.success(),
        "picketctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

#[tokio::test(start_paused = true)]
async fn twelve_thousand_services_come_in_pages_of_5000_and_through_picketctl() -> anyhow::Result<()>
{
    let (config, expected) = many_services();
    let h = Harness::start(&config).await?;

    let (pages, ids) = walk(&h, 5000).await?;
    let rows: Vec<usize> = pages.iter().map(|p| p.0).collect();
    assert_eq!(rows, [5000, 5000, 2000]);
    assert_eq!(
        ids, expected,
        "every service once, in (equipment, id) order"
    );
    for (_, bytes) in &pages {
        assert!(*bytes < MAX_API_MESSAGE_BYTES, "a page of {bytes} bytes");
    }

    // A client that names no page size (as before paging) gets 500 and a
    // token.
    let old = h
        .client()
        .list_services(api::ListServicesRequest::default())
        .await?
        .into_inner();
    assert_eq!(old.services.len(), 500);
    assert!(!old.next_page_token.is_empty());

    // picketctl follows the pages; --limit stops early.
    let all = picketctl(&h, &["services"]).await?;
    let listed: Vec<&str> = all.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(listed, expected);
    let some = picketctl(&h, &["services", "--limit", "7001", "--page-size", "5000"]).await?;
    let listed: Vec<&str> = some.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(listed, expected[..7001]);
    let web2 = picketctl(&h, &["services", "--equipment", "web-2", "--limit", "3"]).await?;
    let listed: Vec<&str> = web2
        .iter()
        .filter_map(|s| s["equipment"].as_str())
        .collect();
    assert_eq!(listed, ["web-2"; 3]);
    Ok(())
}

/// The status of a ListServices call.
async fn services_status(h: &Harness, request: api::ListServicesRequest) -> tonic::Status {
    match h.client().list_services(request).await {
        Ok(_) => tonic::Status::ok("answered"),
        Err(status) => status,
    }
}

#[tokio::test(start_paused = true)]
async fn bad_tokens_sizes_and_filters_are_invalid_arguments_naming_the_field() -> anyhow::Result<()>
{
    let config = one_service().service(Service::new("api", "web-1", "http://api.test/"));
    let h = Harness::start(&config).await?;
    let check = |status: tonic::Status, field: &str| {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().starts_with(field), "{status:?}");
    };
    let first = api::ListServicesRequest {
        page_size: 1,
        ..Default::default()
    };
    let page = h.client().list_services(first.clone()).await?.into_inner();
    assert_eq!(page.services.len(), 1);
    let token = page.next_page_token;
    let second = api::ListServicesRequest {
        page_token: token.clone(),
        ..first.clone()
    };
    let rest = h.client().list_services(second.clone()).await?.into_inner();
    assert_eq!(rest.services.len(), 1);
    assert_eq!(rest.next_page_token, "", "the last page has no token");

    let garbage = api::ListServicesRequest {
        page_token: "not-a-token".into(),
        ..first.clone()
    };
    check(
        services_status(&h, garbage).await,
        "page_token: not a page token",
    );
    let other_filter = api::ListServicesRequest {
        state: "unknown".into(),
        ..second.clone()
    };
    check(
        services_status(&h, other_filter).await,
        "page_token: the token was issued for other filters",
    );
    let too_big = api::ListServicesRequest {
        page_size: 5001,
        ..Default::default()
    };
    check(
        services_status(&h, too_big).await,
        "page_size: 5001, at most 5000",
    );
    let state = api::ListServicesRequest {
        state: "sideways".into(),
        ..Default::default()
    };
    check(
        services_status(&h, state).await,
        "state: \"sideways\" is not one of unknown, up",
    );

    // A token of ListServices is not one of ListAgents or ListRequests.
    let agents = api::ListAgentsRequest {
        page_token: token.clone(),
        ..Default::default()
    };
    let status = h.client().list_agents(agents).await.expect_err("refused");
    check(status, "page_token: not a page token of ListAgents");
    let requests = api::ListRequestsRequest {
        page_token: token,
        ..Default::default()
    };
    let status = h
        .client()
        .list_requests(requests)
        .await
        .expect_err("refused");
    check(status, "page_token: not a page token of ListRequests");

    // Filters hold: the state filter lists the service in that state.
    let unknown = api::ListServicesRequest {
        state: "unknown".into(),
        equipment: "web-1".into(),
        ..Default::default()
    };
    let listed = h
        .client()
        .list_services(unknown)
        .await?
        .into_inner()
        .services;
    let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["api", SERVICE]);
    Ok(())
}
