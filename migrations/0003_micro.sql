-- Micro-attunement prompts: the per-couple shuffle bag and every prompt shown.

create table micro_bags (
    couple_id    uuid primary key references couples (id) on delete cascade,
    -- Prompt ids still to draw, in order; refilled with a fresh shuffle when used up.
    remaining    text[] not null default '{}',
    last_concept text,
    refills      integer not null default 0
);

create table micro_prompts (
    id          uuid primary key,
    couple_id   uuid not null references couples (id) on delete cascade,
    user_id     bigint not null,
    prompt_id   text not null,
    concept     text not null,
    source      text not null check (source in ('scheduled', 'command', 'another')),
    created_at  timestamptz not null,
    -- The public "a small moment for you" post, for scheduled prompts.
    message_id  bigint,
    nonce       text,
    outcome     text check (outcome in ('done', 'not_now', 'another')),
    outcome_at  timestamptz
);
create index micro_prompts_by_couple on micro_prompts (couple_id, created_at);
