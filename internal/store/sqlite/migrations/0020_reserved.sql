-- Reserved for a migration of another line of work; this placeholder keeps
-- the numbering contiguous until that migration is merged, and is then dropped.
SELECT 1;
