-- Reserved for a change made on another branch at the same time; replaced by
-- that change's own migration of this number when both are merged.
SELECT 1;
