-- Number 0009 is another branch's migration; this placeholder keeps the
-- numbers contiguous until that branch is merged, and is deleted then.
SELECT 1;
