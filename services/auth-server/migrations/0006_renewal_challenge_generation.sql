-- Up Migration
-- The bot's generation when the challenge was issued: a renewal may only move the bot
-- on from there, so of concurrent renewals presenting one generation exactly one wins
-- (a later one is not mistaken for a daemon retrying after a crash). NULL for node
-- challenges and for challenges issued before this column existed.
ALTER TABLE renewal_challenges ADD COLUMN bot_generation bigint;

-- Down Migration
ALTER TABLE renewal_challenges DROP COLUMN bot_generation;
