-- Matcher: Packagist (Composer) versions now have order keys too (`ecosystems::version_order_key`:
-- `version_compare`'s elements of Composer's normalized form, each ranked as it compares), so their
-- records get version bounds like the other ecosystems' (V9 to V12; Maven, whose comparison is not
-- transitive, has none). New rows are written with their bound; the stored ones are queued here for
-- `feeds::store::fill_version_bounds`, which `Database::migrate` runs in batches after the migrations.
-- Until a row is filled, its `\xff` bound makes it a candidate for every version, as before.
INSERT INTO version_bound_pending (vulnerability_id)
SELECT id FROM vulnerability WHERE ecosystem = 'packagist'
ON CONFLICT DO NOTHING;
