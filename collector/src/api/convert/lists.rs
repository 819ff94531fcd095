//! The list calls' edge: request messages → filters, page size and the key
//! a page continues after (through [`paging`]), and rows → one page of
//! messages cut to the page size and to [`MAX_PAGE_BYTES`], with the
//! token of the next page.

use std::fmt::Display;
use std::str::FromStr;

use picket_proto::contract::limits::{DEFAULT_PAGE_SIZE, MAX_PAGE_BYTES, MAX_PAGE_SIZE};
use picket_proto::prost::{Message, encoding::encoded_len_varint};
use picket_proto::v1 as pb;

use super::super::paging::{Binding, List, page_size};
use super::super::query::{AgentView, ServiceView};
use super::{BadField, agent, delivery, id, request, service};
use crate::domain::{AgentState, EquipmentId, Request, RequestId, ServiceId, ServiceState};
use crate::store::{AgentFilter, AgentKey, DeliveryFilter, DeliveryRow, PageFilter, RequestFilter};

/// Keeps `rows` (each with its key, in order) up to `size` rows and
/// [`MAX_PAGE_BYTES`] of encoded rows (at least one row); `more` says rows
/// exist past those given. Returns the rows kept and the token after the
/// last one, empty when nothing follows.
pub fn page<K, T: Message>(
    rows: impl IntoIterator<Item = (K, T)>,
    size: usize,
    more: bool,
    token: impl Fn(&K) -> String,
) -> (Vec<T>, String) {
    let (mut kept, mut bytes, mut last, mut cut) = (Vec::new(), 0, None, false);
    for (key, row) in rows {
        // A repeated field's element: tag, length, bytes.
        let framed = 1 + encoded_len_varint(row.encoded_len() as u64) + row.encoded_len();
        if kept.len() == size || (!kept.is_empty() && bytes + framed > MAX_PAGE_BYTES) {
            cut = true;
            break;
        }
        bytes += framed;
        kept.push(row);
        last = Some(key);
    }
    let next = match last {
        Some(key) if cut || more => token(&key),
        _ => String::new(),
    };
    (kept, next)
}

/// An optional enum filter: empty for none.
pub(super) fn choice<T: FromStr + Display>(
    field: &'static str,
    value: &str,
    all: &[T],
) -> Result<Option<T>, BadField> {
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| BadField {
        field,
        reason: format!(
            "{value:?} is not one of {}",
            all.iter().map(T::to_string).collect::<Vec<_>>().join(", ")
        ),
    })
}

/// An optional id filter: empty for none.
fn id_filter<T: From<String>>(field: &'static str, value: &str) -> Result<Option<T>, BadField> {
    if value.is_empty() {
        return Ok(None);
    }
    id(field, value.to_owned()).map(|v| Some(v.into()))
}

/// A number in a token's key.
fn number(binding: &Binding, text: &str) -> Result<i64, BadField> {
    text.parse().map_err(|_| binding.foreign())
}

/// `ListServices`' arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListServices {
    pub filter: PageFilter,
    pub size: usize,
    /// The (equipment, id) the page continues after.
    pub after: Option<(EquipmentId, ServiceId)>,
    pub binding: Binding,
}

impl TryFrom<pb::ListServicesRequest> for ListServices {
    type Error = BadField;

    fn try_from(r: pb::ListServicesRequest) -> Result<Self, BadField> {
        let binding = Binding::new(List::Services, &[&r.state, &r.equipment]);
        Ok(ListServices {
            filter: PageFilter {
                state: choice("state", &r.state, ServiceState::ALL)?,
                equipment: id_filter("equipment", &r.equipment)?,
            },
            size: page_size(r.page_size)?,
            after: binding
                .key(&r.page_token)?
                .map(|[equipment, id]| (equipment.into(), id.into())),
            binding,
        })
    }
}

/// A page of services; `more`: services follow the given ones.
pub fn services(
    args: &ListServices,
    views: Vec<ServiceView>,
    more: bool,
) -> pb::ListServicesResponse {
    let rows = views
        .into_iter()
        .map(|v| ((v.row.equipment_id.clone(), v.row.id.clone()), service(v)));
    let (services, next_page_token) = page(rows, args.size, more, |(e, id)| {
        args.binding.token(&[e.as_str(), id.as_str()])
    });
    pb::ListServicesResponse {
        services,
        next_page_token,
    }
}

/// `ListRequests`' arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequests {
    pub filter: RequestFilter,
    pub size: usize,
    pub after: Option<RequestId>,
    pub binding: Binding,
}

impl TryFrom<pb::ListRequestsRequest> for ListRequests {
    type Error = BadField;

    fn try_from(r: pb::ListRequestsRequest) -> Result<Self, BadField> {
        let open = if r.open_only { "open" } else { "" };
        let binding = Binding::new(List::Requests, &[open, &r.service, &r.equipment]);
        let after = match binding.key(&r.page_token)? {
            Some([id]) => Some(number(&binding, &id)?.into()),
            None => None,
        };
        Ok(ListRequests {
            filter: RequestFilter {
                open_only: r.open_only,
                service: id_filter("service", &r.service)?,
                equipment: id_filter("equipment", &r.equipment)?,
            },
            size: page_size(r.page_size)?,
            after,
            binding,
        })
    }
}

/// A page of requests from up to `size + 1` rows.
pub fn requests(args: &ListRequests, rows: Vec<Request>) -> pb::ListRequestsResponse {
    let rows = rows.into_iter().map(|r| (r.id, request(r)));
    let (requests, next_page_token) = page(rows, args.size, false, |id| {
        args.binding.token(&[&id.get().to_string()])
    });
    pb::ListRequestsResponse {
        requests,
        next_page_token,
    }
}

/// `ListAgents`' arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListAgents {
    pub filter: AgentFilter,
    pub size: usize,
    pub after: Option<AgentKey>,
    pub binding: Binding,
}

impl TryFrom<pb::ListAgentsRequest> for ListAgents {
    type Error = BadField;

    fn try_from(r: pb::ListAgentsRequest) -> Result<Self, BadField> {
        let binding = Binding::new(List::Agents, &[&r.state, &r.region]);
        let region = (!r.region.is_empty()).then(|| r.region.clone());
        Ok(ListAgents {
            filter: AgentFilter {
                state: choice("state", &r.state, AgentState::ALL)?,
                region: region.map(|v| id("region", v)).transpose()?,
            },
            size: page_size(r.page_size)?,
            after: binding
                .key(&r.page_token)?
                .map(|[region, name, id]| AgentKey {
                    region,
                    name,
                    id: id.into(),
                }),
            binding,
        })
    }
}

/// A page of agents from up to `size + 1` rows.
pub fn agents(args: &ListAgents, views: Vec<AgentView>) -> pb::ListAgentsResponse {
    let rows = views.into_iter().map(|v| (AgentKey::of(&v.row), agent(v)));
    let (agents, next_page_token) = page(rows, args.size, false, |k| {
        args.binding.token(&[&k.region, &k.name, k.id.as_str()])
    });
    pb::ListAgentsResponse {
        agents,
        next_page_token,
    }
}

/// `ListDeliveries`' arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListDeliveries {
    pub filter: DeliveryFilter,
    pub size: usize,
    /// The id the page continues below (newest first).
    pub before: Option<i64>,
    pub binding: Binding,
}

impl TryFrom<pb::ListDeliveriesRequest> for ListDeliveries {
    type Error = BadField;

    fn try_from(r: pb::ListDeliveriesRequest) -> Result<Self, BadField> {
        let failed = if r.failed_only { "failed" } else { "" };
        let binding = Binding::new(List::Deliveries, &[failed, &r.webhook]);
        let before = match binding.key(&r.page_token)? {
            Some([id]) => Some(number(&binding, &id)?),
            None => None,
        };
        // `limit`, the former name, counts when `page_size` is not set and
        // is lowered to the largest page as it always was.
        let size = match (r.page_size, r.limit) {
            (0, 0) => DEFAULT_PAGE_SIZE as usize,
            (0, limit) => limit.min(MAX_PAGE_SIZE) as usize,
            (size, _) => page_size(size)?,
        };
        Ok(ListDeliveries {
            filter: DeliveryFilter {
                failed_only: r.failed_only,
                webhook: (!r.webhook.is_empty()).then_some(r.webhook),
            },
            size,
            before,
            binding,
        })
    }
}

/// A page of deliveries from up to `size + 1` rows.
pub fn deliveries(args: &ListDeliveries, rows: Vec<DeliveryRow>) -> pb::ListDeliveriesResponse {
    let rows = rows.into_iter().map(|d| (d.id, delivery(d)));
    let (deliveries, next_page_token) = page(rows, args.size, false, |id| {
        args.binding.token(&[&id.to_string()])
    });
    pb::ListDeliveriesResponse {
        deliveries,
        next_page_token,
    }
}

#[cfg(test)]
mod tests;
