-- Neutral identities: a person and a room are Attune's own ids (uuid), mapped to each chat
-- transport's ids (stored as text). Release 0.1 stored Discord snowflakes everywhere; this
-- converts every one of them in place, so a database of 0.1 keeps working (old buttons
-- included: custom ids name rows by uuid, and those stay).

-- 1. Everyone 0.1 ever named gets a row in people, even people it only knew from an
--    invitation or a job. 0 is the "forgotten" placeholder of couples.created_by.
insert into people (user_id, created_at, updated_at)
select distinct u, now(), now() from (
    select inviter_id as u from invitations
    union select invitee_id from invitations
    union select created_by from couples
    union select user_id from partners
    union select user_id from jobs where user_id is not null
    union select user_id from checkin_posts
    union select user_id from checkin_answers
    union select user_id from micro_prompts
    union select initiator from repairs
    union select partner from repairs
    union select closed_by from repairs where closed_by is not null
    union select writer from repair_texts
    union select user_id from agreement_revisits
) ids where u <> 0
on conflict (user_id) do nothing;

alter table people add column id uuid not null default gen_random_uuid();

-- 2. The map from a transport's id to a person.
create table identities (
    transport   text not null check (transport in ('discord', 'matrix')),
    external_id text not null,
    person_id   uuid not null,
    created_at  timestamptz not null default now(),
    primary key (transport, external_id)
);
insert into identities (transport, external_id, person_id)
select 'discord', user_id::text, id from people;

-- 3. Rooms: where a couple lives. `space` is the Discord server (guild) of a channel.
create table rooms (
    id          uuid primary key,
    transport   text not null check (transport in ('discord', 'matrix')),
    external_id text not null,
    space       text,
    created_at  timestamptz not null default now(),
    unique (transport, external_id)
);
insert into rooms (id, transport, external_id, space)
select gen_random_uuid(), 'discord', channel_id::text, min(guild_id)::text
from (select channel_id, guild_id from couples union all select channel_id, guild_id from invitations) r
group by channel_id;

-- 4. A helper: the person of a 0.1 user id (null for 0 or unknown).
create function pg_temp.person_of(u bigint) returns uuid language sql stable as
    $$ select id from people where user_id = u $$;

-- 5. Every user column becomes a person id.
alter table partners drop constraint partners_user_id_fkey;
alter table partners add column person_id uuid;
update partners set person_id = pg_temp.person_of(user_id);
alter table partners drop constraint partners_pkey;
drop index partners_by_user;
alter table partners drop column user_id;
alter table partners alter column person_id set not null;
alter table partners add primary key (couple_id, person_id);
create index partners_by_person on partners (person_id);

alter table couples add column room_id uuid references rooms (id);
update couples c set room_id = r.id from rooms r
    where r.transport = 'discord' and r.external_id = c.channel_id::text;
alter table couples alter column room_id set not null;
drop index couples_one_live_per_channel;
create unique index couples_one_live_per_room on couples (room_id) where ended_at is null;
alter table couples add column created_by_person uuid;
update couples set created_by_person = pg_temp.person_of(created_by);
alter table couples drop column created_by;
alter table couples rename column created_by_person to created_by;
alter table couples drop column guild_id, drop column channel_id;

alter table invitations add column room_id uuid references rooms (id);
update invitations i set room_id = r.id from rooms r
    where r.transport = 'discord' and r.external_id = i.channel_id::text;
alter table invitations alter column room_id set not null;
alter table invitations add column inviter uuid, add column invitee uuid;
update invitations set inviter = pg_temp.person_of(inviter_id), invitee = pg_temp.person_of(invitee_id);
alter table invitations alter column inviter set not null, alter column invitee set not null;
drop index invitations_pending;
alter table invitations drop column guild_id, drop column channel_id,
    drop column inviter_id, drop column invitee_id;
create index invitations_pending on invitations (room_id, invitee) where status = 'pending';

-- Jobs: the column, the payload's "user" and the dedupe key that embeds it.
alter table jobs add column person_id uuid;
update jobs set person_id = pg_temp.person_of(user_id) where user_id is not null;
update jobs set
    payload = jsonb_set(payload, '{user}', to_jsonb(person_id::text)),
    dedupe_key = regexp_replace(dedupe_key, ':' || user_id::text || '(:|$)', ':' || person_id::text || '\1')
    where user_id is not null and person_id is not null;
alter table jobs drop column user_id;

alter table checkin_posts add column person_id uuid;
update checkin_posts set person_id = pg_temp.person_of(user_id);
alter table checkin_posts drop constraint checkin_posts_pkey;
alter table checkin_posts drop column user_id;
alter table checkin_posts alter column person_id set not null;
alter table checkin_posts add primary key (couple_id, person_id, slot, local_date);
alter table checkin_posts alter column message_id type text using message_id::text;

alter table checkin_answers add column person_id uuid;
update checkin_answers set person_id = pg_temp.person_of(user_id);
alter table checkin_answers drop constraint checkin_answers_pkey;
alter table checkin_answers drop column user_id;
alter table checkin_answers alter column person_id set not null;
alter table checkin_answers add primary key (checkin_id, person_id);

alter table checkins alter column reveal_message_id type text using reveal_message_id::text;
alter table checkins rename column reveal_message_id to reveal_message;

alter table micro_prompts add column person_id uuid;
update micro_prompts set person_id = pg_temp.person_of(user_id);
alter table micro_prompts drop column user_id;
alter table micro_prompts alter column person_id set not null;
alter table micro_prompts alter column message_id type text using message_id::text;

alter table repairs add column initiator_p uuid, add column partner_p uuid, add column closed_by_p uuid;
update repairs set initiator_p = pg_temp.person_of(initiator), partner_p = pg_temp.person_of(partner),
    closed_by_p = pg_temp.person_of(closed_by);
alter table repairs drop column initiator, drop column partner, drop column closed_by;
alter table repairs rename column initiator_p to initiator;
alter table repairs rename column partner_p to partner;
alter table repairs rename column closed_by_p to closed_by;
alter table repairs alter column initiator set not null, alter column partner set not null;

alter table repair_texts add column writer_p uuid;
update repair_texts set writer_p = pg_temp.person_of(writer);
alter table repair_texts drop constraint repair_texts_pkey;
alter table repair_texts drop column writer;
alter table repair_texts rename column writer_p to writer;
alter table repair_texts alter column writer set not null;
alter table repair_texts add primary key (repair_id, writer, kind, round);

alter table agreement_revisits add column person_id uuid;
update agreement_revisits set person_id = pg_temp.person_of(user_id);
alter table agreement_revisits drop constraint agreement_revisits_pkey;
alter table agreement_revisits drop column user_id;
alter table agreement_revisits alter column person_id set not null;
alter table agreement_revisits add primary key (agreement_id, person_id);

alter table recaps alter column message_id type text using message_id::text;

-- 6. Finally the person's own row: its id becomes the key; the snowflake lives on only in
--    identities.
alter table people drop constraint people_pkey;
alter table people drop column user_id;
alter table people add primary key (id);
alter table people alter column id drop default;
alter table identities add foreign key (person_id) references people (id) on delete cascade;
alter table partners add foreign key (person_id) references people (id);
-- A person has at most one id per transport.
alter table identities add constraint identities_one_per_transport unique (person_id, transport);
