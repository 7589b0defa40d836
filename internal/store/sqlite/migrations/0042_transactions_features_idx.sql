-- The fraud model's trainer reads each partition's latest transactions
-- that carry a feature vector (about one in fourteen), walking the offset
-- index backward (TrainingSample, LabelledFeatures); through the index of
-- every transaction it read fourteen rows for each one it kept. This
-- index holds only the rows with a vector.
CREATE INDEX transactions_features_idx ON transactions (kafka_partition, kafka_offset) WHERE features IS NOT NULL;
