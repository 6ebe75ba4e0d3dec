-- Merge one verdict archive into another, in SQL (sqlite3 3.35 or later).
--
-- Ids of pages, comparisons, tools, listings and verdicts are hashes of their content
-- (canonical URL, normalised name, values, normalised text), so the same tool or quote
-- archived on two machines has the same id in both: rows meet on their ids and only their
-- seen windows are merged. Crawls, snapshots and fetches are numbered per archive; the
-- other archive's numbers are shifted past this one's.
--
-- Usage (both archives opened once by the same release, so their schemas match):
--   cp a.db merged.db
--   sqlite3 merged.db "ATTACH 'b.db' AS other" ".read docs/merge.sql"
-- The summaries behind the views are refreshed by the next `verdicts serve` or crawl.
-- Meant for archives of different sites (one machine per group of sites); a site crawled
-- on both keeps every row, but its "previous crawl" follows crawl numbers, not dates.

BEGIN;

CREATE TEMP TABLE merge_offsets AS SELECT
    (SELECT coalesce(max(id), 0) FROM main.crawls) AS crawl,
    (SELECT coalesce(max(id), 0) FROM main.snapshots) AS snapshot,
    (SELECT coalesce(max(id), 0) FROM main.fetch_log) AS fetch;

INSERT INTO main.crawls (id, site, start_urls, started_at, finished_at, status, pages_fetched,
    pages_not_modified, pages_failed, comparisons_new, comparisons_changed, verdicts_new, error,
    pages_unreadable, parse_errors, unreadable_urls, resumable)
SELECT id + o.crawl, site, start_urls, started_at, finished_at, status, pages_fetched,
    pages_not_modified, pages_failed, comparisons_new, comparisons_changed, verdicts_new, error,
    pages_unreadable, parse_errors, unreadable_urls, 0  -- frontiers are not merged: nothing to resume
FROM other.crawls, merge_offsets o;

INSERT OR IGNORE INTO main.bodies (sha256, size, compression, data)
SELECT sha256, size, compression, data FROM other.bodies;

INSERT INTO main.pages (id, url, host, first_seen, last_seen, last_crawl_id, status, http_status,
    content_type, etag, last_modified, body_sha256, last_error)
SELECT id, url, host, first_seen, last_seen, last_crawl_id + o.crawl, status, http_status,
    content_type, etag, last_modified, body_sha256, last_error
FROM other.pages, merge_offsets o WHERE true
ON CONFLICT (id) DO UPDATE SET
    first_seen = min(pages.first_seen, excluded.first_seen),
    (last_seen, last_crawl_id, status, http_status, content_type, etag, last_modified, body_sha256,
        last_error) = (
        SELECT excluded.last_seen, excluded.last_crawl_id, excluded.status, excluded.http_status,
            excluded.content_type, excluded.etag, excluded.last_modified, excluded.body_sha256,
            excluded.last_error
        WHERE excluded.last_seen > pages.last_seen
        UNION ALL
        SELECT pages.last_seen, pages.last_crawl_id, pages.status, pages.http_status,
            pages.content_type, pages.etag, pages.last_modified, pages.body_sha256, pages.last_error
        WHERE excluded.last_seen <= pages.last_seen);

INSERT INTO main.snapshots (id, page_id, url, crawl_id, fetched_at, http_status, content_type, etag,
    last_modified, encoding, body_sha256, parse_status, parse_problems, parser, parser_version,
    last_seen, last_crawl_id, parse_missing, parse_hash, parsed_with, rendered_sha256)
SELECT id + o.snapshot, page_id, url, crawl_id + o.crawl, fetched_at, http_status, content_type, etag,
    last_modified, encoding, body_sha256, parse_status, parse_problems, parser, parser_version,
    last_seen, last_crawl_id + o.crawl, parse_missing, parse_hash, parsed_with, rendered_sha256
FROM other.snapshots, merge_offsets o;

INSERT INTO main.tools (id, name, category, tagline, description, first_seen, last_seen, details_seen)
SELECT id, name, category, tagline, description, first_seen, last_seen, details_seen
FROM other.tools WHERE true
ON CONFLICT (id) DO UPDATE SET
    first_seen = min(tools.first_seen, excluded.first_seen),
    last_seen = max(tools.last_seen, excluded.last_seen),
    (category, tagline, description, details_seen) = (
        SELECT excluded.category, excluded.tagline, excluded.description, excluded.details_seen
        WHERE coalesce(excluded.details_seen, '') > coalesce(tools.details_seen, '')
        UNION ALL
        SELECT tools.category, tools.tagline, tools.description, tools.details_seen
        WHERE coalesce(excluded.details_seen, '') <= coalesce(tools.details_seen, ''));

INSERT INTO main.comparisons (id, url, title, tool1_id, tool2_id, pair_key, complete, first_seen,
    last_seen, gone_at, snapshot_id, content_hash, first_crawl_id, last_crawl_id, gone_crawl_id)
SELECT id, url, title, tool1_id, tool2_id, pair_key, complete, first_seen, last_seen, gone_at,
    snapshot_id + o.snapshot, content_hash, first_crawl_id + o.crawl, last_crawl_id + o.crawl,
    gone_crawl_id + o.crawl
FROM other.comparisons, merge_offsets o WHERE true
ON CONFLICT (id) DO UPDATE SET
    (first_seen, first_crawl_id) = (
        SELECT excluded.first_seen, excluded.first_crawl_id WHERE excluded.first_seen < comparisons.first_seen
        UNION ALL
        SELECT comparisons.first_seen, comparisons.first_crawl_id
        WHERE excluded.first_seen >= comparisons.first_seen),
    (title, tool1_id, tool2_id, pair_key, complete, last_seen, gone_at, snapshot_id, content_hash,
        last_crawl_id, gone_crawl_id) = (
        SELECT excluded.title, excluded.tool1_id, excluded.tool2_id, excluded.pair_key,
            excluded.complete, excluded.last_seen, excluded.gone_at, excluded.snapshot_id,
            excluded.content_hash, excluded.last_crawl_id, excluded.gone_crawl_id
        WHERE excluded.last_seen > comparisons.last_seen
        UNION ALL
        SELECT comparisons.title, comparisons.tool1_id, comparisons.tool2_id, comparisons.pair_key,
            comparisons.complete, comparisons.last_seen, comparisons.gone_at, comparisons.snapshot_id,
            comparisons.content_hash, comparisons.last_crawl_id, comparisons.gone_crawl_id
        WHERE excluded.last_seen <= comparisons.last_seen);

INSERT INTO main.listings (id, comparison_id, tool_id, position, panel_ship_pct, community_pct,
    entry_price, entry_price_usd, entry_price_kind, complete, first_seen, last_seen, snapshot_id,
    first_crawl_id, last_crawl_id)
SELECT id, comparison_id, tool_id, position, panel_ship_pct, community_pct, entry_price,
    entry_price_usd, entry_price_kind, complete, first_seen, last_seen, snapshot_id + o.snapshot,
    first_crawl_id + o.crawl, last_crawl_id + o.crawl
FROM other.listings, merge_offsets o WHERE true
ON CONFLICT (id) DO UPDATE SET
    (first_seen, first_crawl_id, snapshot_id) = (
        SELECT excluded.first_seen, excluded.first_crawl_id, excluded.snapshot_id
        WHERE excluded.first_seen < listings.first_seen
        UNION ALL
        SELECT listings.first_seen, listings.first_crawl_id, listings.snapshot_id
        WHERE excluded.first_seen >= listings.first_seen),
    (last_seen, last_crawl_id) = (
        SELECT excluded.last_seen, excluded.last_crawl_id WHERE excluded.last_seen > listings.last_seen
        UNION ALL
        SELECT listings.last_seen, listings.last_crawl_id WHERE excluded.last_seen <= listings.last_seen);

INSERT INTO main.verdicts (id, tool_id, reviewer_seat, text, text_key, near_duplicate_of, first_seen,
    last_seen)
SELECT id, tool_id, reviewer_seat, text, text_key, near_duplicate_of, first_seen, last_seen
FROM other.verdicts WHERE true
ON CONFLICT (id) DO UPDATE SET
    near_duplicate_of = coalesce(verdicts.near_duplicate_of, excluded.near_duplicate_of),
    (reviewer_seat, text, first_seen) = (
        SELECT excluded.reviewer_seat, excluded.text, excluded.first_seen
        WHERE excluded.first_seen < verdicts.first_seen
        UNION ALL
        SELECT verdicts.reviewer_seat, verdicts.text, verdicts.first_seen
        WHERE excluded.first_seen >= verdicts.first_seen),
    last_seen = max(verdicts.last_seen, excluded.last_seen);

INSERT INTO main.verdict_appearances (verdict_id, comparison_id, reviewer_seat, position, first_seen,
    last_seen, snapshot_id, complete, first_crawl_id, last_crawl_id)
SELECT verdict_id, comparison_id, reviewer_seat, position, first_seen, last_seen,
    snapshot_id + o.snapshot, complete, first_crawl_id + o.crawl, last_crawl_id + o.crawl
FROM other.verdict_appearances, merge_offsets o WHERE true
ON CONFLICT (verdict_id, comparison_id) DO UPDATE SET
    (reviewer_seat, position, first_seen, snapshot_id, first_crawl_id) = (
        SELECT excluded.reviewer_seat, excluded.position, excluded.first_seen, excluded.snapshot_id,
            excluded.first_crawl_id
        WHERE excluded.first_seen < verdict_appearances.first_seen
        UNION ALL
        SELECT verdict_appearances.reviewer_seat, verdict_appearances.position,
            verdict_appearances.first_seen, verdict_appearances.snapshot_id,
            verdict_appearances.first_crawl_id
        WHERE excluded.first_seen >= verdict_appearances.first_seen),
    (last_seen, last_crawl_id, complete) = (
        SELECT excluded.last_seen, excluded.last_crawl_id, excluded.complete
        WHERE excluded.last_seen > verdict_appearances.last_seen
        UNION ALL
        SELECT verdict_appearances.last_seen, verdict_appearances.last_crawl_id,
            verdict_appearances.complete
        WHERE excluded.last_seen <= verdict_appearances.last_seen);

INSERT INTO main.crawl_field_stats (crawl_id, field, pages_with, pages_total, share, previous_share,
    pages_missing)
SELECT crawl_id + o.crawl, field, pages_with, pages_total, share, previous_share, pages_missing
FROM other.crawl_field_stats, merge_offsets o;

INSERT OR IGNORE INTO main.verdict_signatures (verdict_id, tool_id, bands)
SELECT verdict_id, tool_id, bands FROM other.verdict_signatures;

INSERT OR IGNORE INTO main.changes (id, crawl_id, observed_at, comparison_id, tool_id, kind, field, old,
    new, detail)
SELECT id, crawl_id + o.crawl, observed_at, comparison_id, tool_id, kind, field, old, new, detail
FROM other.changes, merge_offsets o;

INSERT OR IGNORE INTO main.change_texts (ref, text) SELECT ref, text FROM other.change_texts;

INSERT INTO main.notifications (crawl_id, sent_at, target, status, changes, attempts, error)
SELECT crawl_id + o.crawl, sent_at, target, status, changes, attempts, error
FROM other.notifications, merge_offsets o;

INSERT INTO main.change_states (comparison_id, crawl_id, observed_at, gone, state)
SELECT comparison_id, crawl_id + o.crawl, observed_at, gone, state
FROM other.change_states, merge_offsets o WHERE true
ON CONFLICT (comparison_id) DO UPDATE SET
    (crawl_id, observed_at, gone, state) = (
        SELECT excluded.crawl_id, excluded.observed_at, excluded.gone, excluded.state
        WHERE excluded.observed_at > change_states.observed_at
        UNION ALL
        SELECT change_states.crawl_id, change_states.observed_at, change_states.gone,
            change_states.state
        WHERE excluded.observed_at <= change_states.observed_at);

INSERT INTO main.snapshot_embedded (snapshot_id, kind, data)
SELECT snapshot_id + o.snapshot, kind, data FROM other.snapshot_embedded, merge_offsets o;

INSERT INTO main.embedded_disagreements (snapshot_id, source, field, position, visible, embedded)
SELECT snapshot_id + o.snapshot, source, field, position, visible, embedded
FROM other.embedded_disagreements, merge_offsets o;

-- Head templates are shared by content; the other archive's fetches point at this one's copy.
INSERT INTO main.fetch_heads (remote_ip, request, response)
SELECT h.remote_ip, h.request, h.response FROM other.fetch_heads h
WHERE NOT EXISTS (
    SELECT 1 FROM main.fetch_heads m
    WHERE m.request = h.request AND m.response = h.response AND m.remote_ip IS h.remote_ip);

INSERT INTO main.fetch_log (id, crawl_id, snapshot_id, fetched_at, http_status, heads_id, head_values)
SELECT f.id + o.fetch, f.crawl_id + o.crawl, f.snapshot_id + o.snapshot, f.fetched_at, f.http_status,
    (SELECT min(m.id) FROM other.fetch_heads h JOIN main.fetch_heads m
        ON m.request = h.request AND m.response = h.response AND m.remote_ip IS h.remote_ip
     WHERE h.id = f.heads_id),
    f.head_values
FROM other.fetch_log f, merge_offsets o;

-- Links are kept per page and body: the same page and body has the same links in both.
INSERT OR IGNORE INTO main.page_links (page_id, body_sha256, links, data)
SELECT page_id, body_sha256, links, data FROM other.page_links;

-- A listing's last_seen moved by the merge can change its tool's latest price: every tool's
-- summary is recomputed at the next refresh (triggers mark the rest).
INSERT OR REPLACE INTO main.summary_dirty_tools (tool_id) SELECT id FROM main.tools;

DROP TABLE merge_offsets;

COMMIT;
