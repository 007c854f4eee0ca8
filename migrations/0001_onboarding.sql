-- People, couples bound to a channel, and invitations.

-- One row per Discord user who has used Attune; their zone belongs to them, not to a couple.
create table people (
    user_id     bigint primary key,
    time_zone   text,
    created_at  timestamptz not null,
    updated_at  timestamptz not null
);

create table couples (
    id          uuid primary key,
    guild_id    bigint not null,
    channel_id  bigint not null,
    -- The partner who ran setup; their zone is the couple's "home" zone (weekly recap).
    created_by  bigint not null,
    created_at  timestamptz not null,
    ended_at    timestamptz,
    paused_until timestamptz
);
-- One live couple per channel; an ended couple frees the channel.
create unique index couples_one_live_per_channel on couples (channel_id) where ended_at is null;

create table partners (
    couple_id   uuid not null references couples (id) on delete cascade,
    user_id     bigint not null references people (user_id),
    seat        smallint not null check (seat in (1, 2)),
    primary key (couple_id, user_id),
    unique (couple_id, seat)
);
create index partners_by_user on partners (user_id);

create table invitations (
    id          uuid primary key,
    guild_id    bigint not null,
    channel_id  bigint not null,
    inviter_id  bigint not null,
    invitee_id  bigint not null,
    status      text not null check (status in ('pending', 'accepted', 'declined', 'cancelled')),
    created_at  timestamptz not null,
    expires_at  timestamptz not null,
    decided_at  timestamptz,
    couple_id   uuid references couples (id) on delete set null
);
create index invitations_pending on invitations (channel_id, invitee_id) where status = 'pending';
