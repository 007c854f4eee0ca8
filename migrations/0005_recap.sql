-- The weekly recap. (0003 and 0004 are reserved for other branches.)

-- One recap per couple and ISO week (of the recap day, in the home zone): the unique key that
-- makes a second post impossible, across retries and restarts. message_id stays null until
-- Discord confirmed the post; a retry then re-sends with the same nonce.
create table recaps (
    couple_id   uuid not null references couples (id) on delete cascade,
    iso_year    integer not null,
    iso_week    integer not null check (iso_week between 1 and 53),
    nonce       text not null,
    message_id  bigint,
    posted_at   timestamptz,
    primary key (couple_id, iso_year, iso_week)
);

-- The recap reads a couple's revealed rounds of one week.
create index checkins_revealed_by_couple on checkins (couple_id, opened_at) where status = 'revealed';
