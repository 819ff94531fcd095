-- Picket 0006: indexes for the status pages.
--
-- `/` lists the configured services in (equipment, id) order, a page at a
-- time from a keyset cursor, optionally of one state: without these, each
-- page scans every service and sorts them (EXPLAIN: SCAN services, USE
-- TEMP B-TREE FOR ORDER BY). A service page lists the service's recent
-- requests, newest first (EXPLAIN without the index: SCAN requests).
CREATE INDEX services_page ON services (equipment_id, id) WHERE configured = 1;
CREATE INDEX services_page_by_state ON services (state, equipment_id, id) WHERE configured = 1;
CREATE INDEX requests_by_service ON requests (service_id, id);
