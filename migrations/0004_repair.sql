-- The guided repair flow (/repair), its private texts, agreements and their revisits.
-- Text columns are plain text for now; encrypting them at rest is a separate issue.

create table repairs (
    id              uuid primary key,
    couple_id       uuid not null references couples (id) on delete cascade,
    initiator       bigint not null,
    partner         bigint not null,
    step            text not null check (step in ('invited', 'regulate', 'break', 'own_it', 'felt',
                        'reflect', 'confirm', 'next_time', 'pick', 'agree', 'close', 'done')),
    -- Every transition is `update ... set version = version + 1 where id = $1 and version = $seen`,
    -- so double clicks, duplicate deliveries and both partners at once settle to one change.
    version         integer not null default 0,
    status          text not null check (status in ('open', 'paused', 'completed', 'ended', 'expired')),
    -- While paused: where the flow reopens, and when.
    resume_step     text,
    resume_at       timestamptz,
    -- Private ratings (1-5), each visible only to the one who gave it.
    initiator_activation smallint check (initiator_activation between 1 and 5),
    partner_activation   smallint check (partner_activation between 1 and 5),
    initiator_connection smallint check (initiator_connection between 1 and 5),
    partner_connection   smallint check (partner_connection between 1 and 5),
    reflect_loops   smallint not null default 0,
    plan_round      smallint not null default 0,
    -- The agreement mechanic: who picked which line ('initiator' / 'partner'); the other confirms.
    picked_by       text check (picked_by in ('initiator', 'partner')),
    picked_line     text check (picked_line in ('initiator', 'partner')),
    heard           boolean,
    created_at      timestamptz not null,
    -- The last change: inactivity is measured from here.
    updated_at      timestamptz not null,
    closed_at       timestamptz,
    closed_by       bigint
);
-- One open (or paused) repair per couple; a second /repair points to it.
create unique index repairs_one_open_per_couple on repairs (couple_id)
    where status in ('open', 'paused');
create index repairs_by_couple on repairs (couple_id, created_at);

-- What each partner wrote. A text is private to its writer until `shared`.
create table repair_texts (
    repair_id   uuid not null references repairs (id) on delete cascade,
    writer      bigint not null,
    kind        text not null check (kind in ('moment', 'own_it', 'felt', 'reflect', 'missing', 'plan')),
    -- The reflection try, or the round of proposed lines; 0 for the others.
    round       smallint not null default 0,
    body        text not null,
    shared      boolean not null default false,
    created_at  timestamptz not null,
    updated_at  timestamptz not null,
    shared_at   timestamptz,
    primary key (repair_id, writer, kind, round)
);

create table agreements (
    id          uuid primary key,
    couple_id   uuid not null references couples (id) on delete cascade,
    repair_id   uuid not null unique references repairs (id) on delete cascade,
    text        text not null,
    created_at  timestamptz not null
);
create index agreements_by_couple on agreements (couple_id, created_at);

-- How an agreement is going, days later: one answer per partner (a second click updates it).
create table agreement_revisits (
    agreement_id uuid not null references agreements (id) on delete cascade,
    user_id     bigint not null,
    answer      text not null check (answer in ('going_well', 'mixed', 'hard')),
    at          timestamptz not null,
    primary key (agreement_id, user_id)
);
