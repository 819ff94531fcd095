//! Pages cut to their size and to [`MAX_PAGE_BYTES`], with the sizes of
//! realistic and of worst-case rows, and the list calls' arguments.

use picket_proto::contract::limits::{MAX_API_MESSAGE_BYTES, MAX_ERROR_DETAIL_BYTES, MAX_ID_BYTES};

use super::*;
use crate::store::ServiceRow;

/// A service whose text fields have these lengths, every optional field
/// set.
fn view(i: usize, id: usize, url: usize, detail: usize) -> ServiceView {
    let id = format!("{i:0>id$}");
    ServiceView {
        row: ServiceRow {
            url: format!("https://{}", "u".repeat(url.saturating_sub(8))),
            equipment_id: "e".repeat(MAX_ID_BYTES.min(id.len())).into(),
            id: id.into(),
            active: true,
            state: ServiceState::Down,
            ok: Some(false),
            last_status_code: Some(503),
            last_error_kind: Some("body_mismatch".into()),
            last_error: Some("d".repeat(detail)),
            last_check_ms: Some(1_767_225_600_000),
            last_latency_us: Some(1_234_567),
            open_request: Some(123_456_789.into()),
            cert_warning_ms: 0,
        },
        maintenance_until: Some(1_767_225_600_000),
        degraded: None,
    }
}

fn args(size: usize) -> ListServices {
    ListServices::try_from(pb::ListServicesRequest {
        page_size: size as u32,
        ..Default::default()
    })
    .expect("args")
}

fn encoded(page: &pb::ListServicesResponse) -> usize {
    page.encoded_len()
}

#[test]
fn a_page_of_5000_realistic_services_fits_in_one_message() {
    // Ids of 32 bytes, URLs of 100, error details of 200: longer than most.
    let views: Vec<_> = (0..5000).map(|i| view(i, 32, 100, 200)).collect();
    let page = services(&args(5000), views, true);
    assert_eq!(page.services.len(), 5000);
    assert!(!page.next_page_token.is_empty(), "more follow");
    let bytes = encoded(&page);
    // About 430 bytes a row: 2.2 MB, a little over half of the limit.
    assert!(bytes < MAX_PAGE_BYTES, "{bytes} bytes");
    assert!(bytes / 5000 < 450, "{} bytes a row", bytes / 5000);
}

#[test]
fn a_page_of_long_rows_stops_short_of_the_limit_with_a_token() {
    // The longest a row gets with ids at the API's id limit, a 2 KiB URL
    // (config validation bounds neither; this is what browsers and proxies
    // take) and the longest error detail the collector keeps: about 3.5 KB,
    // so 5000 of them would be 17 MB.
    let views: Vec<_> = (0..5000)
        .map(|i| view(i, MAX_ID_BYTES, 2048, MAX_ERROR_DETAIL_BYTES))
        .collect();
    let last_kept = |page: &pb::ListServicesResponse| page.services.last().map(|s| s.id.clone());
    let page = services(&args(5000), views.clone(), false);
    let bytes = encoded(&page);
    assert!(bytes <= MAX_PAGE_BYTES, "{bytes} bytes");
    assert!(page.services.len() > 1000, "{} rows", page.services.len());
    assert!(page.services.len() < 5000);
    // The token continues right after the last row kept.
    let next = ListServices::try_from(pb::ListServicesRequest {
        page_size: 5000,
        page_token: page.next_page_token.clone(),
        ..Default::default()
    })
    .expect("the token is valid");
    let kept = page.services.len();
    assert_eq!(next.after.map(|(_, id)| id.to_string()), last_kept(&page));
    assert_eq!(
        views[kept - 1].row.id.to_string(),
        last_kept(&page).unwrap_or_default()
    );
}

#[test]
fn a_row_larger_than_a_page_still_goes_alone() {
    // A single service with a 5 MB URL (nothing in the configuration stops
    // it) cannot fit in any message: the page holds it alone and the
    // answer fails to encode rather than the list stopping for good.
    let views = vec![view(0, 8, 5_000_000, 0), view(1, 8, 10, 0)];
    let page = services(&args(10), views, false);
    assert_eq!(page.services.len(), 1);
    assert!(!page.next_page_token.is_empty());
    assert!(encoded(&page) > MAX_API_MESSAGE_BYTES);
}

#[test]
fn the_last_page_has_no_token_and_a_full_page_with_more_has_one() {
    let page = services(&args(3), (0..3).map(|i| view(i, 4, 20, 0)).collect(), false);
    assert_eq!(
        (page.services.len(), page.next_page_token.as_str()),
        (3, "")
    );
    let page = services(&args(3), (0..3).map(|i| view(i, 4, 20, 0)).collect(), true);
    assert!(!page.next_page_token.is_empty());
}

#[test]
fn list_arguments_name_their_bad_fields() {
    fn field<T: std::fmt::Debug>(r: Result<T, BadField>) -> String {
        r.expect_err("refused").to_string()
    }
    let r = pb::ListAgentsRequest {
        state: "gone".into(),
        ..Default::default()
    };
    assert_eq!(
        field(ListAgents::try_from(r)),
        "state: \"gone\" is not one of new, active, suspended"
    );
    let r = pb::ListRequestsRequest {
        service: "s".repeat(MAX_ID_BYTES + 1),
        ..Default::default()
    };
    assert_eq!(
        field(ListRequests::try_from(r)),
        "service: 129 bytes, at most 128"
    );
    // A request token whose key is not a number is not ours.
    let binding = Binding::new(List::Requests, &["", "", ""]);
    let r = pb::ListRequestsRequest {
        page_token: binding.token(&["x"]),
        ..Default::default()
    };
    assert_eq!(
        field(ListRequests::try_from(r)),
        "page_token: not a page token of ListRequests"
    );
    // An open-only token is not valid for all requests.
    let open = Binding::new(List::Requests, &["open", "", ""]);
    let r = pb::ListRequestsRequest {
        page_token: open.token(&["7"]),
        ..Default::default()
    };
    assert!(field(ListRequests::try_from(r)).contains("other filters"));
}

#[test]
fn deliveries_take_page_size_then_the_former_limit_then_500() {
    let size = |page_size, limit| {
        ListDeliveries::try_from(pb::ListDeliveriesRequest {
            page_size,
            limit,
            ..Default::default()
        })
        .map(|a| a.size)
    };
    assert_eq!(size(0, 0), Ok(500));
    assert_eq!(size(0, 20), Ok(20));
    assert_eq!(size(0, 9000), Ok(5000), "the former limit is lowered");
    assert_eq!(size(30, 20), Ok(30));
    assert!(size(5001, 0).is_err(), "page_size is refused above 5000");
}
