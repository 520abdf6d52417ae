-- Matcher: the liveness probe of a candidate record (`matcher::store::CANDIDATES`) reads the record's
-- update operations from the index alone (index-only scan) instead of visiting the heap.
CREATE INDEX uo_vulnerability_live_idx ON uo_vulnerability (vulnerability_id, uo_id);
-- Its leading column serves every lookup the single-column index did.
DROP INDEX uo_vulnerability_vuln_idx;
