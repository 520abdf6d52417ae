-- Matcher: plain numeric Maven versions (`2.13.4.2`) now have order keys (`ecosystems::version_order_key`;
-- Maven's comparison as a whole is not transitive, so other versions have none and their records stay
-- candidates for every version), so Maven records fixed at such a version get version bounds like the
-- other ecosystems' (V9 to V13). New rows are written with their bound; the stored ones are queued here for
-- `feeds::store::fill_version_bounds`, which `Database::migrate` runs in batches after the migrations.
-- Until a row is filled, its `\xff` bound makes it a candidate for every version, as before.
INSERT INTO version_bound_pending (vulnerability_id)
SELECT id FROM vulnerability WHERE ecosystem = 'maven'
ON CONFLICT DO NOTHING;
