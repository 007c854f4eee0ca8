-- The practice, deeper: questions that rotate per couple, a weekly ritual, light days, ways
-- of receiving care, couples who live apart, nudges steered by the last reveal, and repair
-- both ways (who owns, who was hurt, a round the other way, an empathy step, a second
-- settling check, combining both lines).

-- Each couple walks each pool of questions in its own shuffled order; nothing comes back
-- before the pool is used up. `pool` is a slot (morning, evening) or a weekly theme.
create table question_bags (
    couple_id   uuid not null references couples (id) on delete cascade,
    pool        text not null,
    remaining   text[] not null default '{}',
    refills     integer not null default 0,
    primary key (couple_id, pool)
);
alter table checkins add column question_id text;
alter table checkins drop constraint checkins_slot_check;
alter table checkins add constraint checkins_slot_check
    check (slot in ('morning', 'evening', 'now', 'weekly'));

-- The weekly check-in: what each partner wrote for each theme, revealed together.
create table weekly_answers (
    checkin_id  uuid not null references checkins (id) on delete cascade,
    person_id   uuid not null,
    theme       text not null check (theme in ('appreciation', 'went_well', 'talk_about', 'need_ahead')),
    question_id text,
    body        text not null,
    updated_at  timestamptz not null,
    primary key (checkin_id, person_id, theme)
);
create index weekly_answers_by_person on weekly_answers (person_id);
-- A weekly round belongs to one ISO week of the couple (e.g. 2026-W49), and has one post.
alter table checkins
    add column weekly_week text,
    add column post_message text;
create unique index checkins_one_weekly on checkins (couple_id, weekly_week) where weekly_week is not null;
alter table couples
    add column weekly_enabled boolean not null default true,
    -- Null: the recap's day, in the morning (09:00 in the home zone).
    add column weekly_weekday smallint check (weekly_weekday between 1 and 7),
    add column weekly_time time,
    -- Couples who live apart get cues for calls and messages, none that need a room together.
    add column apart boolean not null default false;

-- A partner's light day: gentler, smaller prompts that day (their own local date).
create table light_days (
    person_id   uuid not null,
    local_date  date not null,
    primary key (person_id, local_date)
);

-- The ways a person likes to receive care (at most two), chosen privately.
alter table people add column care_ways text[] not null default '{}';

-- What the last reveal suggests the next nudge should be about (taken once).
alter table micro_bags add column steer text;

-- Repair both ways.
alter table repairs
    add column owner text not null default 'initiator' check (owner in ('initiator', 'partner')),
    add column follows uuid unique references repairs (id) on delete set null,
    -- Rated high and not yet chosen between a break and going on (private to each rater).
    add column initiator_unsettled boolean not null default false,
    add column partner_unsettled boolean not null default false,
    -- Ended because someone didn't feel safe: the room only reads that it's paused.
    add column quiet boolean not null default false;
alter table repairs drop constraint repairs_step_check;
alter table repairs add constraint repairs_step_check
    check (step in ('invited', 'regulate', 'break', 'own_it', 'felt', 'recheck', 'reflect',
                    'confirm', 'empathy', 'next_time', 'pick', 'agree', 'close', 'done'));
alter table repairs drop constraint repairs_picked_line_check;
alter table repairs add constraint repairs_picked_line_check
    check (picked_line in ('initiator', 'partner', 'both'));
alter table repair_texts drop constraint repair_texts_kind_check;
alter table repair_texts add constraint repair_texts_kind_check
    check (kind in ('moment', 'own_it', 'felt', 'reflect', 'missing', 'empathy', 'plan'));
