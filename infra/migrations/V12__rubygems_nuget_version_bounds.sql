-- Matcher: RubyGems and NuGet versions now have order keys too (`ecosystems::version_order_key`:
-- `Gem::Version`'s zero-padded segments and NuGet's four numbers and case-insensitive labels, each laid
-- out so that byte order is the comparator's order), so their records get version bounds like the other
-- ecosystems' (V9 to V11). New rows are written with their bound; the stored ones are queued here for
-- `feeds::store::fill_version_bounds`, which `Database::migrate` runs in batches after the migrations.
-- Until a row is filled, its `\xff` bound makes it a candidate for every version, as before.
INSERT INTO version_bound_pending (vulnerability_id)
SELECT id FROM vulnerability WHERE ecosystem IN ('rubygems', 'nuget')
ON CONFLICT DO NOTHING;
