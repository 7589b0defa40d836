-- The ownership epoch of each consumer group and topic: handed out, one
-- higher each time, when a processor claims partitions, and stored with the
-- claimed partitions' offsets. A batch of an older epoch (a zombie's) is
-- refused. The epoch never goes backwards, unlike a Kafka group's
-- generation, which starts again at 1 when the group is recreated.
CREATE TABLE consumer_epochs (
    group_id TEXT NOT NULL,
    topic    TEXT NOT NULL,
    epoch    INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic)
);
