-- A job queue that keeps its promises (issue 13). Additive only: every new column is
-- nullable and every new table is new, so a binary of the previous release keeps running
-- against this schema while several processes are upgraded one by one.

-- Each claim gets its own attempt token: heartbeats, finish and retry only touch the row
-- while it still carries the token of the claim that runs it, so an attempt whose lease was
-- taken over can no longer write over the attempt that took it.
alter table jobs add column lease_token uuid;

-- The time the job was first due, kept across retries (a retry moves due_at to the
-- back-off time): whether a job is late is measured from here.
alter table jobs add column first_due_at timestamptz;

-- Set just before a delivery is handed to the chat platform, and kept while its outcome is
-- unknown: a later attempt then looks for the message it may already have posted before it
-- sends again (Discord deduplicates a nonce for a few minutes only).
alter table jobs add column sent_at timestamptz;

-- Pacing shared by every process posting with one bot token: the next free slot, so several
-- processes together stay under the platform's global rate limit.
create table post_pacing (
    key     text primary key,
    next_at timestamptz not null
);

-- The oldest migration a binary must know to run against this database. Additive
-- migrations leave it alone; a migration an older binary cannot live with raises it, and
-- older binaries then refuse to start with a message that says so.
create table schema_floor (
    only_row       boolean primary key default true check (only_row),
    min_migration  bigint not null
);
insert into schema_floor (min_migration) values (1);
