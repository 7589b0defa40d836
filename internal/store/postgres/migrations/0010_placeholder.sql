-- Placeholder: migration 0010 is added on another branch (it replaces this file when
-- the branches meet). Migrations are numbered without gaps.
SELECT 1;
