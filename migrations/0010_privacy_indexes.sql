-- Erasure and pruning on a big database (issue 14). Additive only: indexes, so a binary of
-- the previous release keeps running against this schema.

-- `/attune forget` deletes a person's rows by these columns; without an index each delete
-- reads its whole table, and on a large `jobs` table that takes longer than a person may wait
-- for an answer. Columns already covered are left out: light_days (its primary key starts
-- with person_id), identities (identities_one_per_transport), weekly_answers
-- (weekly_answers_by_person) and partners (partners_by_person).
create index if not exists jobs_by_person on jobs (person_id) where person_id is not null;
create index if not exists checkin_answers_by_person on checkin_answers (person_id);
create index if not exists checkin_posts_by_person on checkin_posts (person_id);
create index if not exists micro_prompts_by_person on micro_prompts (person_id);
create index if not exists repair_texts_by_writer on repair_texts (writer);
create index if not exists agreement_revisits_by_person on agreement_revisits (person_id);
create index if not exists repairs_by_initiator on repairs (initiator);
create index if not exists repairs_by_partner on repairs (partner);
create index if not exists invitations_by_inviter on invitations (inviter);
create index if not exists invitations_by_invitee on invitations (invitee);
-- Forgetting the person who set a couple up clears its `created_by`.
create index if not exists couples_by_creator on couples (created_by) where created_by is not null;

-- Finished jobs are pruned after `scheduler.keep_finished_days`, oldest first, in batches:
-- this finds them without reading the jobs still to come. A cancelled job has no
-- finished_at; its creation time stands in.
create index if not exists jobs_finished on jobs ((coalesce(finished_at, created_at)))
    where status in ('done', 'missed', 'failed', 'cancelled');
