-- Matcher: apk and rpm versions now have order keys too (`ecosystems::version_order_key`: apk-tools'
-- token walk and rpmvercmp's, each laid out so that byte order is the comparator's order), so Alpine's
-- and the RHEL family's records get version bounds like dpkg's (V9) and the languages' (V10). New rows are
-- written with their bound; the stored ones are queued here for `feeds::store::fill_version_bounds`, which
-- `Database::migrate` runs in batches after the migrations. Until a row is filled, its `\xff` bound makes it
-- a candidate for every version, as before.
INSERT INTO version_bound_pending (vulnerability_id)
SELECT id FROM vulnerability WHERE ecosystem IN ('apk', 'rpm')
ON CONFLICT DO NOTHING;
