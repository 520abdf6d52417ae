-- Matcher cache: the namespaces (`ecosystem/dist_did/dist_release`, the lookup key of `vulnerability`
-- without the package name) an operation's records are filed under, written at commit (`feeds::store`).
-- A feed switch then invalidates the matcher's cached candidates of those namespaces only
-- (`matcher::cache`), not every namespace. NULL means unknown: such an operation is taken to cover every
-- namespace. Live operations get theirs from their records; older ones stay NULL.
ALTER TABLE update_operation ADD COLUMN namespaces TEXT[];
UPDATE update_operation uo SET namespaces = ARRAY(
    SELECT DISTINCT v.ecosystem || '/' || v.dist_did || '/' || v.dist_release
    FROM uo_vulnerability l JOIN vulnerability v ON v.id = l.vulnerability_id
    WHERE l.uo_id = uo.id
    ORDER BY 1)
WHERE uo.kind = 'vulnerability' AND uo.id IN (SELECT uo_id FROM latest_update_operation);
