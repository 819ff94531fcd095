-- Picket 0007: indexes for the client API's keyset pages.
--
-- ListRequests and ListAgents page from a key, so each order and filter
-- needs an index for page N to cost what page 1 costs. Without these,
-- EXPLAIN QUERY PLAN shows a scan of the requests by id for open requests
-- and for the requests of one equipment, and SCAN agents plus USE TEMP
-- B-TREE FOR ORDER BY for every page of agents. (ListServices uses the
-- 0006 indexes; ListDeliveries walks the outbox's primary key backwards.)
CREATE INDEX requests_open ON requests (id) WHERE stage = 'open';
CREATE INDEX requests_by_equipment ON requests (equipment_id, id);
CREATE INDEX agents_page ON agents (region, name, id);
