-- The customer list by predicted CLV within a segment (GET
-- /api/v1/customers?segment=…&sort=clv): the index on clv alone (0002)
-- serves the whole list, highest first, but a segment's customers came
-- from reading it down to them: 29 ms a page for "At Risk" among 50,000
-- customers, whose CLVs are low. By segment then CLV, in the order the
-- list reads (NULLS LAST, as 0002's), a page is one range of this index.
CREATE INDEX customer_analytics_segment_clv ON customer_analytics (segment, clv DESC NULLS LAST);
