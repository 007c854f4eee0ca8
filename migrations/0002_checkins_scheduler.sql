-- Schedules, the Postgres job table, and daily check-ins.

-- Per-partner schedule (their own local times).
alter table partners
    add column morning_time time default '08:00',
    add column evening_time time,
    add column days smallint not null default 127 check (days between 1 and 127),
    add column waking_start time not null default '09:00',
    add column waking_end time not null default '21:00';

-- Per-couple settings.
alter table couples
    add column window_minutes integer not null default 720 check (window_minutes between 30 and 1440),
    add column reminder_minutes integer default 180 check (reminder_minutes between 10 and 1440),
    add column quiet_start time default '22:00',
    add column quiet_end time default '07:00',
    add column recap_weekday smallint not null default 7 check (recap_weekday between 1 and 7),
    add column recap_time time not null default '18:00',
    add column micro_frequency text not null default 'few' check (micro_frequency in ('off', 'few', 'daily')),
    -- Set when the channel answered 403/404: the couple is paused until someone resumes.
    add column unreachable_since timestamptz;

-- The scheduler's work. Any number of bot processes claim due rows with
-- FOR UPDATE SKIP LOCKED and hold them under a lease.
create table jobs (
    id          uuid primary key,
    kind        text not null,
    couple_id   uuid references couples (id) on delete cascade,
    user_id     bigint,
    -- Makes scheduling idempotent: the same logical job is only ever inserted once.
    dedupe_key  text not null unique,
    due_at      timestamptz not null,
    payload     jsonb not null default '{}',
    status      text not null default 'pending'
                check (status in ('pending', 'running', 'done', 'missed', 'failed', 'cancelled')),
    attempts    integer not null default 0,
    lease_owner uuid,
    lease_until timestamptz,
    last_error  text,
    created_at  timestamptz not null,
    finished_at timestamptz
);
create index jobs_ready on jobs (due_at) where status = 'pending';
create index jobs_leased on jobs (lease_until) where status = 'running';
create index jobs_by_couple on jobs (couple_id) where status = 'pending';

-- A check-in round: one or both partners are asked; answers stay private until the reveal.
create table checkins (
    id          uuid primary key,
    couple_id   uuid not null references couples (id) on delete cascade,
    slot        text not null check (slot in ('morning', 'evening', 'now')),
    -- The local date the round belongs to: each partner's post of that slot on their own
    -- local date joins the same round, however far apart their zones are.
    round_date  date not null,
    opened_at   timestamptz not null,
    closes_at   timestamptz not null,
    -- open -> revealed; the reveal job is inserted by whoever flips it.
    status      text not null default 'open' check (status in ('open', 'revealed')),
    revealed_at timestamptz,
    question    text,
    -- The reveal is posted once: its nonce is fixed when the round opens.
    reveal_nonce text not null,
    reveal_message_id bigint
);
create index checkins_open on checkins (couple_id, slot, round_date) where status = 'open';

-- One post per partner, kind and local date: the unique key that makes a double post
-- impossible. message_id stays null until Discord confirmed the post.
create table checkin_posts (
    couple_id   uuid not null references couples (id) on delete cascade,
    user_id     bigint not null,
    slot        text not null,
    local_date  date not null,
    checkin_id  uuid not null references checkins (id) on delete cascade,
    nonce       text not null,
    message_id  bigint,
    posted_at   timestamptz,
    primary key (couple_id, user_id, slot, local_date)
);

create table checkin_answers (
    checkin_id  uuid not null references checkins (id) on delete cascade,
    user_id     bigint not null,
    mood        smallint check (mood between 1 and 5),
    feelings    text[] not null default '{}',
    guess       smallint check (guess between 1 and 5),
    note        text,
    share_note  boolean not null default false,
    submitted   boolean not null default false,
    skipped     boolean not null default false,
    updated_at  timestamptz not null,
    primary key (checkin_id, user_id)
);
