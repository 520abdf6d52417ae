-- Matcher: PyPI, npm, Go and crates.io versions now have order keys too (`ecosystems::version_order_key`:
-- PEP 440 as pep440_rs orders it, SemVer precedence after each ecosystem's own parser), so their records
-- get a version bound like dpkg's (V9) and the candidate query skips those fixed at or below every
-- installed version of a name. New rows are written with their bound; the stored ones are queued here for
-- `feeds::store::fill_version_bounds`, which `Database::migrate` runs in batches after the migrations.
-- Until a row is filled, its `\xff` bound makes it a candidate for every version, as before.
INSERT INTO version_bound_pending (vulnerability_id)
SELECT id FROM vulnerability WHERE ecosystem IN ('pypi', 'npm', 'go', 'cargo')
ON CONFLICT DO NOTHING;
